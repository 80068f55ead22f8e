"""H21: the hyperparameters that find a mask (H_find) and those that evaluate it (H_eval), on
the one pruning loop (paper_specs.md Notebook 5).

* **Find runs**: iterative global magnitude pruning (``ceil(fraction x remaining)`` of all
  prunable weights pooled per level) trained under H_find; the mask of every level is kept.
* **Eval runs**: the find run's initial weights with its mask M^(n), trained once under
  H_eval (``lottery.Run`` with ``start_mask``). A pair whose training would be identical to
  one the find runs already did (coupled: H_find = H_eval) reads that training instead.
* **Random baselines** at every level, trained under H_eval for the coupled pairs (H21 A2:
  "random baselines have the same LR_find and LR_eval as the value in the title"): *global
  random* (a uniformly random subset of all prunable weights, as many as the ticket keeps)
  and *preserve LPR* (random within each layer, the ticket's per-layer counts). Both are runs
  of the loop whose random masks nest from level to level; a nested uniform subset is a
  uniform subset, so each level's mask is distributed as a one-shot draw.
* **LPR-constrained runs** (Fig 7): global magnitude with each layer's kept count taken from
  another find run at the same level (``selection="reference"``), evaluated under one H_eval.
* **Study variants** (Fig 4, 8, 9): per-phase overrides (warmup, weight decay 0, a schedule
  truncated at ``stop_epoch``), late rewinding (both phases start from the find run's state
  at epoch ``rewind_epochs``) and LR rewinding (find: the trained weights go on and only the
  schedule restarts; eval: the find run's trained weights at level n-1, masked).
* **One-shot structured pruning** (Fig 5): a dense find run; the units (conv filters, hidden
  neurons) with the smallest mean |w| over all eligible layers pooled are masked, with their
  BatchNorm scale and shift; evaluated from the init under H_eval.

A study varies one hyperparameter (``vary``): every find value x every eval value, the
others at the shared ``train`` settings and the phase overrides. Members that differ only in
learning rate or weight decay train as one population; each batch size is its own. Every
training is a run in the store: an interrupted experiment resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import pandas as pd
import torch
from torch import nn

from . import analysis, engine, lottery, models, schedule
from . import config as config_mod
from . import data as data_mod
from .config import Arm, ConfigError, Train, key_dict
from .store import RunStore, unpack_mask

Vary = Literal["lr", "batch_size", "weight_decay", "stop_epoch"]

# Study names the notebook and the scorecard look for, and the H21 figure each one is.
FIGURES = {
    "lr": "Fig 2a/d, A2", "batch_size": "Fig 2b/e, A4", "weight_decay": "Fig 2c/f, A6",
    "wd0": "Fig 8", "late_rewinding": "Fig 4a", "warmup": "Fig 4b", "lr_rewinding": "Fig 4c",
    "early_pruning": "Fig 9", "early_pruning_low_lr": "Fig 9",
    "structured_lr": "Fig 5a", "structured_batch_size": "Fig 5b",
    "structured_weight_decay": "Fig 5c", "tiny_imagenet": "Fig A9",
}

# H21's setting as paper_specs.md 5.1 reconstructs it (ResNet-20 on CIFAR-10 is ASSUMED), for
# the one sentence that says how a run departs from it.
PAPER = {"model": "resnet20", "dataset": "cifar10", "epochs": 110.0, "milestones": [55.0, 83.0],
         "optimizer": "sgd", "momentum": 0.9, "batch_size": 256, "weight_decay": 1e-4,
         "augment": "crop_flip", "min_levels": 15, "min_seeds": 3}


@dataclass(frozen=True)
class Phase:
    """Overrides of the shared training settings in one phase (None: the shared value)."""

    lr: float | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    warmup_epochs: float | None = None
    stop_epoch: float | None = None  # Fig 9: find training truncated at this epoch


@dataclass(frozen=True)
class Study:
    """One figure family: ``vary`` takes each ``find`` value to find masks and each ``eval``
    value to train them (None: the phase's own value, e.g. a full-length evaluation)."""

    name: str
    vary: Vary
    find: list[float | None]
    eval: list[float | None]
    find_phase: Phase = field(default_factory=Phase)
    eval_phase: Phase = field(default_factory=Phase)
    rewind_epochs: float = 0.0  # Fig 4a: both phases start from the find run's state here
    lr_rewinding: bool = False  # Fig 4c
    baselines: bool = True  # global random and preserve LPR for the coupled pairs
    filters: list[float] = field(default_factory=list)  # Fig 5: one-shot fractions of units

    def __post_init__(self) -> None:
        where = f"studies[{self.name}]"
        if not self.find or not self.eval:
            raise ConfigError(f"{where}: find and eval must each list at least one value")
        for side in ("find", "eval"):
            values = getattr(self, side)
            if len(set(values)) != len(values):
                raise ConfigError(f"{where}.{side} must be distinct (got {values})")
            for v in values:
                if v is None:
                    continue
                if v < 0 or (v == 0 and self.vary != "weight_decay"):
                    raise ConfigError(f"{where}.{side}: {self.vary} must be > 0 (got {v})")
                if self.vary == "batch_size" and not float(v).is_integer():
                    raise ConfigError(f"{where}.{side}: a batch size is an integer (got {v})")
        if self.rewind_epochs < 0:
            raise ConfigError(f"{where}.rewind_epochs must be >= 0 (got {self.rewind_epochs})")
        if self.filters and (self.rewind_epochs or self.lr_rewinding):
            raise ConfigError(f"{where}: structured pruning (filters) is one-shot from the init")
        if any(not 0 < f < 1 for f in self.filters):
            raise ConfigError(f"{where}.filters must be fractions in (0, 1) (got {self.filters})")

    @property
    def structured(self) -> bool:
        return bool(self.filters)


@dataclass(frozen=True)
class Constrained:
    """Fig 7: within ``study``, find runs with the ``good`` value kept to the per-layer counts
    of the ``bad`` value's run at every level (orange), and the other way round (blue); both,
    and the regular ``good`` run (green), evaluated with the ``eval`` value."""

    study: str
    good: float
    bad: float
    eval: float


@dataclass(frozen=True)
class H21Data:
    dataset: Literal["mnist", "cifar10", "tiny_imagenet"] = "cifar10"
    root: str | None = None  # None: $LT_DATA, else ./data (MNIST: the embedded digits)
    validation: Literal["z19", "none"] = "none"  # none: all training examples train
    normalize: Literal["none", "dataset", "imagenet"] = "dataset"
    augment: Literal["none", "crop_flip"] = "crop_flip"
    crop_padding: int = 4


def _default_train() -> Train:  # paper_specs.md 5.1; the learning rate is H21's find default
    return Train(optimizer="sgd", lr=0.2, momentum=0.9, weight_decay=1e-4, batch_size=256,
                 epochs=110, milestones=[55, 83], last_batch="keep", eval_every=10_000)


@dataclass(frozen=True)
class Decoupling:
    model: Literal["lenet_300_100", "resnet20", "vgg16", "resnet18"] = "resnet20"
    width: int | None = None  # first-stage width (ResNet-20: 16)
    data: H21Data = field(default_factory=H21Data)
    train: Train = field(default_factory=_default_train)  # shared by both phases
    levels: int = 15  # pruning levels after the dense level 0
    fraction: float = 0.2  # of the remaining weights, per level
    count: Literal["exact", "threshold"] = "exact"
    studies: list[Study] = field(default_factory=list)
    constrained: list[Constrained] = field(default_factory=list)
    lpr_levels: list[int] = field(default_factory=lambda: [5, 10])  # Fig 6 and 8
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    device: str = "auto"
    store: str = "runs"
    # Fig A9: the same experiment for another network and dataset (H21: ResNet-18 on Tiny
    # ImageNet); it runs on this one's device and store
    a9: Decoupling | None = None

    def __post_init__(self) -> None:
        if self.train.lr is None or (self.train.iterations is None and self.train.epochs is None):
            raise ConfigError("train: set lr and the length (epochs or iterations)")
        if self.levels < 0:
            raise ConfigError(f"levels must be >= 0 (got {self.levels})")
        if not 0 < self.fraction < 1:
            raise ConfigError(f"fraction must be in (0, 1) (got {self.fraction})")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must list distinct seeds (got {self.seeds})")
        names = [s.name for s in self.studies]
        if len(set(names)) != len(names):
            raise ConfigError(f"studies must have distinct names (got {names})")
        bad = [lv for lv in self.lpr_levels if not 0 <= lv <= self.levels]
        if bad:
            raise ConfigError(f"lpr_levels {bad} outside the levels 0..{self.levels}")
        studies = {s.name: s for s in self.studies}
        for i, c in enumerate(self.constrained):
            s = studies.get(c.study)
            if s is None or s.structured:
                raise ConfigError(f"constrained[{i}].study {c.study!r} is not an iterative "
                                  f"study (studies: {', '.join(names)})")
            if c.good not in s.find or c.bad not in s.find or c.eval not in s.eval:
                raise ConfigError(f"constrained[{i}]: good and bad must be find values and eval "
                                  f"an eval value of study {c.study}")
        for s in self.studies:  # every phase's settings are valid (Train's own checks)
            for side in ("find", "eval"):
                for v in getattr(s, side):
                    try:
                        phase_train(self, s, side, v)
                    except ConfigError as err:
                        raise ConfigError(f"studies[{s.name}].{side} {v}: {err}") from None

    def study(self, name: str) -> Study | None:
        return next((s for s in self.studies if s.name == name), None)


def load(source: dict | str) -> Decoupling:
    """The experiment from a params file or papermill's parameters (one-line errors)."""
    return config_mod.load(source, Decoupling)


def phase_train(cfg: Decoupling, study: Study, side: str, value: float | None) -> Train:
    """The training of one phase (``side`` find or eval) at one value of the study's grid."""
    phase = study.find_phase if side == "find" else study.eval_phase
    over = {k: v for k, v in dataclasses.asdict(phase).items() if v is not None}
    if value is not None:
        over[study.vary] = value
    if "batch_size" in over:
        over["batch_size"] = int(over["batch_size"])
    return dataclasses.replace(cfg.train, **over)


# ----------------------------------------------------------------------------------------------
# Planning: every training is a lottery.Run; lines say which record answers which question


@dataclass
class _Find:
    study: Study
    value: float | None
    seed: int
    train: Train
    run: lottery.Run
    key: str = ""
    lpr_from: float | None = None  # Fig 7: the value whose run gives the per-layer counts


class _Plan:
    """The runs of one experiment and, per figure point, where its result is stored."""

    def __init__(self, cfg: Decoupling, data: data_mod.Dataset, model: nn.Module,
                 store: RunStore):
        self.cfg, self.data, self.model, self.store = cfg, data, model, store
        self.n_train = len(data.splits["train"][1])
        self.finds: list[_Find] = []
        self.followers: list[lottery.Run] = []  # random baselines and Fig 7's runs
        self.lines: list[dict] = []  # study, kind, find, eval, lpr_from, seed, level, key, round
        iterative = [s for s in cfg.studies if not s.structured]
        for s in cfg.studies:
            for v in s.find:
                for seed in cfg.seeds:
                    self.finds.append(self._find(s, v, seed))
        by = {(f.study.name, f.value, f.seed): f for f in self.finds}
        for c in cfg.constrained:  # blue: bad value, good counts; orange: good value, bad counts
            s = cfg.study(c.study)
            for value, counts in ((c.bad, c.good), (c.good, c.bad)):
                for seed in cfg.seeds:
                    ref = by[(s.name, counts, seed)]
                    self.finds.append(self._find(s, value, seed, ref))
        for s in iterative:
            if not s.baselines:
                continue
            for v in (v for v in s.find if v in s.eval):
                for seed in cfg.seeds:
                    self._baselines(s, v, by[(s.name, v, seed)])

    # -- runs ---------------------------------------------------------------------------
    def _config(self, kind: str, train: Train, seed: int, **extra) -> dict:
        cfg = {"kind": kind, "model": self.cfg.model, "data": self.data.name,
               "train": key_dict(train), "seed": seed, **extra}
        if self.cfg.width is not None:
            cfg["width"] = self.cfg.width
        return cfg

    def _rewind(self, study: Study, train: Train) -> int:
        """Late rewinding's iteration k under this training's schedule."""
        per_epoch = schedule.plan(train, self.n_train, self.data.name).per_epoch
        return round(study.rewind_epochs * per_epoch)

    def _run(self, config: dict, train: Train, seed: int, arm: Arm, **kw) -> lottery.Run:
        # Learning rate and weight decay ride on the run, so that runs differing only in them
        # share a population (the loop groups runs by their Train config).
        shared = dataclasses.replace(train, lr=self.cfg.train.lr,
                                     weight_decay=self.cfg.train.weight_decay)
        return lottery.Run(config, seed, arm, shared, lr=train.lr,
                           weight_decay=train.weight_decay, **kw)

    def _arm(self, criterion: str, selection: str, study: Study) -> Arm:
        count = self.cfg.count if criterion == "magnitude" else "exact"  # random: exact counts
        return Arm(criterion, mask1_action="continue" if study.lr_rewinding else "rewind",
                   selection=selection, fraction=self.cfg.fraction, count=count)

    def _find(self, study: Study, value: float | None, seed: int, ref: _Find | None = None
              ) -> _Find:
        train = phase_train(self.cfg, study, "find", value)
        arm = self._arm("magnitude", "reference" if ref else "global", study)
        extra = {**key_dict(arm)}
        k = self._rewind(study, train)
        if k:
            extra["rewind_iteration"] = k
        if ref is not None:
            extra["lpr_from"] = ref.key
        config = self._config("h21_find", train, seed, **extra)
        run = self._run(config, train, seed, arm, rewind_iteration=k,
                        reference=ref.key if ref else None)
        return _Find(study, value, seed, train, run, self.store.key(config),
                     ref.value if ref else None)

    def _baselines(self, study: Study, value: float | None, find: _Find) -> None:
        train = phase_train(self.cfg, study, "eval", value)
        k = self._rewind(study, train)
        for kind, selection in (("global_random", "global"), ("preserve_lpr", "reference")):
            arm = self._arm("random", selection, study)
            extra = {**key_dict(arm), **({"rewind_iteration": k} if k else {})}
            if selection == "reference":
                extra["lpr_from"] = find.key
            config = self._config(f"h21_{kind}", train, find.seed, **extra)
            self.followers.append(self._run(config, train, find.seed, arm, rewind_iteration=k,
                                            reference=find.key if kind == "preserve_lpr"
                                            else None))
            key = self.store.key(config)
            for level in range(self.cfg.levels + 1):
                self._line(study, kind, find, value, level, key, level)

    def _line(self, study: Study, kind: str, find: _Find, eval_value: float | None,
              level: int, key: str, rnd: int, **extra) -> None:
        self.lines.append({"study": study.name, "kind": kind, "find": find.value,
                           "eval": eval_value, "lpr_from": find.lpr_from, "seed": find.seed,
                           "level": level, "key": key, "round": rnd, **extra})

    def iterative_runs(self) -> list[lottery.Run]:
        runs = [f.run for f in self.finds if not f.study.structured] + self.followers
        return list({self.store.key(r.config): r for r in runs}.values())

    def structured_runs(self) -> list[lottery.Run]:
        runs = [f.run for f in self.finds if f.study.structured]
        return list({self.store.key(r.config): r for r in runs}.values())

    # -- eval runs ----------------------------------------------------------------------
    def eval_runs(self, level: int) -> list[lottery.Run]:
        """The eval runs of masks M^(level) (the finds' masks must be stored); the figure
        lines they answer are recorded, coupled pairs pointing at the find's own training."""
        runs = {}
        for f in self.finds:
            study = f.study
            if level > (len(study.filters) if study.structured else self.cfg.levels):
                continue
            values = study.eval
            if f.lpr_from is not None:  # Fig 7: one H_eval
                values = [c.eval for c in self.cfg.constrained if c.study == study.name
                          and (f.value, f.lpr_from) in ((c.bad, c.good), (c.good, c.bad))]
            mask, extra = None, {"filters_pruned": 0.0} if study.structured else {}
            if study.structured and level:
                mask, extra = self._filter_mask(f, study.filters[level - 1])
            for e in values:
                run, key, rnd = self._eval(f, e, level, mask)
                if run is not None:
                    runs[key] = run
                self._line(study, "lottery", f, e, level, key, rnd, **extra)
        return list(runs.values())

    def _eval(self, f: _Find, e: float | None, level: int, mask: dict | None
              ) -> tuple[lottery.Run | None, str, int]:
        """(run to train or None, key, round) of find run ``f``'s mask at ``level`` trained
        under H_eval = ``e`` (``mask``: a structured one; else read from the store)."""
        study = f.study
        train = phase_train(self.cfg, study, "eval", e)
        k = self._rewind(study, train)
        start_from = None
        if k:  # late rewinding: from the find run's state at its own iteration k
            point = lottery.rewind_point_config(f.run, self.data.name)
            start_from = [self.store.key(point), "rewind_point", 0]
        elif study.lr_rewinding and level > 0:  # the find run's trained weights, masked
            start_from = [f.key, "trained", level - 1]
        mask_from = "dense" if level == 0 else [f.key, level] + (
            [study.filters[level - 1]] if study.structured else [])
        # The same training as one a find run did (coupled pairs): read that one.
        if level == 0 and start_from is None:  # all weights from the init: any such find run
            same = [g for g in self.finds if g.lpr_from is None and not g.study.rewind_epochs]
        else:  # the find run's own training of this mask (a structured mask never trained)
            same = [] if study.structured else [f]
        for g in same:
            if g.train == train and g.seed == f.seed:
                return None, g.key, level
        config = self._config("h21_eval", train, f.seed, mask=mask_from,
                              **({"start": start_from} if start_from else {}),
                              **({"rewind_iteration": k} if k else {}))
        key = self.store.key(config)
        if self.store.has_round(key, 0):
            return None, key, 0
        if level and mask is None:
            nxt = self.store.load_round(f.key, level - 1)["next_mask"]
            mask = {n: unpack_mask(p) for n, p in nxt.items()}
        start = None
        if start_from is not None:
            rec = self.store.load_round(start_from[0], start_from[2])
            start = rec["state"] if start_from[1] == "rewind_point" else rec["next_start"]
        arm = self._arm("magnitude", "global", study)
        return (self._run(config, train, f.seed, arm, start_mask=mask, start=start,
                          rewind_iteration=k), key, 0)

    def _filter_mask(self, f: _Find, fraction: float) -> tuple[dict, dict]:
        final = self.store.load_round(f.key, 0)["final"]
        mask = filter_masks(self.model, final, fraction)
        kept = sum(int(mask[n].sum()) for n in self.model.prune_rates)
        total = models.count_prunable(self.model)
        return mask, {"percent_remaining": 100.0 * kept / total, "filters_pruned": fraction}


# ----------------------------------------------------------------------------------------------
# One-shot structured pruning (Fig 5)


def unit_layers(model: nn.Module) -> dict[str, str | None]:
    """The prunable weights whose output units (conv filters, hidden neurons) structured
    pruning may remove, each with the BatchNorm right after it (None if there is none): every
    conv and linear layer but the first and the output layer (paper_specs.md 5.3)."""
    modules = list(model.named_modules())
    layers = {}
    for i, (name, m) in enumerate(modules):
        if isinstance(m, nn.Conv2d | nn.Linear):
            nxt = modules[i + 1][1] if i + 1 < len(modules) else None
            bn = modules[i + 1][0] if isinstance(nxt, nn.BatchNorm2d) else None
            layers[f"{name}.weight"] = bn
    names = list(layers)
    return {n: layers[n] for n in names[1:] if n != model.output_layer}


def filter_masks(model: nn.Module, weights: dict[str, torch.Tensor], fraction: float
                 ) -> dict[str, torch.Tensor]:
    """Masks that remove ``floor(fraction x units)`` of the eligible units (``unit_layers``)
    with the smallest mean |w| of their incoming weights, ranked over all those layers
    pooled; a removed unit's BatchNorm scale and shift are masked too. Every other prunable
    tensor keeps all its weights (ties: lowest index first)."""
    units = unit_layers(model)
    scores = torch.cat([weights[n].abs().flatten(1).mean(1) for n in units])
    n_prune = math.floor(fraction * len(scores) + 1e-9)
    pruned = torch.zeros(len(scores), dtype=torch.bool)
    pruned[scores.argsort(stable=True)[:n_prune]] = True
    out = {n: torch.ones_like(weights[n]) for n in model.prune_rates}
    offset = 0
    for n, bn in units.items():
        rows = pruned[offset: offset + weights[n].shape[0]]
        offset += len(rows)
        out[n][rows] = 0.0
        if bn is not None:
            for p in ("weight", "bias"):
                out[f"{bn}.{p}"] = (~rows).float()
    return out


# ----------------------------------------------------------------------------------------------
# Running


@dataclass
class Result:
    """The stored trainings of one experiment as tidy frames (read on first use)."""

    cfg: Decoupling
    lines: pd.DataFrame  # study, kind, find, eval, lpr_from, seed, level, key, round, ...
    finds: pd.DataFrame  # study, find, lpr_from, seed, key: every find run
    data: lottery.DataInfo
    device: str
    store: RunStore
    layers: list[str]  # prunable tensors in depth order
    numel: dict[str, int]

    @cached_property
    def accuracy(self) -> pd.DataFrame:
        """One row per figure point and seed: test accuracy at the end of training (H21 and
        OpenLTH report it), ``failed`` where the training diverged (accuracy NaN)."""
        rows = []
        for line in self.lines.to_dict("records"):
            rec = self.store.load_round(line["key"], line["round"])
            pct = line.get("percent_remaining")
            if pct is None or pd.isna(pct):
                pct = rec["percent_remaining"]
            rows.append({**{k: v for k, v in line.items() if k not in ("key", "round")},
                         "percent_remaining": pct, "fraction_pruned": 1 - pct / 100,
                         "test_acc": rec["test_acc_at_end"],
                         "failed": rec["failed_at"] is not None, "failed_at": rec["failed_at"],
                         "run": line["key"]})
        return pd.DataFrame(rows)

    @cached_property
    def find_accuracy(self) -> pd.DataFrame:
        """The find runs' own trainings per level (H_find = H_eval by construction); level 0
        is the dense network trained under H_find."""
        rows = []
        for f in self.finds.to_dict("records"):
            for rnd in self.store.rounds(f["key"]):
                rec = self.store.load_round(f["key"], rnd)
                rows.append({**{k: f[k] for k in ("study", "find", "lpr_from", "seed")},
                             "level": rnd, "percent_remaining": rec["percent_remaining"],
                             "test_acc": rec["test_acc_at_end"],
                             "failed": rec["failed_at"] is not None})
        return pd.DataFrame(rows)

    @cached_property
    def masks_per_layer(self) -> pd.DataFrame:
        """Kept weights per layer of every find run's mask M^(n), n = 1..levels reached
        (for ``analysis.layerwise_pruning_ratios``)."""
        rows = []
        for f in self.finds.to_dict("records"):
            if self.cfg.study(f["study"]).structured:
                continue
            for rnd in self.store.rounds(f["key"])[: self.cfg.levels]:  # masks that trained
                nxt = self.store.load_round(f["key"], rnd)["next_mask"]
                for depth, layer in enumerate(self.layers):
                    rows.append({**{k: f[k] for k in ("study", "find", "lpr_from", "seed")},
                                 "level": rnd + 1, "layer": layer, "depth": depth,
                                 "kept": int(unpack_mask(nxt[layer]).sum()),
                                 "numel": self.numel[layer]})
        return pd.DataFrame(rows)

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Mean and std over seeds of every figure line per level (``analysis.curves``)."""
        return analysis.curves(self.accuracy)

    @cached_property
    def lpr(self) -> pd.DataFrame:
        """The LPR of every layer of every find run's masks (``analysis``)."""
        return analysis.layerwise_pruning_ratios(self.masks_per_layer)

    def claims(self) -> pd.DataFrame:
        """H21's orderings (h21_check_values.md Q1-Q16) with verdicts computed here (on Tiny
        ImageNet: Fig A9's, Q15)."""
        if self.cfg.data.dataset == "tiny_imagenet":
            return pd.DataFrame(analysis.a9_claims(self.curves, self.find_accuracy))
        return pd.DataFrame(analysis.claims(
            self.curves, self.find_accuracy, self.lpr, {s.name: s for s in self.cfg.studies},
            self.cfg.constrained, self.cfg.lpr_levels))

    def report(self) -> str:
        """Plain text for the command line: best coupled and decoupled pair per level, the
        LPR per layer at ``lpr_levels``, and the claims."""
        parts = []
        for s in self.cfg.studies:
            if s.structured:
                continue
            best = analysis.best_coupled_vs_decoupled(self.curves, s.name)
            parts.append(f"== {s.name}: best coupled vs best decoupled (mean, std over seeds)\n"
                         + best.round(4).to_string(index=False))
            parts.append(f"== {s.name}: LPR per layer (%) at levels {self.cfg.lpr_levels}\n"
                         + analysis.lpr_table(self.lpr, s.name, self.cfg.lpr_levels).to_string())
        claims = self.claims()
        parts.append("== claims\n" + claims[["id", "figure", "claim", "verdict", "numbers"]]
                     .to_string(index=False))
        return "\n\n".join(parts)

    def failures(self) -> list[str]:
        """One line per training that diverged or never learned (``engine.divergence``)."""
        acc = self.accuracy
        bad = acc[acc["failed"]].drop_duplicates("run")
        return [f"{r.study} {r.kind} find {_fmt(r.find)} eval {_fmt(r.eval)} seed {r.seed} "
                f"level {r.level}" for r in bad.itertuples()]

    def departures(self) -> list[str]:
        return departures(self.cfg, self.data)

    def describe(self, scale: str) -> str:
        """Markdown: scale, data, device, each study's settings, failed trainings, and the
        one sentence on how this run compares with H21."""
        cfg, tr = self.cfg, self.cfg.train
        length = f"{tr.epochs:g} epochs" if tr.epochs is not None else f"{tr.iterations:,} iterations"
        n_studies = f"{len(cfg.studies)} stud{'y' if len(cfg.studies) == 1 else 'ies'}"
        head = (f"**Scale: {scale}.** {cfg.model} ({sum(self.numel.values()):,} "
                f"prunable weights), {n_studies} x {len(cfg.seeds)} seeds, "
                f"{cfg.levels} pruning levels of {cfg.fraction:g} of the remaining weights "
                f"(global magnitude). **Device:** {self.device}.")
        shared = (f"**Shared training:** {tr.optimizer} momentum {tr.momentum:g}, lr {tr.lr:g}, "
                  f"batch {tr.batch_size}, weight decay {tr.weight_decay:g}, {length}"
                  + (f", lr x{tr.gamma:g} at epochs {tr.milestones}" if tr.milestones else "")
                  + f". **Data:** {self.data.description}; sizes {self.data.sizes}.")
        studies = "**Studies:** " + "; ".join(_describe_study(s) for s in cfg.studies) + "."
        parts = [head, shared, studies]
        note = stand_in_note(cfg)
        if note:
            parts.append(note)
        parts += lottery.failure_note(self.failures())
        parts.append(lottery.scale_verdict(self.departures()))
        return "\n\n".join(parts)


def _fmt(v) -> str:
    return "default" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:g}"


def _describe_study(s: Study) -> str:
    phases = []
    for side, phase in (("find", s.find_phase), ("eval", s.eval_phase)):
        over = {k: v for k, v in dataclasses.asdict(phase).items() if v is not None}
        if over:
            phases.append(f"{side} " + ", ".join(f"{k} {v:g}" for k, v in over.items()))
    extra = [f"rewind to epoch {s.rewind_epochs:g}"] if s.rewind_epochs else []
    extra += ["LR rewinding"] if s.lr_rewinding else []
    extra += [f"one-shot structured at {s.filters} of the units"] if s.structured else []
    return (f"`{s.name}` ({FIGURES.get(s.name, 'extra')}): {s.vary} find "
            f"{[_fmt(v) for v in s.find]} x eval {[_fmt(v) for v in s.eval]}"
            + "".join(f", {p}" for p in phases + extra))


def departures(cfg: Decoupling, data: lottery.DataInfo) -> list[str]:
    """How this configuration departs from H21's setting as paper_specs.md 5.1 reconstructs
    it; empty at paper scale."""
    out, tr = [], cfg.train
    if cfg.model != PAPER["model"] or not data.name.startswith(PAPER["dataset"]):
        out.append(f"{cfg.model} on {data.name} instead of ResNet-20 on CIFAR-10")
    if cfg.width not in (None, 16):
        out.append(f"width {cfg.width} instead of 16")
    if tr.epochs != PAPER["epochs"]:
        length = f"{tr.epochs:g} epochs" if tr.epochs else f"{tr.iterations:,} iterations"
        out.append(f"{length} per training instead of {PAPER['epochs']:g} epochs")
    for name in ("milestones", "optimizer", "momentum", "batch_size", "weight_decay"):
        if getattr(tr, name) != PAPER[name]:
            out.append(f"{name} {getattr(tr, name)} instead of {PAPER[name]}")
    if cfg.data.augment != PAPER["augment"]:
        out.append("no crop+flip augmentation")
    if cfg.levels < PAPER["min_levels"]:
        out.append(f"{cfg.levels} pruning levels instead of 15-20")
    if len(cfg.seeds) < PAPER["min_seeds"]:
        out.append(f"{len(cfg.seeds)} seeds instead of at least 3")
    return out


def stand_in_note(cfg: Decoupling) -> str:
    """The visible sentence on what a stand-in network can and cannot speak to."""
    if cfg.model in ("resnet20", "resnet18"):
        return ""
    return (f"**A stand-in, not H21's network:** H21's networks are CIFAR ResNets (ResNet-20 "
            f"assumed here; ResNet-50 and ResNet-18 in its appendix), with BatchNorm and 20+ "
            f"layers; this run uses {cfg.model} on {cfg.data.dataset}, "
            f"{len(_layer_names(cfg))} prunable layers and no BatchNorm. It can speak to the "
            "mechanism (does the find rate change the layerwise pruning ratio, and does that "
            "change how well the masks train?) and to orderings at its own grid; it cannot "
            "speak to H21's learning-rate values, to BatchNorm, to per-stage LPR patterns of a "
            "ResNet, or to structured filter pruning of conv layers.")


def _layer_names(cfg: Decoupling) -> list[str]:
    shape = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "tiny_imagenet": (3, 64, 64)}
    net = models.build(cfg.model, shape[cfg.data.dataset], width=cfg.width)
    return list(net.prune_rates)


def run(cfg: Decoupling, progress: bool = True) -> Result:
    """Run (or resume) the experiment; trainings in the store are never repeated.

    Level by level: the find runs, the Fig 7 runs and the random baselines train level n
    (one population per training config), then the eval runs of the masks M^(n).
    """
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    d = cfg.data
    data = data_mod.load(d.dataset, d.root, device, validation=d.validation,
                         normalize=d.normalize, augment=d.augment, crop_padding=d.crop_padding)
    model = models.build(cfg.model, data.input_shape, data.num_classes, width=cfg.width)
    for s in cfg.studies:  # a batch larger than the data fails here, before anything is written
        for side in ("find", "eval"):
            for v in getattr(s, side):
                schedule.plan(phase_train(cfg, s, side, v), len(data.splits["train"][1]),
                              data.name)
    plan = _Plan(cfg, data, model, store)
    iterative, structured = plan.iterative_runs(), plan.structured_runs()
    name = cfg.model
    if structured:
        lottery.prune_loop(model, data, structured, 0, store, device, progress, name)
    top = max([cfg.levels] + [len(s.filters) for s in cfg.studies])
    for level in range(top + 1):
        if iterative and level <= cfg.levels:
            lottery.prune_loop(model, data, iterative, level, store, device, progress, name)
        evals = plan.eval_runs(level)
        if evals:
            lottery.prune_loop(model, data, evals, 0, store, device, progress,
                               f"{name} eval of level {level}")
    info = lottery.DataInfo(data.name, data.description, data.sizes(), data.input_shape)
    finds = pd.DataFrame([{"study": f.study.name, "find": f.value, "lpr_from": f.lpr_from,
                           "seed": f.seed, "key": f.key} for f in plan.finds])
    numel = {n: p.numel() for n, p in model.named_parameters() if n in model.prune_rates}
    return Result(cfg, pd.DataFrame(plan.lines), finds, info, str(device), store,
                  list(model.prune_rates), numel)


def run_a9(cfg: Decoupling, progress: bool = True) -> Result | None:
    """Fig A9's experiment (ResNet-18 on Tiny ImageNet) where ``cfg`` has one."""
    if cfg.a9 is None:
        return None
    return run(dataclasses.replace(cfg.a9, device=cfg.device, store=cfg.store), progress)


def describe_a9(result: Result | None, scale: str) -> str:
    """Markdown: A9's settings and claims, or that it did not run at this scale."""
    if result is None:
        return (f"**Not run at scale {scale}:** `params/paper/05_decoupling.yaml` has it "
                "(`a9:`), with Tiny ImageNet in the data root (`python -m lt_core data "
                "--tiny-imagenet`).")
    return (result.describe(scale) + "\n\n"
            + analysis.describe_claims(result.claims(), ["Q15"]))


# ----------------------------------------------------------------------------------------------
# The scorecard's and the entry page's view of this chapter

PARAMS = Path(__file__).resolve().parent.parent / "params"
CARD_VERDICTS = {analysis.HOLDS: "reproduced", analysis.FAILS: "not reproduced"}


def _results(scale: str, store: str | None, progress: bool) -> list[Result]:
    """The notebook's experiments at ``scale`` (and A9's where the params have it)."""
    values = config_mod.read_yaml(PARAMS / scale / "05_decoupling.yaml")
    cfg = load({**values, **({"store": store} if store is not None else {})})
    results = [run(cfg, progress)]
    a9 = run_a9(cfg, progress)
    return results + ([a9] if a9 is not None else [])


def scorecard_rows(scale: str, store: str | None = None, progress: bool = False
                   ) -> list[dict]:
    """H21's orderings as scorecard rows (``scorecard.build``'s columns) with the verdicts
    computed from the notebook's runs. H21 states no numbers; orderings its captions
    contradict are marked so, not judged."""
    rows = []
    for result in _results(scale, store, progress):
        where = "paper" if not result.departures() else scale
        for c in result.claims().itertuples():
            verdict = CARD_VERDICTS.get(c.verdict, c.verdict)
            rows.append({"claim": f"{c.id}: {c.claim}", "network": result.cfg.model,
                         "source": f"H21 {c.figure}", "paper": "holds (H21 states no numbers)",
                         "scale": where, "this build": c.numbers, "verdict": verdict})
    return rows


def build_info(scale: str, store: str | None = None) -> dict:
    """The entry page's row for this chapter (``scorecard.build_info``'s columns)."""
    result = _results(scale, store, progress=False)[0]
    env = result.store.load_round(result.finds["key"].iloc[0], 0)["env"]
    return {"notebook": "05_decoupling", "scale": scale,
            "paper settings": "yes" if not result.departures() else "no",
            "networks": result.cfg.model, "data": result.data.name,
            "seeds": len(result.cfg.seeds), "device": env["device_name"] or env["device"],
            "torch": env["torch"], "lt_core": env["lt_core"]}
