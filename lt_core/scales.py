"""The scales a notebook runs at, and where each gets its parameters.

``tiny``, ``quick`` and ``paper`` are params files written by hand (``params/<scale>/``).
``smoke`` is computed: the paper's params passed through ``smoke`` below, which keeps every
network, dataset, study, variant, measure and section and shrinks only sizes (a training is
2 epochs or 4 iterations, 2 levels, 1 seed, each grid cut to its first two values, small
batches). It exists to execute every code path of the paper scale in CI on 2 cores, on the
synthetic data of ``python -m lt_core data --smoke`` (``data.smoke``); its numbers mean
nothing and its pages say so. Because it is derived, it cannot drift from ``paper``.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from . import data, experiments
from .config import ConfigError, read_yaml
from .files import resource
from .store import training_off

SCALES = ("tiny", "quick", "smoke", "paper")
PARAMS = resource("params", "_params")

SMOKE_LEVELS = 2  # pruning levels (levels, prune powers) after the dense level 0
SMOKE_EPOCHS = 2.0  # a training given in epochs; every other epoch count scales with it
SMOKE_ITERATIONS = 4  # a training given in iterations
SMOKE_GRID = 2  # values kept of each grid (find, eval, c, filter fractions)
# A few steps can neither learn nor settle BatchNorm's statistics: at smoke scale only a
# non-finite loss marks a run diverged (Train.divergence).
SMOKE_DIVERGENCE = {"divergence": "non_finite"}


def params(scale: str, notebook: str, root: Path = PARAMS) -> dict[str, Any] | None:
    """The parameters of ``notebook`` (e.g. ``05_decoupling``) at ``scale``; None if that
    scale has no params file for it (at paper scale under ``LT_TRAIN=none``: if no pack holds
    any of its runs)."""
    if scale not in SCALES:
        raise ConfigError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
    path = root / ("paper" if scale == "smoke" else scale) / f"{notebook}.yaml"
    if not path.exists():
        return None
    values = read_yaml(path)
    if scale == "paper" and training_off() and experiments.experiment_of(values) not in \
            experiments.READERS:  # TRAIN=none: what the packs hold of it, if anything
        return experiments.pack_params(notebook)
    return smoke(values, str(smoke_data_root())) if scale == "smoke" else values


def smoke_data_root() -> Path:
    """Where a smoke run reads its data: ``$LT_DATA`` where set (real data, or the files of
    ``python -m lt_core data --smoke``), else synthetic files written once under the cache
    (``$LT_CACHE``, default ``~/.cache/lt_core``)."""
    if os.environ.get("LT_DATA"):
        return Path(os.environ["LT_DATA"])
    return data.smoke.write(data.cache_dir() / "smoke-data", replace_stale=True)


def notebooks(scale: str, root: Path = PARAMS) -> list[str]:
    """The notebooks that have parameters at ``scale``, in order."""
    folder = root / ("paper" if scale == "smoke" else scale)
    return sorted(p.stem for p in folder.glob("*.yaml"))


def source(scale: str, notebook: str, root: Path = PARAMS) -> str:
    """Where a page's parameters come from, in words."""
    if scale == "smoke":
        return f"params/paper/{notebook}.yaml, shrunk by lt_core.scales.smoke"
    return f"params/{scale}/{notebook}.yaml"


def smoke_batch(batch_size: int) -> int:
    """A paper batch size at smoke scale: distinct values stay distinct (128, 256, 512 ->
    8, 16, 32)."""
    return max(8, int(batch_size) // 16)


def smoke(values: dict[str, Any], data_root: str | None = None) -> dict[str, Any]:
    """Paper-scale params at smoke scale: the same experiment with only its sizes shrunk;
    ``data_root``: where its data are, unless the params name a root."""
    name = experiments.experiment_of(values)
    v = copy.deepcopy(values)
    if name in experiments.READERS:
        return v
    v["seeds"] = list(v.get("seeds", [0]))[:1]
    for section in (v, v.get("a9") or {}):
        if data_root is not None and section is not None:
            section["data"] = {"root": data_root, **section.get("data", {})}
    if name == "z19_iterative":
        pruning = v.setdefault("pruning", {})
        pruning["levels"] = min(pruning.get("levels", 24), SMOKE_LEVELS)
        v["train"] = _iterations(v.get("train", {}), default_batch=60)
    elif name == "z19_supermasks":
        v["max_power"] = min(v.get("max_power", 24), SMOKE_LEVELS)
        v["dense"] = _iterations(v.get("dense", {}), default_batch=60)
        learned = v.setdefault("learned", {})
        learned["init_values"] = list(learned.get("init_values", [-5.0, -2.0]))[:SMOKE_GRID]
        learned.update(_iterations(learned, default_batch=250))
        learned["samples"] = min(learned.get("samples", 10), 2)
    elif name == "h21_decoupling":
        v = _h21(v)
    elif name == "l23_layerwise":
        v = _l23(v)
    return v


def _iterations(train: dict, default_batch: int) -> dict:
    """A training section at smoke length: a few iterations, evaluated every other one."""
    out = {k: val for k, val in train.items() if k not in ("epochs", "milestones",
                                                          "warmup_epochs", "stop_epoch")}
    out.update(iterations=SMOKE_ITERATIONS, eval_every=2,
               batch_size=smoke_batch(train.get("batch_size", default_batch)),
               **SMOKE_DIVERGENCE)
    return out


def _epochs(train: dict, default_batch: int) -> tuple[dict, float]:
    """A training section given in epochs at SMOKE_EPOCHS, and the factor every other epoch
    count of the experiment scales by (milestones, warmup, truncation, rewind points)."""
    if train.get("epochs") is None:
        return _iterations(train, default_batch), 1.0
    f = SMOKE_EPOCHS / float(train["epochs"])
    out = dict(train, epochs=SMOKE_EPOCHS,
               batch_size=smoke_batch(train.get("batch_size", default_batch)),
               **SMOKE_DIVERGENCE)
    out["milestones"] = [m * f for m in train.get("milestones", [])]
    for key in ("warmup_epochs", "stop_epoch"):
        if train.get(key):
            out[key] = train[key] * f
    return out, f


def _h21(v: dict) -> dict:
    v["train"], f = _epochs(v.get("train", {}), 256)
    v["levels"] = min(v.get("levels", 15), SMOKE_LEVELS)
    v["lpr_levels"] = sorted({min(lv, v["levels"]) for lv in v.get("lpr_levels", [5, 10])})
    cut = {}
    for s in v.get("studies", []):
        scale = _value_scaler(s["vary"], f)
        for side in ("find", "eval"):
            s[side] = [scale(x) for x in s[side][:SMOKE_GRID]]
        for phase in ("find_phase", "eval_phase"):
            if phase in s:
                s[phase] = {k: _value_scaler(k, f)(x) for k, x in s[phase].items()}
        if s.get("rewind_epochs"):
            s["rewind_epochs"] = s["rewind_epochs"] * f
        if s.get("filters"):
            s["filters"] = s["filters"][:SMOKE_GRID]
        cut[s["name"]] = (s, scale)
    for c in v.get("constrained", []):  # its values must stay in the cut grids
        s, scale = cut[c["study"]]
        bad = scale(c["bad"]) if scale(c["bad"]) in s["find"] else s["find"][-1]
        good = scale(c["good"])
        if good not in s["find"] or good == bad:
            good = next(x for x in s["find"] if x != bad)
        ev = scale(c["eval"])
        c.update(good=good, bad=bad, eval=ev if ev in s["eval"] else s["eval"][0])
    if v.get("a9"):
        v["a9"] = _h21({**v["a9"], "seeds": list(v["a9"].get("seeds", [0]))[:1]})
    return v


def _value_scaler(field: str, f: float):
    """How one hyperparameter's values shrink: batch sizes to smoke batches, epoch counts
    by the length factor, the rest (learning rates, weight decays) unchanged."""
    if field == "batch_size":
        return lambda x: None if x is None else smoke_batch(x)
    if field in ("stop_epoch", "warmup_epochs"):
        return lambda x: None if x is None else x * f
    return lambda x: x


def _l23(v: dict) -> dict:
    # L23's per-network settings are lt_core.l23.PAPER, not in the params file: its
    # length goes to a few iterations with no learning-rate drops, and rewinding to iteration 1.
    v["train"] = {**v.get("train", {}), "iterations": SMOKE_ITERATIONS, "milestones": [],
                  "eval_every": 2, "batch_size": smoke_batch(v.get("train", {}).get(
                      "batch_size", 128)), **SMOKE_DIVERGENCE}
    v["levels"] = SMOKE_LEVELS
    v["rewind_iteration"] = 1
    overlap = v.setdefault("overlap", {})
    overlap["level"] = min(overlap.get("level", 15), SMOKE_LEVELS)
    overlap["reinit_seeds"] = list(overlap.get("reinit_seeds", [0, 1, 2]))[:1]
    overlap["seed"] = v["seeds"][0]
    return v
