"""Typed experiment configs: dataclasses loaded from the params/ YAML files.

The dataclasses are the schema: a field's type (``Literal`` for a closed set of
names) is what the loader checks, so an unknown or invalid field fails with one
line naming it and the allowed values, before anything is trained or written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import criteria
from .data import CHANNELS, normalize_problem
from .files import resource
from .params_file import ConfigError, quote, read_yaml

SCHEMA_VERSION = 1  # bump when the meaning of a stored result changes

DatasetName = Literal["mnist", "cifar10", "tiny_imagenet"]
# A pruning criterion's name: one of ``lt_core.criteria``'s registry (Z19's mask criteria,
# L23's importance measures) or a researcher's own by import path, module:function.
CriterionName = typing.NewType("CriterionName", str)
# Z19 §3 "mask-1 actions": where the kept weights start the next level.
Mask1Action = Literal[
    "rewind",
    "reinit",
    "reinit_init_sign",
    "reshuffle",
    "reshuffle_init_sign",
    "constant",
    "constant_init_sign",
    "continue",  # H21 Fig 4c (LR rewinding): the trained weights go on; only the LR rewinds
]
# Z19 §4 "mask-0 actions": the values the pruned weights are frozen at.
Mask0Action = Literal[
    "zero",  # freeze at zero (the lottery ticket)
    "init",  # freeze at init
    "init_or_zero",  # set pruned to init, or 0 if it moved toward zero
    "init_or_zero_all",  # the same rule applied to all weights
    "random_zeros",  # control 1: as many zeros, on random pruned positions
    "init_or_zero_reversed",  # control 2: 0 if it moved away from zero
]


# The papers' settings, and nowhere else: their experiments at paper scale (params/paper/*.yaml)
# and what a params file means by a field it leaves out for one network (networks/<paper>.yaml).
PAPER_PARAMS = resource("params", "_params") / "paper"


@dataclass(frozen=True)
class Data:
    """Every data option, one section for every experiment. None: the experiment's own choice
    for the network, its paper's (``filled``): Z19 holds 5,000 training examples out to
    validate and neither normalises nor augments; H21 and L23 train on every example, with
    their per-network normalisation and augmentation."""

    dataset: DatasetName | None = None  # None: the network's (MNIST for FC, CIFAR-10 for ConvN)
    # Folder holding mnist/ or cifar-10-batches-py/ or cifar10-jpg/. None: $LT_DATA, else ./data;
    # MNIST then falls back to the embedded real digits when no files are found there.
    root: str | None = None
    validation: Literal["z19", "none"] | None = None  # z19: 5,000 held out; none: all train
    normalize: Literal["none", "dataset", "imagenet"] | None = None  # per channel: whose stats
    augment: Literal["none", "crop_flip"] | None = None
    crop_padding: int = 4  # crop_flip: pad this many pixels, crop back at random

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ConfigError(f"crop_padding must be >= 0 (got {self.crop_padding})")

    def filled(self, **choices: str | None) -> Data:
        """This section with every None replaced by the experiment's ``choices`` (dataset,
        validation, normalize, augment), its normalisation checked against the dataset."""
        given = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        out = dataclasses.replace(self, **{**choices, **given})
        if out.dataset is not None and out.normalize is not None:
            problem = normalize_problem(out.normalize, out.dataset, CHANNELS[out.dataset])
            if problem:
                raise ConfigError(f"data.{problem}")
        return out

    def options(self) -> dict[str, Any]:
        """``data.load``'s keyword arguments (a filled section)."""
        return {"validation": self.validation, "normalize": self.normalize,
                "augment": self.augment, "crop_padding": self.crop_padding}


# Fields added after results were first stored carry ADDED: at their default they are left out
# of a run's key (``key_dict``), so a new option never changes an existing run's key.
ADDED = {"added": True}


@dataclass(frozen=True)
class Train:
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float | None = None  # None: the paper's for the network (PAPER_TRAIN)
    batch_size: int = 60
    iterations: int | None = None  # None: the paper's for the network, or `epochs`
    eval_every: int = 100
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0  # coupled (added to the gradient), as torch.optim
    epochs: float | None = field(default=None, metadata=ADDED)  # length in epochs instead
    # Iterations per epoch: floor(N/B), the last partial batch dropped (Z19), or ceil(N/B),
    # kept (OpenLTH).
    last_batch: Literal["drop", "keep"] = field(default="drop", metadata=ADDED)
    milestones: list[float] = field(default_factory=list, metadata=ADDED)  # epochs: lr x gamma
    gamma: float = field(default=0.1, metadata=ADDED)
    warmup_epochs: float = field(default=0.0, metadata=ADDED)  # linear warmup from lr 0
    # Train only the first stop_epoch epochs of the schedule (H21 Fig 9's early pruning).
    stop_epoch: float | None = field(default=None, metadata=ADDED)
    # What marks a run diverged (engine.divergence): its monitored loss non-finite, above 10x
    # its start or never below it ("loss"); or only non-finite ("non_finite": the smoke
    # scale, whose few steps can neither learn nor settle BatchNorm's statistics).
    divergence: Literal["loss", "non_finite"] = field(default="loss", metadata=ADDED)
    # Arithmetic of the forward and backward passes: fp32 (the papers'); tf32 (CUDA matmuls
    # and convolutions in TensorFloat-32; a CPU computes fp32); bf16 (autocast to bfloat16,
    # with fp32 master weights, optimizer state and BatchNorm statistics).
    precision: Literal["fp32", "tf32", "bf16"] = field(default="fp32", metadata=ADDED)
    # torch.compile of the population's forward and backward (numbers within float tolerance
    # of eager, not bit-identical: part of the key).
    compile: bool = field(default=False, metadata=ADDED)
    # On CUDA, each step replayed as one captured CUDA graph (torch.compile's
    # "reduce-overhead"); elsewhere it trains as without.
    cuda_graphs: bool = field(default=False, metadata=ADDED)

    def __post_init__(self) -> None:
        _positive(self, "lr", "batch_size", "iterations", "eval_every", "epochs", "gamma",
                  "stop_epoch")
        for name in ("momentum", "weight_decay"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0 (got {getattr(self, name)})")
        if self.iterations is not None and self.epochs is not None:
            raise ConfigError("train: set iterations or epochs, not both")
        if self.warmup_epochs < 0:
            raise ConfigError(f"train.warmup_epochs must be >= 0 (got {self.warmup_epochs})")
        if any(m <= 0 for m in self.milestones) or list(self.milestones) != sorted(self.milestones):
            raise ConfigError(f"train.milestones must be increasing epochs > 0 "
                              f"(got {quote(self.milestones)})")
        if self.epochs is not None:  # checkable without the data; iterations: see schedule.plan
            late = [m for m in self.milestones if m >= self.epochs]
            if late:
                raise ConfigError(f"train.milestones {late} at or past the end of training "
                                  f"({self.epochs:g} epochs)")
            if self.warmup_epochs >= self.epochs:
                raise ConfigError(f"train.warmup_epochs {self.warmup_epochs:g} is as long as "
                                  f"training or longer ({self.epochs:g} epochs)")
            if self.stop_epoch is not None and self.stop_epoch > self.epochs:
                raise ConfigError(f"train.stop_epoch {self.stop_epoch:g} is past the end of the "
                                  f"schedule ({self.epochs:g} epochs)")

    def check_batch_size(self, data_name: str, n_train: int, where: str = "train") -> None:
        """Once the data is known, before anything is registered: a batch must fit in it."""
        if self.batch_size > n_train:
            raise ConfigError(f"{where}.batch_size {self.batch_size} exceeds the {n_train} "
                              f"training examples of {data_name}; lower it")



def _override(cls: type) -> type:
    """``cls`` with every field optional: a section that replaces only the fields it gives
    (None: keep the value it would replace), each checked with its type as in ``cls``."""
    fields = [(f.name, f"{f.type} | None", field(default=None)) for f in dataclasses.fields(cls)]
    part = dataclasses.make_dataclass(f"{cls.__name__}Override", fields, frozen=True)
    part.__module__ = cls.__module__  # its field types are this module's names
    part.__doc__ = f"Fields of ``{cls.__name__}`` that replace a paper's settings."
    return part


TrainOverride = _override(Train)  # e.g. L23's `train:`, over each network's paper settings


@dataclass(frozen=True)
class Arm:
    """One line of a figure: a pruning rule (a criterion scoring every weight, and how the
    scores select: within each layer at its rate, globally, or within each layer with a
    reference run's counts) with its mask-1 and mask-0 actions."""

    criterion: CriterionName = "large_final"
    mask1_action: Mask1Action = "rewind"
    mask0_action: Mask0Action = "zero"
    # layerwise: floor(rate x remaining) per layer (Z19); global: ceil(fraction x remaining)
    # over all prunable tensors pooled (H21, L23); reference: per layer as many kept as a
    # reference run's mask at the same level (H21's preserve LPR and LPR-constrained);
    # reference_total: pooled, as many kept in all as the reference (H21's global random).
    selection: Literal["layerwise", "global", "reference", "reference_total"] = field(
        default="layerwise", metadata=ADDED)
    fraction: float = field(default=0.2, metadata=ADDED)  # global: of the remaining weights
    # global: exactly that many pruned, ties broken at random (seeded), or OpenLTH's rule:
    # threshold = the n-th smallest score, keep score > threshold (prunes extra on ties).
    count: Literal["exact", "threshold"] = field(default="exact", metadata=ADDED)
    # The output layer is never pruned but still counts in the remaining weights, as in
    # OpenLTH (its LeNet and VGG: pruning_layers_to_ignore = fc.weight; paper_specs D27).
    ignore_output_layer: bool = field(default=False, metadata=ADDED)

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ConfigError(f"arm.fraction must be in (0, 1) (got {self.fraction})")

    @property
    def label(self) -> str:
        """The criterion, plus each choice that is not the lottery ticket's default."""
        parts = [self.criterion]
        parts += [self.selection] if self.selection != "layerwise" else []
        parts += ["output layer unpruned"] if self.ignore_output_layer else []
        parts += [self.mask1_action] if self.mask1_action != "rewind" else []
        parts += [f"mask0 {self.mask0_action}"] if self.mask0_action != "zero" else []
        return ", ".join(parts)


@dataclass(frozen=True)
class RayOptions:
    """Where Ray runs populations (``executor: ray``); never part of a run's key."""

    address: str | None = None  # None: $RAY_ADDRESS, else a local cluster
    gpus_per_task: float = 0.0  # e.g. 0.25: four populations share a GPU
    cpus_per_task: int = 1  # also the task's intra-op threads
    max_population: int | None = None  # split larger populations into tasks of this size
    max_retries: int = 3  # a task whose worker died runs again

    def __post_init__(self) -> None:
        if self.gpus_per_task < 0:
            raise ConfigError(f"ray.gpus_per_task must be >= 0 (got {self.gpus_per_task})")
        _positive(self, "cpus_per_task", "max_population")
        if self.max_retries < 0:
            raise ConfigError(f"ray.max_retries must be >= 0 (got {self.max_retries})")


Executor = Literal["local", "ray"]  # where populations train (lt_core.executor)


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """Where an experiment trains and keeps its runs: every experiment config's last fields,
    never part of a run's key."""

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    store: str = "runs"  # run-store root
    executor: Executor = "local"  # where populations train (lt_core.executor)
    ray: RayOptions = field(default_factory=RayOptions)

    def __post_init__(self) -> None:
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be one of auto, cpu, cuda, cuda:N "
                              f"(got {quote(self.device)})")


def _positive(obj: Any, *names: str) -> None:
    section = type(obj).__name__.lower()
    for name in names:
        if getattr(obj, name) is not None and getattr(obj, name) <= 0:
            raise ConfigError(f"{section}.{name} must be > 0 (got {getattr(obj, name)})")


# ----------------------------------------------------------------------------------------------
# Loading


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from a plain dict, checking every field's name and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'params'} must be a mapping (got {type(data).__name__})")
    # the experiment's own fields first, then the shared ones (Runtime's, keyword-only)
    fields = {f.name: f for f in sorted(dataclasses.fields(cls), key=lambda f: f.kw_only)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            name = key[:40] if isinstance(key, str) else quote(key)
            raise ConfigError(f"unknown field '{_join(where, name)}'; allowed: {', '.join(fields)}")
    missing = [_join(where, f.name) for f in fields.values() if f.name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"missing field{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(map(repr, missing))} (no default)")
    kwargs = {key: _convert(hints[key], value, _join(where, key)) for key, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if where and not str(err).startswith(where):
            raise ConfigError(f"{where}.{err}") from None
        raise


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is CriterionName:
        return criteria.check(value, where)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"field '{where}' must be one of {', '.join(map(str, allowed))} "
                              f"(got {quote(value)})")
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if tp is dict or origin is dict:  # checked by the dataclass that holds it
        if not isinstance(value, dict):
            raise ConfigError(f"field '{where}' must be a mapping of fields (got {quote(value)})")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"field '{where}' must be a list (got {quote(value)})")
        (inner,) = typing.get_args(tp)
        return [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"field '{where}' must be true or false (got {quote(value)})")
        return value
    if tp is float:
        return float(_number(value, where, "a number"))
    if tp is int:
        number = _number(value, where, "an integer")
        if isinstance(number, float) and not number.is_integer():
            raise ConfigError(f"field '{where}' must be an integer (got {quote(value)})")
        return int(number)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"field '{where}' must be a string (got {quote(value)})")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {where}")  # a bug in the schema


def _number(value: Any, where: str, expected: str) -> int | float:
    """A finite number, also from a string: YAML 1.1 reads ``1e-3`` and ``1e6`` (no dot) as
    strings, but people write numbers that way."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"field '{where}' must be {expected} (got {quote(value)})")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        raise ConfigError(f"field '{where}' must be a finite number (got {quote(value)})")
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def load(source: str | Path | dict, cls: type) -> Any:
    """Load a config of class ``cls`` from a YAML path or an already-parsed dict (papermill's
    parameters). An ``experiment`` field (``lt_core.experiments``) must name ``cls``'s
    experiment; ``experiments.config`` finds the class from the values."""
    if isinstance(source, dict):
        return from_dict(cls, _experiment_checked(source, cls))
    data = read_yaml(source)
    try:
        return from_dict(cls, _experiment_checked(data, cls))
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None


def _experiment_checked(values: dict, cls: type) -> dict:
    """``values`` without its ``experiment`` field, which must be ``cls.EXPERIMENT`` (if given)."""
    if not isinstance(values, dict) or "experiment" not in values:
        return values
    named = values["experiment"]
    if named == getattr(cls, "EXPERIMENT", None):
        return {k: v for k, v in values.items() if k != "experiment"}
    raise ConfigError(f"this params file is for experiment {quote(named)}, not for "
                      f"{cls.__name__} ({getattr(cls, 'EXPERIMENT', '?')})")


def paper_networks(paper: str, cls: type) -> dict[str, Any]:
    """A paper's per-network settings (``params/paper/networks/<paper>.yaml``), each network's
    checked as a ``cls``."""
    path = PAPER_PARAMS / "networks" / f"{paper}.yaml"
    try:
        return {name: from_dict(cls, values, name) for name, values in read_yaml(path).items()}
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def key_dict(cfg: Any) -> dict:
    """``asdict(cfg)`` without the ADDED fields that hold their defaults (recursively): what a
    run's key hashes."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.metadata.get("added") and value == _default(f):
            continue
        out[f.name] = key_dict(value) if dataclasses.is_dataclass(value) else \
            [key_dict(v) if dataclasses.is_dataclass(v) else v for v in value] \
            if isinstance(value, list) else value
    return out


def run_config(kind: str, model: str, data: str, train: Any, seed: int, arm: Any = None,
               **fields: Any) -> dict:
    """The canonical config of one training, what its store key hashes: every paper's run
    keys are built here. Its kind, network, data, training (``key_dict``: every field, so that
    two different trainings never share a key), arm (criterion and actions) where it prunes,
    seed, and the fields that are its experiment's own."""
    return {"kind": kind, "model": model, "data": data, "train": key_dict(train),
            **(key_dict(arm) if arm is not None else {}), "seed": seed, **fields}


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default


def content_hash(obj: dict) -> str:
    """sha256 of the canonical JSON of ``obj`` plus the schema version: a run's key."""
    canonical = json.dumps(
        {"schema": SCHEMA_VERSION, "config": obj}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
