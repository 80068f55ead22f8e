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

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import config as config_mod
from . import packfile, view
from . import store as store_mod
from .config import ConfigError
from .papers import h21, l23, z19
from .result import Result

EXPERIMENTS = ("z19_iterative", "z19_supermasks", "h21_decoupling", "l23_layerwise")
READERS = ("scorecard", "index")  # pages with no experiment of their own
NAMES = EXPERIMENTS + READERS


def registry() -> dict[str, tuple[type, Callable[..., Result]]]:
    """Each experiment once, by its config class's ``EXPERIMENT``: the class and its
    ``run(config, progress) -> Result``."""
    entries = [(z19.Experiment, z19.run_iterative), (z19.Supermasks, z19.supermasks.run),
               (h21.Decoupling, h21.run), (l23.Layerwise, l23.run)]
    return {cls.EXPERIMENT: (cls, run) for cls, run in entries}


def from_pack(name: str, cfg: Any, value: dict, store: Any) -> Result:
    """The result of experiment ``name`` that a pack carries (its ``to_pack`` view), reading
    its runs from ``store``: no data and no training needed."""
    readers = {"z19_iterative": z19.experiment.from_pack, "z19_supermasks": z19.supermasks.from_pack,
               "l23_layerwise": l23.experiment.from_pack}
    if name not in readers:
        raise ValueError(f"no pack view of {name} results")
    return readers[name](cfg, value, store)


def config_class(name: str) -> type:
    """The config dataclass of an experiment name."""
    return registry()[name][0]


def run(params: dict[str, Any] | Any, progress: bool = True) -> Result:
    """Run (or resume) the experiment a params mapping (or a loaded config) describes:
    every notebook's and the CLI's one entry call. With ``LT_TRAIN=none`` nothing trains:
    the result the shipped packs hold for exactly this experiment (no data needed), else
    what the store holds (``store.NotComputed`` names what is missing)."""
    if isinstance(params, dict):
        params = config(params)
    if store_mod.training_off():
        held = _packed(params)
        if held is not None:
            return held
    run_fn = next(fn for cls, fn in registry().values() if isinstance(params, cls))
    return run_fn(params, progress)


def experiment_of(values: dict[str, Any]) -> str:
    """The experiment a params mapping describes: its ``experiment`` field, else inferred."""
    named = values.get("experiment")
    if named is not None:
        if named not in NAMES:
            raise ConfigError(f"field 'experiment' must be one of {', '.join(NAMES)} "
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
    """(name, config) of a params mapping; readers' config is the mapping itself."""
    name = experiment_of(values)
    if name in READERS:
        return name, values
    return name, config_mod.load(values, config_class(name))


def config(source: str | Path | dict[str, Any]) -> Any:
    """The config of a params file or mapping, as the class of the experiment it describes
    (errors name the file)."""
    values = source if isinstance(source, dict) else config_mod.read_yaml(source)
    name = experiment_of(values)
    if name in READERS:
        raise ConfigError(f"experiment {name!r} is a page that reads the store; it has no "
                          "config of its own")
    return config_mod.load(source, config_class(name))


# -- results the packs hold (paper scale, read without data or training) ---------------------
PAPER = "paper"


def pack_views(notebook: str, packs: list[packfile.PackFile] | None = None) -> list[tuple]:
    """(pack, experiment entry) of every pack's paper-scale result of ``notebook``
    (default: the shipped packs), its view in today's column names (``view.current``)."""
    packs = packfile.shipped() if packs is None else packs
    return [(p, {**e, "view": view.current(e["view"])}) for p in packs
            for e in p.manifest.get("experiments", [])
            if e.get("notebook") == notebook and e.get("scale") == PAPER and e.get("view")]


def pack_params(notebook: str, packs: list[packfile.PackFile] | None = None
                ) -> dict[str, Any] | None:
    """The params of what the packs hold of ``notebook`` at the papers' settings (None:
    nothing): the paper's, restricted to the union of their networks and seeds."""
    return _union_params([e for _, e in pack_views(notebook, packs)])


def _union_params(entries: list[dict]) -> dict[str, Any] | None:
    """The params of a notebook's pack entries: the first's, with their networks and seeds
    joined (None: no entry)."""
    if not entries:
        return None
    params = json.loads(json.dumps(entries[0]["params"]))
    for name in ("models", "seeds"):
        values = [v for e in entries for v in e["params"].get(name, [])]
        if values:
            params[name] = sorted(set(values), key=values.index) if name == "models" \
                else sorted(set(values))
    if all(isinstance(e["params"].get("levels"), int) for e in entries):  # packs of part of it
        params["levels"] = max(e["params"]["levels"] for e in entries)
    return params


def from_packs(notebook: str, packs: list[packfile.PackFile] | None = None) -> Result | None:
    """The paper-scale result of ``notebook`` that the packs hold (None: none does), read
    without data or training: its networks and seeds are those the packs hold."""
    entries = [e for _, e in pack_views(notebook, packs)]
    if not entries:
        return None
    value = entries[0]["view"]
    for e in entries[1:]:
        value = _join(value, e["view"])
    store = store_mod.RunStore(packs=packfile.shipped() if packs is None else packs,
                               local=False)
    return from_pack(entries[0]["kind"], config(_union_params(entries)), value, store)


def _join(a, b):
    """Two views of one experiment joined: frames' rows and lists once each, dicts by key."""
    if isinstance(a, dict) and {"columns", "rows"} <= set(a):  # a frame (view.frame_to)
        if a["columns"] != b["columns"]:
            raise packfile.PackError(f"two packs' views of one experiment have other columns "
                                     f"({a['columns']} and {b['columns']})")
        return {**a, "rows": a["rows"] + [r for r in b["rows"] if r not in a["rows"]]}
    if isinstance(a, dict):
        return {k: _join(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k))
                for k in {**a, **b}}
    if isinstance(a, list):
        return a + [x for x in b if x not in a]
    return a


def _packed(cfg: Any) -> Result | None:
    """The shipped packs' result of exactly the experiment ``cfg`` (where it trains and keeps
    its runs aside), or None."""
    notebooks = {e["notebook"] for p in packfile.shipped() for e in p.manifest.get(
        "experiments", []) if e.get("kind") == cfg.EXPERIMENT and e.get("scale") == PAPER}
    runtime = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(config_mod.Runtime)}
    for notebook in sorted(notebooks):
        held = config(pack_params(notebook))
        if dataclasses.replace(held, **runtime) == cfg:
            return from_packs(notebook)
    return None
