"""Typed experiment configs: dataclasses loaded from the params/ YAML files.

The dataclasses are the schema: a field's type (``Literal`` for a closed set of
names) is what the loader checks, so an unknown or invalid field fails with one
line naming it and the allowed values, before anything is trained or written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

SCHEMA_VERSION = 1  # bump when the meaning of a stored result changes

ModelName = Literal["fc", "conv2", "conv4", "conv6"]
DatasetName = Literal["mnist", "cifar10"]
Criterion = Literal[
    "large_final",
    "small_final",
    "large_init",
    "small_init",
    "large_init_large_final",
    "small_init_small_final",
    "magnitude_increase",
    "movement",
    "random",
    "large_final_same_sign",
    "large_final_diff_sign",
]
Mask1Action = Literal["rewind"]
Mask0Action = Literal["zero"]


class ConfigError(ValueError):
    """An invalid parameter; the message is one line that names the field."""


@dataclass(frozen=True)
class Data:
    dataset: DatasetName = "mnist"
    # Folder holding mnist/ or cifar-10-batches-py/ or cifar10-jpg/. None: $LT_DATA, else ./data;
    # MNIST then falls back to the embedded real digits when no files are found there.
    root: str | None = None


@dataclass(frozen=True)
class Train:
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1.2e-3
    batch_size: int = 60
    iterations: int = 50_380
    eval_every: int = 100
    momentum: float = 0.9  # SGD only
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _positive(self, "lr", "batch_size", "iterations", "eval_every")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be >= 0 (got {self.weight_decay})")


@dataclass(frozen=True)
class Pruning:
    rounds: int = 24  # pruning rounds after the dense round 0
    criteria: list[Criterion] = field(default_factory=lambda: ["large_final", "random"])
    mask1_action: Mask1Action = "rewind"
    mask0_action: Mask0Action = "zero"

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise ConfigError(f"pruning.rounds must be >= 0 (got {self.rounds})")
        if not self.criteria:
            raise ConfigError("pruning.criteria must name at least one criterion")


@dataclass(frozen=True)
class Experiment:
    """One iterative-pruning experiment: criteria x seeds trained as one population."""

    model: ModelName = "fc"
    data: Data = field(default_factory=Data)
    train: Train = field(default_factory=Train)
    pruning: Pruning = field(default_factory=Pruning)
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    store: str = "runs"  # run-store root

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ConfigError("seeds must list at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct (got {self.seeds})")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be one of auto, cpu, cuda, cuda:N (got {self.device!r})")


def _positive(obj: Any, *names: str) -> None:
    section = type(obj).__name__.lower()
    for name in names:
        if getattr(obj, name) <= 0:
            raise ConfigError(f"{section}.{name} must be > 0 (got {getattr(obj, name)})")


# ----------------------------------------------------------------------------------------------
# Loading


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from a plain dict, checking every field's name and type."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'params'} must be a mapping (got {type(data).__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(
                f"unknown field '{_join(where, key)}'; allowed: {', '.join(fields)}"
            )
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
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(
                f"field '{where}' must be one of {', '.join(map(str, allowed))} (got {value!r})"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"field '{where}' must be a list (got {value!r})")
        (inner,) = typing.get_args(tp)
        return [_convert(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"field '{where}' must be a number (got {value!r})")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"field '{where}' must be an integer (got {value!r})")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"field '{where}' must be a string (got {value!r})")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {where}")  # a bug in the schema


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def load(source: str | Path | dict, cls: type = Experiment) -> Any:
    """Load a config from a YAML path or an already-parsed dict (papermill's parameters)."""
    if isinstance(source, dict):
        return from_dict(cls, source)
    path = Path(source)
    if not path.exists():
        raise ConfigError(f"params file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    try:
        return from_dict(cls, data)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def content_hash(obj: dict) -> str:
    """sha256 of the canonical JSON of ``obj`` plus the schema version: a run's key."""
    canonical = json.dumps(
        {"schema": SCHEMA_VERSION, "config": obj}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
