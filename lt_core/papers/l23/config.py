"""L23's experiment schema and its per-network settings (Appendix A); the run key of a ticket."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import ClassVar

from ... import config as config_mod
from ... import data as data_mod
from ... import models
from ...config import (
    PAPER_PARAMS,
    Arm,
    ConfigError,
    CriterionName,
    Data,
    Runtime,
    Train,
    TrainOverride,
    from_dict,
    paper_networks,
)

MEASURES: tuple[str, ...] = ("magnitude", "l1", "l2", "softmax", "minmax")  # L23 Table 2's


@dataclass(frozen=True)
class Setting:
    """One network's training, data and pruning as L23 ran it (Appendix A)."""

    data: Data  # every option filled (dataset, no validation split, normalisation, augmentation)
    train: Train
    rewind_iteration: int  # k: pretrain k iterations, every level rewinds there
    levels: int  # pruning levels after the dense level 0
    # OpenLTH's rule for the output layer: never pruned, counted in the remaining weights
    # (its LeNet and VGG-16 defaults); ResNet-20's and ResNet-18's are pruned (OpenLTH's
    # defaults, and L23 App. C discusses ResNet-18's output layer being pruned less).
    ignore_output_layer: bool = False


# L23's networks as the paper ran them: params/paper/networks/l23.yaml.
PAPER: dict[str, Setting] = paper_networks("l23", Setting)
# Any other network (registered, or a user's nn.Module by import path): L23's procedure with
# no settings of its own. The experiment gives train.lr, the length and levels; the rest is
# this: SGD with momentum 0.9 at batch 128, OpenLTH's last batch kept, pixels in [0, 1], no
# augmentation, no rewinding, every prunable tensor pruned.
OTHER = Setting(Data(validation="none", normalize="none", augment="none"),
                Train(optimizer="sgd", momentum=0.9, batch_size=128, last_batch="keep"), 0, 0)
# The papers' names, as in book/paper_numbers/l23_table2.csv.
NETWORK_NAMES = {"lenet_300_100": "LeNet-300-100", "resnet20": "ResNet-20", "vgg16": "VGG-16",
                 "resnet18": "ResNet-18"}
MEASURE_NAMES = {"magnitude": "Magnitude", "l1": "L1", "l2": "L2", "softmax": "SoftMax",
                 "minmax": "MinMax", "lamp": "LAMP"}


@dataclass(frozen=True)
class Overlap:
    """Section 5: the tickets of ``measures`` at ``level`` of one network and seed (one
    initialisation), and the partial re-initialisation from ``reinit_seeds`` fresh draws."""

    model: str | None = None  # None: the first network
    measures: list[CriterionName] = field(default_factory=lambda: ["magnitude", "l1", "l2"])
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
class Layerwise(Runtime):
    """The L23 experiment: importance measures x seeds per network, and section 5."""

    EXPERIMENT: ClassVar[str] = "l23_layerwise"  # its name in params files and the registry

    # L23's networks (PAPER), any other registered one or a user's nn.Module as
    # `package.module:ClassName` (OTHER: give train.lr, the length and levels)
    models: list[str] = field(default_factory=lambda: ["lenet_300_100"])
    data: Data = field(default_factory=Data)  # None: each network's own (PAPER)
    # Fields of config.Train that replace L23's settings for every network (e.g. epochs).
    train: TrainOverride = field(default_factory=TrainOverride)
    levels: int | None = None  # None: the paper's per network
    rewind_iteration: int | None = None  # None: the paper's per network
    ignore_output_layer: bool | None = None  # None: the paper's per network (Setting)
    measures: list[CriterionName] = field(default_factory=lambda: list(MEASURES))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    overlap: Overlap = field(default_factory=Overlap)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("models", "measures", "seeds"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ConfigError(f"{name} must list distinct values (got {values})")
        if self.levels is not None and self.levels < 0:
            raise ConfigError(f"levels must be >= 0 (got {self.levels})")
        if self.rewind_iteration is not None and self.rewind_iteration < 0:
            raise ConfigError(f"rewind_iteration must be >= 0 (got {self.rewind_iteration})")
        for model in self.models:
            problem = models.name_problem(model, self.data.dataset)
            if problem:
                raise ConfigError(f"models: {problem}")
            p = PAPER.get(model, OTHER)
            dataset = self.data.dataset or p.data.dataset or models.NATIVE_DATASET[model]
            if (self.data.normalize is None and data_mod.normalize_problem(
                    p.data.normalize, dataset, data_mod.CHANNELS[dataset])):
                raise ConfigError(f"models: {model} normalises its data by ImageNet's statistics "
                                  f"in L23, which need 3-channel images; {dataset} has 1: set "
                                  "data.dataset: cifar10 (or leave it unset: each network's "
                                  "own), or use lenet_300_100 on mnist")
            s = self.setting(model)  # the train overrides make a valid Train for every network
            if model not in PAPER and (s.train.lr is None or self.levels is None or (
                    s.train.iterations is None and s.train.epochs is None)):
                raise ConfigError(f"{model} has no L23 settings: set train.lr, train.epochs (or "
                                  "train.iterations) and levels")
        ov = self.overlap
        if self.overlap_model not in self.models:
            raise ConfigError(f"overlap.model {ov.model} is not one of models {self.models}")
        if ov.seed not in self.seeds:
            raise ConfigError(f"overlap.seed {ov.seed} is not one of seeds {self.seeds}")
        missing = [m for m in ov.measures if m not in self.measures]
        if missing:
            raise ConfigError(f"overlap.measures {missing} are not in measures {self.measures}")
        levels = self.setting(self.overlap_model).levels
        if ov.reinit_seeds and ov.level > levels:  # the analyses show the levels that exist
            raise ConfigError(f"overlap.level {ov.level} exceeds the {levels} levels of "
                              f"{self.overlap_model}")

    @property
    def overlap_model(self) -> str:
        return self.overlap.model or self.models[0]

    def setting(self, model: str) -> Setting:
        """The network's L23 setting with this experiment's replacements."""
        p = PAPER.get(model, OTHER)
        given = {k: v for k, v in dataclasses.asdict(self.train).items() if v is not None}
        values = dataclasses.asdict(p.train)
        if "iterations" in given:  # a length in iterations replaces the paper's epochs
            values["epochs"] = None
        train = from_dict(Train, {**values, **given}, "train")
        d = p.data
        data = self.data.filled(dataset=d.dataset or models.NATIVE_DATASET.get(model),
                                validation=d.validation, normalize=d.normalize, augment=d.augment)
        return dataclasses.replace(
            p, data=data, train=train,
            levels=p.levels if self.levels is None else self.levels,
            rewind_iteration=(p.rewind_iteration if self.rewind_iteration is None
                              else self.rewind_iteration),
            ignore_output_layer=(p.ignore_output_layer if self.ignore_output_layer is None
                                 else self.ignore_output_layer))


def arm(measure: str, ignore_output_layer: bool = False) -> Arm:
    """L23's rule: the measure's scores pooled over all prunable tensors, OpenLTH's threshold
    (and, where the setting says so, OpenLTH's unpruned output layer)."""
    return Arm(measure, selection="global", fraction=0.2, count="threshold",
               ignore_output_layer=ignore_output_layer)


def run_config(model: str, data_name: str, s: Setting, measure: str, seed: int) -> dict:
    """The canonical config of one ticket run (its key). ``scores: float64``: measures are
    ranked in the precision they are computed in (they were rounded to float32 before)."""
    return config_mod.run_config("l23_ticket", model, data_name, s.train, seed,
                                 arm(measure, s.ignore_output_layer),
                                 rewind_iteration=s.rewind_iteration, scores="float64")




CHANCE_PCT = {"tiny_imagenet": 0.5}  # else 10 classes: 10%
SEEDS = 3  # L23: mean and std over 3 runs
# Table 2's rows; L23 Table 1's layers of ResNet-18, in our names.
TABLE1_LAYERS = {"Conv1": "conv1.weight", "Downsample1": "layer2.0.downsample.0.weight",
                 "Conv17": "layer4.1.conv2.weight", "FC": "fc.weight"}



@functools.cache
def paper_config() -> Layerwise:
    """L23's experiment at the paper's settings: ``params/paper/06_layerwise.yaml``."""
    return config_mod.load(str(PAPER_PARAMS / "06_layerwise.yaml"), Layerwise)


def _length(train: Train) -> str:
    if train.iterations is not None:
        return f"{train.iterations:,} iterations"
    return f"{train.epochs:g} epochs"
