"""Which experiment a params file describes, decided in one place.

A params file names its experiment (``experiment: h21_decoupling``); a file without the key
(a user's) is recognised by the fields only that experiment has. The CLI, the notebook
runner, the scorecard and the departures all ask here.

* ``z19_iterative``: Z19's iterative pruning (``z19.config.Experiment``; notebooks 01-03)
* ``z19_supermasks``: Z19's heuristic and learned supermasks (``z19.config.Supermasks``; 04)
* ``h21_decoupling``: H21's H_find / H_eval experiment (``h21.Decoupling``; 05)
* ``l23_layerwise``: L23's importance measures (``l23.Layerwise``; 06)
* ``scorecard``, ``index``: pages that only read the store (09, the entry page)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from . import config as config_mod
from .config import ConfigError

EXPERIMENTS = ("z19_iterative", "z19_supermasks", "h21_decoupling", "l23_layerwise")
READERS = ("scorecard", "index")  # pages with no experiment of their own
KINDS = EXPERIMENTS + READERS


def registry() -> dict[str, tuple[type, Callable[..., Result]]]:
    """Each experiment once, by its config class's ``KIND``: the class and its
    ``run(config, progress) -> Result``."""
    from .papers import h21, l23, z19

    entries = [(z19.Experiment, z19.run_iterative), (z19.Supermasks, z19.supermasks.run),
               (h21.Decoupling, h21.run), (l23.Layerwise, l23.run)]
    return {cls.KIND: (cls, run) for cls, run in entries}


class Result(Protocol):
    """What every experiment's result answers (the pages, the CLI and the scorecard ask)."""

    def describe(self, scale: str) -> str: ...  # Markdown: scale, data, device, departures
    def failures(self) -> list[str]: ...  # one line per failed training
    def departures(self) -> list: ...  # ``departures.Departure``s from the paper's settings
    def claims(self) -> pd.DataFrame: ...  # the paper's claims (or numbers), judged
    def scorecard_rows(self, scale: str) -> list[dict]: ...  # ``scorecard.COLUMNS``
    def info(self) -> dict: ...  # networks, data, seeds, env: the entry page's row
    def report(self) -> str: ...  # plain-text tables for the command line


def from_pack(kind: str, cfg: Any, value: dict, store: Any) -> Result:
    """The result of experiment ``kind`` that a pack carries (its ``to_pack`` view), reading
    its runs from ``store``: no data and no training needed."""
    from .papers import l23, z19

    readers = {"z19_iterative": z19.experiment.from_pack, "z19_supermasks": z19.supermasks.from_pack,
               "l23_layerwise": l23.experiment.from_pack}
    if kind not in readers:
        raise ValueError(f"no pack view of {kind} results")
    return readers[kind](cfg, value, store)


def config_class(kind: str) -> type:
    """The config dataclass of an experiment kind."""
    return registry()[kind][0]


def run(params: dict[str, Any] | Any, progress: bool = True) -> Result:
    """Run (or resume) the experiment a params mapping (or a loaded config) describes:
    every notebook's and the CLI's one entry call."""
    if isinstance(params, dict):
        params = config(params)
    run_fn = next(fn for cls, fn in registry().values() if isinstance(params, cls))
    return run_fn(params, progress)


def kind_of(values: dict[str, Any]) -> str:
    """The experiment a params mapping describes: its ``experiment`` field, else inferred."""
    named = values.get("experiment")
    if named is not None:
        if named not in KINDS:
            raise ConfigError(f"field 'experiment' must be one of {', '.join(KINDS)} "
                              f"(got {str(named)[:40]!r})")
        return named
    keys = set(values)
    if keys & {"studies", "constrained", "a9", "lpr_levels"}:
        return "h21_decoupling"
    if keys & {"learned", "max_power", "criteria", "dense"}:
        return "z19_supermasks"
    if keys & {"measures", "overlap", "rewind_iteration"}:
        return "l23_layerwise"
    return "z19_iterative"  # the default experiment (Z19's Figure 1 at the paper's settings)


def load(values: dict[str, Any]) -> tuple[str, Any]:
    """(kind, config) of a params mapping; readers' config is the mapping itself."""
    kind = kind_of(values)
    if kind in READERS:
        return kind, values
    return kind, config_mod.load(values, config_class(kind))


def config(source: str | Path | dict[str, Any]) -> Any:
    """The config of a params file or mapping, as the class of the experiment it describes
    (errors name the file)."""
    values = source if isinstance(source, dict) else config_mod.read_yaml(source)
    kind = kind_of(values)
    if kind in READERS:
        raise ConfigError(f"experiment {kind!r} is a page that reads the store; it has no "
                          "config of its own")
    return config_mod.load(source, config_class(kind))
