"""L23: lottery tickets found with layerwise importance measures (paper_specs.md Notebook 6).

Lottery-ticket rewinding as L23 runs it (6.2), on THE pruning loop (``lottery.prune_loop``):
per network and seed, the dense network is pretrained for k iterations once (shared by every
measure); level 0 trains from that state; after each level, every prunable tensor's unpruned
weights are scored by an importance measure (``masks.importance``), the scores of all tensors
are pooled, and OpenLTH's rule prunes: tau = the n-th smallest score with
n = ceil(0.2 x remaining), keep score > tau; then all parameters and buffers rewind to the
state at k. All measures x seeds of a network train as one population.

Section 5 (multiple tickets per initialisation) on one network: the overlap of the tickets
of several measures at one level, and the partial re-initialisation test: re-run the same
procedure from an init that keeps theta_0 only on the overlap (fresh Kaiming draws
elsewhere). The analyses themselves are pure functions in ``analysis``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd
import torch

from . import analysis, engine, lottery, models, paper, seeds
from . import data as data_mod
from .config import Arm, ConfigError, Data, L23Measure, Train, from_dict, key_dict
from .store import RunStore, unpack_mask

L23Model = Literal["lenet_300_100", "resnet20", "vgg16", "resnet18"]
MEASURES: tuple[str, ...] = ("magnitude", "l1", "l2", "softmax", "minmax")  # L23 Table 2's


@dataclass(frozen=True)
class Setting:
    """One network's training, data and pruning as L23 ran it (Appendix A)."""

    dataset: str
    train: Train
    rewind_iteration: int  # k: pretrain k iterations, every level rewinds there
    levels: int  # pruning levels after the dense level 0
    normalize: str  # data.load's option
    augment: str


def _sgd(lr: float, batch: int, epochs: int, momentum: float, wd: float,
         milestones: list[float], eval_epochs: int, per_epoch: int) -> Train:
    # eval_every is ours (L23 reports the end of training only): a few evaluations per level.
    return Train(optimizer="sgd", lr=lr, batch_size=batch, epochs=epochs, momentum=momentum,
                 weight_decay=wd, milestones=milestones, last_batch="keep",
                 eval_every=eval_epochs * per_epoch)


# paper_specs.md 6.1: iterations per epoch ceil(N / batch) (OpenLTH keeps the last batch);
# ResNet-20's batch "238" in the paper is a typo for 128 (391 iterations per epoch).
PAPER: dict[str, Setting] = {
    "lenet_300_100": Setting("mnist", _sgd(0.1, 128, 40, 0.0, 0.0, [], 4, 469), 0, 24,
                             "dataset", "none"),
    "resnet20": Setting("cifar10", _sgd(0.1, 128, 160, 0.9, 1e-4, [80, 120], 10, 391), 1000,
                        40, "imagenet", "crop_flip"),
    "vgg16": Setting("cifar10", _sgd(0.1, 128, 160, 0.9, 1e-4, [80, 120], 10, 391), 2000, 35,
                     "imagenet", "crop_flip"),
    "resnet18": Setting("tiny_imagenet", _sgd(0.2, 256, 200, 0.9, 1e-4, [100, 150], 10, 391),
                        1000, 40, "imagenet", "crop_flip"),
}
# The papers' names, as in book/paper_numbers/l23_table2.csv.
NETWORK_NAMES = {"lenet_300_100": "LeNet-300-100", "resnet20": "ResNet-20", "vgg16": "VGG-16",
                 "resnet18": "ResNet-18"}
MEASURE_NAMES = {"magnitude": "Magnitude", "l1": "L1", "l2": "L2", "softmax": "SoftMax",
                 "minmax": "MinMax", "lamp": "LAMP"}


@dataclass(frozen=True)
class Overlap:
    """Section 5: the tickets of ``measures`` at ``level`` of one network and seed (one
    initialisation), and the partial re-initialisation from ``reinit_seeds`` fresh draws."""

    model: L23Model | None = None  # None: the first network
    measures: list[L23Measure] = field(default_factory=lambda: ["magnitude", "l1", "l2"])
    level: int = 15  # 96.48% sparse
    seed: int = 0
    reinit_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  # [] skips the test

    def __post_init__(self) -> None:
        if len(set(self.measures)) < 2 or len(set(self.measures)) != len(self.measures):
            raise ConfigError(f"overlap.measures must list at least two distinct measures "
                              f"(got {self.measures})")
        if self.level < 1:
            raise ConfigError(f"overlap.level must be >= 1 (got {self.level})")
        if len(set(self.reinit_seeds)) != len(self.reinit_seeds):
            raise ConfigError(f"overlap.reinit_seeds must be distinct (got {self.reinit_seeds})")


@dataclass(frozen=True)
class Layerwise:
    """The L23 experiment: importance measures x seeds per network, and section 5."""

    models: list[L23Model] = field(default_factory=lambda: ["lenet_300_100"])
    data: Data = field(default_factory=Data)  # root (dataset: the network's, PAPER)
    # Fields of config.Train that replace L23's settings for every network (e.g. epochs).
    train: dict = field(default_factory=dict)
    levels: int | None = None  # None: the paper's per network
    rewind_iteration: int | None = None  # None: the paper's per network
    measures: list[L23Measure] = field(default_factory=lambda: list(MEASURES))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    overlap: Overlap = field(default_factory=Overlap)
    device: str = "auto"
    store: str = "runs"

    def __post_init__(self) -> None:
        for name in ("models", "measures", "seeds"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ConfigError(f"{name} must list distinct values (got {values})")
        if self.levels is not None and self.levels < 0:
            raise ConfigError(f"levels must be >= 0 (got {self.levels})")
        if self.rewind_iteration is not None and self.rewind_iteration < 0:
            raise ConfigError(f"rewind_iteration must be >= 0 (got {self.rewind_iteration})")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be one of auto, cpu, cuda, cuda:N (got {self.device!r})")
        for model in self.models:
            self.setting(model)  # the train overrides make a valid Train for every network
        ov = self.overlap
        if self.overlap_model not in self.models:
            raise ConfigError(f"overlap.model {ov.model} is not one of models {self.models}")
        if ov.seed not in self.seeds:
            raise ConfigError(f"overlap.seed {ov.seed} is not one of seeds {self.seeds}")
        missing = [m for m in ov.measures if m not in self.measures]
        if missing:
            raise ConfigError(f"overlap.measures {missing} are not in measures {self.measures}")
        levels = self.setting(self.overlap_model).levels
        if ov.level > levels:
            raise ConfigError(f"overlap.level {ov.level} exceeds the {levels} levels of "
                              f"{self.overlap_model}")

    @property
    def overlap_model(self) -> str:
        return self.overlap.model or self.models[0]

    def setting(self, model: str) -> Setting:
        """The network's L23 setting with this experiment's replacements."""
        p = PAPER[model]
        values = dataclasses.asdict(p.train)
        if "iterations" in self.train:  # a length in iterations replaces the paper's epochs
            values["epochs"] = None
        train = from_dict(Train, {**values, **self.train}, "train")
        return dataclasses.replace(
            p, dataset=self.data.dataset or p.dataset, train=train,
            levels=p.levels if self.levels is None else self.levels,
            rewind_iteration=(p.rewind_iteration if self.rewind_iteration is None
                              else self.rewind_iteration))


def arm(measure: str) -> Arm:
    """L23's rule: the measure's scores pooled over all prunable tensors, OpenLTH's threshold."""
    return Arm(measure, selection="global", fraction=0.2, count="threshold")


def run_config(model: str, data_name: str, s: Setting, measure: str, seed: int) -> dict:
    """The canonical config of one ticket run (its key)."""
    return {"kind": "l23_ticket", "model": model, "data": data_name, "train": key_dict(s.train),
            **key_dict(arm(measure)), "rewind_iteration": s.rewind_iteration, "seed": seed}


def load_data(cfg: Layerwise, model: str, device: torch.device | str = "cpu"
              ) -> data_mod.Dataset:
    """The network's data as L23 used it: no validation split (all training examples
    train, the test set tests), OpenLTH's normalisation and augmentation."""
    s = cfg.setting(model)
    return data_mod.load(s.dataset, cfg.data.root, device, validation="none",
                         normalize=s.normalize, augment=s.augment)


def run(cfg: Layerwise, progress: bool = True) -> LayerwiseResult:
    """Run (or resume) every network's tickets, then section 5's partial re-initialisation;
    finished levels in the store are never recomputed."""
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    rows, info = [], {}
    for model_name in cfg.models:
        s = cfg.setting(model_name)
        data = load_data(cfg, model_name, device)
        info[model_name] = lottery.DataInfo(data.name, data.description, data.sizes(),
                                            data.input_shape)
        net = models.build(model_name, data.input_shape, data.num_classes)
        # The end-of-level weights are kept for the network section 5 analyses only: the
        # large networks' would take tens of GB.
        keep = model_name == cfg.overlap_model
        pairs = [(m, seed) for m in cfg.measures for seed in cfg.seeds]
        runs = [lottery.Run(run_config(model_name, data.name, s, m, seed), seed, arm(m), s.train,
                            rewind_iteration=s.rewind_iteration, keep_final=keep)
                for m, seed in pairs]
        keys = lottery.prune_loop(net, data, runs, s.levels, store, device, progress,
                                  name=model_name)
        rows += [{"key": k, "model": model_name, "measure": m, "seed": seed, "kind": "ticket",
                  "reinit_seed": None} for k, (m, seed) in zip(keys, pairs)]
        if keep and cfg.overlap.reinit_seeds:
            rows += _partial_reinit(cfg, model_name, net, data, s, store, device, progress,
                                    {(m, seed): k for k, (m, seed) in zip(keys, pairs)})
    return LayerwiseResult(cfg, pd.DataFrame(rows), info, str(device), store)


def _partial_reinit(cfg: Layerwise, model_name: str, net: torch.nn.Module,
                    data: data_mod.Dataset, s: Setting, store: RunStore, device: torch.device,
                    progress: bool, tickets: dict[tuple, str]) -> list[dict]:
    """Section 5's test: from theta_0' (theta_0 on the overlap O of the measures' tickets at
    the overlap level, fresh Kaiming draws on every other prunable weight, everything else
    theta_0), the same procedure, same data order, to that level; one run per measure and
    re-initialisation seed. None when a ticket run failed before that level."""
    ov = cfg.overlap
    keys = [tickets[(m, ov.seed)] for m in ov.measures]
    if not all(_reached(store, k, ov.level) for k in keys):
        return []
    overlap = analysis.overlap_mask([ticket(store, k, ov.level) for k in keys])
    theta_0 = models.initial_state(net, ov.seed)
    pairs = [(m, r) for m in ov.measures for r in ov.reinit_seeds]
    runs = []
    for m, r in pairs:
        fresh = models.initial_state(net, seeds.derive(ov.seed, "partial-reinit", r))
        init = analysis.partial_reinit(theta_0, fresh, overlap)
        runs.append(lottery.Run(run_config(model_name, data.name, s, m, ov.seed),
                                ov.seed, arm(m), s.train, rewind_iteration=s.rewind_iteration,
                                init=init))
    keys = lottery.prune_loop(net, data, runs, ov.level, store, device, progress,
                              name=f"{model_name} partial re-init")
    return [{"key": k, "model": model_name, "measure": m, "seed": ov.seed, "kind": "reinit",
             "reinit_seed": r} for k, (m, r) in zip(keys, pairs)]


def ticket(store: RunStore, key: str, level: int) -> dict[str, torch.Tensor]:
    """The mask a run trained with at ``level`` (the ticket at that level): the mask its
    previous level chose; level 0's is all ones."""
    if level == 0:
        return {n: torch.ones(p["shape"]) for n, p in store.load_round(key, 0)["next_mask"].items()}
    return {n: unpack_mask(p) for n, p in store.load_round(key, level - 1)["next_mask"].items()}


def _reached(store: RunStore, key: str, level: int) -> bool:
    """Whether a run trained ``level`` and every level before it without diverging."""
    return all(store.has_round(key, n) and store.load_round(key, n)["failed_at"] is None
               for n in range(level + 1))


@dataclass
class LayerwiseResult:
    """What the notebook needs: the runs, and which scale, data and device produced them."""

    config: Layerwise
    runs: pd.DataFrame  # one row per run: key, model, measure, seed, kind, reinit_seed
    data: dict[str, lottery.DataInfo]  # per network
    device: str
    store: RunStore
