"""Z19's experiment schemas (iterative pruning; heuristic and learned supermasks) and the paper's
per-network settings (paper_specs.md 0.3, 4b)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pandas as pd
import torch
from torch import nn

from ... import criteria, models
from ...config import (
    ADDED,
    Arm,
    ConfigError,
    CriterionName,
    Data,
    DatasetName,
    Runtime,
    Train,
    _positive,
    paper_networks,
    quote,
)
from ...paper import INPUTS, NETWORKS

ModelName = Literal["fc", "conv2", "conv4", "conv6"]


@dataclass(frozen=True)
class PaperSupermask:
    lr: float
    length: int  # in Learned.length_unit
    early_stop: bool


@dataclass(frozen=True)
class PaperNetwork:
    """One Z19 network's settings (paper_specs.md 0.3, 4b): params/paper/networks/z19.yaml."""

    dataset: DatasetName
    lr: float  # Adam
    iterations: int
    supermask: PaperSupermask  # the learned supermask's training


PAPER_NETWORKS: dict[str, PaperNetwork] = paper_networks("z19", PaperNetwork)
PAPER_TRAIN = {m: {"lr": n.lr, "iterations": n.iterations} for m, n in PAPER_NETWORKS.items()}
PAPER_DATASET = {m: n.dataset for m, n in PAPER_NETWORKS.items()}
# Z19's data: 5,000 training examples held out to validate (early stopping), pixels in [0, 1].
DATA_CHOICES = {"validation": "z19", "normalize": "none", "augment": "none"}



@dataclass(frozen=True)
class Pruning:
    levels: int = 24  # pruning levels after the dense level 0
    arms: list[Arm] = field(default_factory=lambda: [Arm("large_final"), Arm("random")])
    # true: every arm leaves the output layer unpruned (Arm.ignore_output_layer; an arm may
    # also set it alone)
    ignore_output_layer: bool = False

    def __post_init__(self) -> None:
        if self.ignore_output_layer:
            object.__setattr__(self, "arms", [dataclasses.replace(a, ignore_output_layer=True)
                                              for a in self.arms])
        if self.levels < 0:
            raise ConfigError(f"pruning.levels must be >= 0 (got {self.levels})")
        if not self.arms:
            raise ConfigError("pruning.arms must list at least one arm")
        if len(set(self.arms)) != len(self.arms):
            raise ConfigError("pruning.arms must be distinct")




@dataclass(frozen=True)
class Experiment(Runtime):
    """One iterative-pruning experiment: criteria x seeds trained as one population."""

    EXPERIMENT: ClassVar[str] = "z19_iterative"  # its name in params files and the registry

    # Z19's networks, any other registered one (lenet_300_100, resnet20, vgg16, resnet18) or a
    # user's nn.Module as `package.module:ClassName` (lt_core.models.user_module); those have
    # no Z19 settings: give train.lr and the length (and data.dataset for a user's module).
    models: list[str] = field(default_factory=lambda: ["fc"])
    data: Data = field(default_factory=Data)
    train: Train = field(default_factory=Train)
    pruning: Pruning = field(default_factory=Pruning)
    seeds: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.models or len(set(self.models)) != len(self.models):
            raise ConfigError(f"models must list distinct networks (got {quote(self.models)})")
        object.__setattr__(self, "data", self.data.filled(**DATA_CHOICES))
        for m in self.models:
            problem = models.name_problem(m, self.data.dataset)
            if problem:
                raise ConfigError(f"models: {problem}")
            self.data.filled(dataset=self.dataset_for(m))  # its normalisation fits its images
            if m not in PAPER_TRAIN and (self.train.lr is None or (
                    self.train.iterations is None and self.train.epochs is None)):
                raise ConfigError(f"train: {m} has no Z19 settings; set train.lr and "
                                  "train.iterations (or train.epochs)")
        if not self.seeds:
            raise ConfigError("seeds must list at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct (got {quote(self.seeds)})")


    def train_for(self, model: str) -> Train:
        """The training settings for one network, the paper's wherever a field is None."""
        paper = dict(PAPER_TRAIN.get(model, {}))  # other networks: train gives everything
        if self.train.epochs is not None:  # the length is given in epochs
            paper.pop("iterations", None)
        return dataclasses.replace(self.train, **{
            k: v for k, v in paper.items() if getattr(self.train, k) is None})

    def dataset_for(self, model: str) -> str:
        return self.data.dataset or PAPER_DATASET.get(model) or models.NATIVE_DATASET[model]


# Learned supermasks (paper_specs.md 4b): the papers' learning rates and lengths, and whether
# the reported accuracy is taken at early stopping (Z19 S6.2: Conv4 and Conv6 overfit, so
# they were early-stopped; FC and Conv2 report the end of training). The lengths {2000, 2000,
# 1000, 800} are "iterations" in Z19's text but epochs in the authors' code (README:
# --num_epochs 2000 at the default batch of 250), and overfitting after 800-1000 steps of a
# mask only makes sense in epochs: Learned.length_unit says which reading, epochs by default.
PAPER_SUPERMASK = {m: dataclasses.asdict(n.supermask) for m, n in PAPER_NETWORKS.items()}
PAPER_TRAIN_SIZE = {"mnist": 55_000, "cifar10": 45_000}  # the papers' train splits


@dataclass(frozen=True)
class Learned:
    """Learned supermask training: SGD momentum 0.9 on one real mask tensor per kernel."""

    init_values: list[float] = field(default_factory=lambda: [-5.0, -2.0, 0.0, 2.0, 5.0])
    lr: float | None = None  # None: the paper's per network (PAPER_SUPERMASK)
    length_unit: Literal["epochs", "iterations"] = "epochs"  # how to read the paper's lengths
    iterations: int | None = None  # an explicit length; None: the paper's, read in length_unit
    early_stop: bool | None = None  # None: the paper's (Conv4 and Conv6 only)
    batch_size: int = 250
    eval_every: int = 100
    samples: int = 10  # final accuracy = mean over this many Bernoulli mask samples
    divergence: Literal["loss", "non_finite"] = field(default="loss", metadata=ADDED)  # Train's

    def __post_init__(self) -> None:
        _positive(self, "lr", "iterations", "batch_size", "eval_every", "samples")
        if any(abs(c) > 5 for c in self.init_values):  # []: no learned supermasks
            raise ConfigError(f"learned.init_values must be in [-5, 5] "
                              f"(got {quote(self.init_values)})")

    def train_for(self, model: str, n_train: int) -> Train:
        """The resolved training settings for one network on ``n_train`` training examples
        (an epoch is ``n_train // batch_size`` iterations: the last partial batch is dropped)."""
        paper = PAPER_SUPERMASK[model]
        per_epoch = max(1, n_train // self.batch_size) if self.length_unit == "epochs" else 1
        return Train(optimizer="sgd", momentum=0.9, batch_size=self.batch_size,
                     eval_every=self.eval_every, lr=self.lr or paper["lr"],
                     iterations=self.iterations or paper["length"] * per_epoch,
                     divergence=self.divergence)

    def early_stop_for(self, model: str) -> bool:
        return PAPER_SUPERMASK[model]["early_stop"] if self.early_stop is None else self.early_stop


@dataclass(frozen=True)
class Supermasks(Runtime):
    """Z19 §5: heuristic supermasks from the dense run, and learned supermasks."""

    EXPERIMENT: ClassVar[str] = "z19_supermasks"  # its name in params files and the registry

    models: list[ModelName] = field(default_factory=lambda: ["fc"])
    data: Data = field(default_factory=Data)
    dense: Train = field(default_factory=Train)  # the dense run (shared with notebook 1)
    criteria: list[CriterionName] = field(default_factory=lambda: list(criteria.names("Z19")))
    max_power: int = 24  # one-shot prune powers 0..max_power
    learned: Learned = field(default_factory=Learned)
    seeds: list[int] = field(default_factory=lambda: [0])

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_power < 0:
            raise ConfigError(f"max_power must be >= 0 (got {self.max_power})")
        dense = self.dense_experiment()  # the same checks, data's included
        if any(dense.dataset_for(m) not in PAPER_TRAIN_SIZE for m in self.models):
            raise ConfigError(f"data.dataset: supermasks train on Z19's data "
                              f"({', '.join(PAPER_TRAIN_SIZE)})")
        stopped = [m for m in self.models if self.learned.early_stop_for(m)]
        if stopped and dense.data.validation == "none":
            raise ConfigError(f"data.validation: none leaves no validation split for the early "
                              f"stopping of {', '.join(stopped)}'s learned supermasks; "
                              "set learned.early_stop: false or validation: z19")

    def dense_experiment(self) -> Experiment:
        """The dense level 0 as an iterative-pruning experiment with no pruning levels: the
        same store entry as notebook 1's ``large_final`` run with the same training."""
        return Experiment(models=self.models, data=self.data, train=self.dense,
                          pruning=Pruning(levels=0, arms=[Arm("large_final")]),
                          seeds=self.seeds, device=self.device, store=self.store,
                          executor=self.executor, ray=self.ray)


def table_s1(learned: Learned | None = None) -> pd.DataFrame:
    """Z19 Table S1 generated from this code: the layers, weight counts, training settings
    and pruning rates of every network as ``models`` and ``config`` implement them, and the
    learned-supermask training (S6.2) as ``learned`` resolves it on the papers' data."""
    learned = learned or Learned()
    columns = {}
    for name, z19 in NETWORKS.items():
        net = models.build(name, INPUTS[name])
        convs = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
        dense = [m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
        params = dict(net.named_parameters())
        kernels = [n for n in net.prune_rates if params[n].dim() > 2]
        total, conv = models.count_prunable(net), sum(params[n].numel() for n in kernels)
        rates = sorted({(_layer_kind(n, params[n]), q) for n, q in net.prune_rates.items()},
                       key=lambda kq: ("conv", "fc", "output").index(kq[0]))
        train = PAPER_TRAIN[name]
        size = PAPER_TRAIN_SIZE[PAPER_DATASET[name]]
        lt = learned.train_for(name, size)
        columns[f"{z19} ({PAPER_DATASET[name]})"] = {
            "convolutional layers": " ".join(f"{a}, {b}, pool" for a, b in
                                             zip(convs[::2], convs[1::2])) or "none",
            "FC layers": ", ".join(map(str, dense)),
            "all / conv weights": f"{total:,}" + (f" / {conv:,}" if conv else ""),
            "iterations / batch": f"{train['iterations']:,} / {Train().batch_size}",
            "optimizer": f"Adam {train['lr']:g}",
            "pruning rates": ", ".join(f"{k} {100 * q:g}%" for k, q in rates),
            "learned supermask (S6.2)": f"SGD lr {lt.lr:g}, momentum 0.9",
            "learned: iterations / batch": f"{lt.iterations:,} / {lt.batch_size}",
            "learned: reported at": ("early stopping" if learned.early_stop_for(name)
                                     else "end of training"),
        }
    return pd.DataFrame(columns)


def _layer_kind(name: str, weight: torch.Tensor) -> str:
    if weight.dim() > 2:
        return "conv"
    return "output" if name.startswith("out.") else "fc"
