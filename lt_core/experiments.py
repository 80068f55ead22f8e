"""Which experiment a params file describes, decided in one place.

A params file names its experiment (``experiment: h21_decoupling``); a file without the key
(a user's) is recognised by the fields only that experiment has. The CLI, the notebook
runner, the scorecard and the departures all ask here.

* ``z19_iterative``: Z19's iterative pruning (``config.Experiment``; notebooks 01-03)
* ``z19_supermasks``: Z19's heuristic and learned supermasks (``config.Supermasks``; 04)
* ``h21_decoupling``: H21's H_find / H_eval experiment (``decoupling.Decoupling``; 05)
* ``l23_layerwise``: L23's importance measures (``layerwise.Layerwise``; 06)
* ``scorecard``, ``index``: pages that only read the store (09, the entry page)
"""

from __future__ import annotations

from typing import Any

from .config import ConfigError

EXPERIMENTS = ("z19_iterative", "z19_supermasks", "h21_decoupling", "l23_layerwise")
READERS = ("scorecard", "index")  # pages with no experiment of their own
KINDS = EXPERIMENTS + READERS


def config_class(kind: str) -> type:
    """The config dataclass of an experiment kind."""
    from . import config, decoupling, layerwise

    return {"z19_iterative": config.Experiment, "z19_supermasks": config.Supermasks,
            "h21_decoupling": decoupling.Decoupling, "l23_layerwise": layerwise.Layerwise}[kind]


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
    from .config import load as load_config

    return kind, load_config(values, config_class(kind))
