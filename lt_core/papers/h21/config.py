"""H21's experiment as configured: the studies (one hyperparameter varied, find values x eval
values), the phase overrides, Fig 7's constrained pairs, and the data and shared training;
``phase_train`` resolves the training of one phase at one grid value."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ... import config as config_mod
from ... import models
from ...config import ConfigError, Data, Runtime, Train

Vary = Literal["lr", "batch_size", "weight_decay", "stop_epoch"]

# Study names the notebook and the scorecard look for, and the H21 figure each one is.
FIGURES = {
    "lr": "Fig 2a/d, A2", "batch_size": "Fig 2b/e, A4", "weight_decay": "Fig 2c/f, A6",
    "wd0": "Fig 8", "late_rewinding": "Fig 4a", "warmup": "Fig 4b", "lr_rewinding": "Fig 4c",
    "early_pruning": "Fig 9", "early_pruning_low_lr": "Fig 9",
    "structured_lr": "Fig 5a", "structured_batch_size": "Fig 5b",
    "structured_weight_decay": "Fig 5c",
}

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


# H21's data (paper_specs.md 5.1): every training example trains (no validation split), per-
# channel normalisation by the dataset's statistics, crop + flip.
DATA_CHOICES = {"validation": "none", "normalize": "dataset", "augment": "crop_flip"}


@functools.cache
def _paper_train() -> Train:
    """H21's shared training as params/paper/05_decoupling.yaml gives it (paper_specs.md 5.1;
    the learning rate is H21's find default)."""
    values = config_mod.read_yaml(config_mod.PAPER_PARAMS / "05_decoupling.yaml")["train"]
    train = config_mod.from_dict(Train, values, "train")
    # This default was written in code, as 110 epochs and milestones [55, 83], before it was
    # read from the paper's file: whole numbers stay ints so that runs keyed on it keep their keys.
    whole = lambda x: int(x) if float(x).is_integer() else x  # noqa: E731
    return dataclasses.replace(train, epochs=whole(train.epochs),
                               milestones=[whole(m) for m in train.milestones])


@dataclass(frozen=True)
class Decoupling(Runtime):
    """H21's experiment: studies of H_find x H_eval on one network (paper_specs.md Notebook 5)."""

    EXPERIMENT: ClassVar[str] = "h21_decoupling"  # its name in params files and the registry
    # H21's ResNet-20 (assumed), any other registered network or a user's nn.Module as
    # `package.module:ClassName` (lt_core.models.user_module; set data.dataset)
    model: str = "resnet20"
    width: int | None = None  # first-stage width (ResNet-20: 16)
    data: Data = field(default_factory=Data)  # None: the network's dataset, DATA_CHOICES
    train: Train = field(default_factory=_paper_train)  # shared by both phases
    levels: int = 15  # pruning levels after the dense level 0
    fraction: float = 0.2  # of the remaining weights, per level
    count: Literal["exact", "threshold"] = "exact"
    # The output layer never pruned but counted in the remaining weights (OpenLTH's rule)
    ignore_output_layer: bool = False
    studies: list[Study] = field(default_factory=list)
    constrained: list[Constrained] = field(default_factory=list)
    lpr_levels: list[int] = field(default_factory=lambda: [5, 10])  # Fig 6 and 8
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    # Fig A9: the same experiment for another network and dataset (H21: ResNet-18 on Tiny
    # ImageNet); it runs on this one's device and store
    a9: Decoupling | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        problem = models.name_problem(self.model, self.data.dataset, self.width)
        if problem:
            raise ConfigError(f"model: {problem}")
        object.__setattr__(self, "data", self.data.filled(
            dataset=models.NATIVE_DATASET.get(self.model), **DATA_CHOICES))
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
