"""A training run's length and learning-rate schedule, indexed by the global step.

Pure arithmetic on a resolved ``Train`` config and the training-set size: iterations per
epoch (floor(N/B), Z19: the last partial batch dropped; or ceil(N/B), OpenLTH: kept), the
schedule's length, where training stops (a truncated schedule, H21 Fig 9), and the factor
on the learning rate at each step: x gamma at each milestone passed (OpenLTH's
``gamma ** bisect(milestones, step)``) times a linear warmup ``min(1, step / warmup)``.
Rewinding to step k restarts the same schedule at k, so milestones stay at absolute epochs.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from .config import ConfigError, Train


@dataclass(frozen=True)
class Plan:
    per_epoch: int  # iterations per epoch
    total: int  # iterations of the whole schedule
    stop: int  # the iteration training ends at (total, or the truncation)
    milestones: tuple[int, ...]  # iterations where the learning rate drops by gamma
    warmup: int  # iterations of linear warmup
    gamma: float

    def factor(self, step: int) -> float:
        """The learning-rate multiplier for the update at global step ``step`` (0-based)."""
        f = self.gamma ** bisect.bisect_right(self.milestones, step)
        return f * min(1.0, step / self.warmup) if self.warmup else f


def iterations_per_epoch(n_train: int, batch_size: int, last_batch: str) -> int:
    return n_train // batch_size if last_batch == "drop" else math.ceil(n_train / batch_size)


def plan(cfg: Train, n_train: int, data_name: str = "the data") -> Plan:
    """The resolved schedule; an impossible one is a ConfigError naming the field."""
    cfg.check_batch_size(data_name, n_train)
    per_epoch = iterations_per_epoch(n_train, cfg.batch_size, cfg.last_batch)
    if cfg.iterations is None and cfg.epochs is None:
        raise ConfigError("train: set iterations or epochs")
    total = cfg.iterations if cfg.iterations is not None else round(cfg.epochs * per_epoch)
    if total < 1:
        raise ConfigError(f"train.epochs {cfg.epochs} is less than one iteration")
    milestones = tuple(round(m * per_epoch) for m in cfg.milestones)
    for m, it in zip(cfg.milestones, milestones):
        if it >= total:
            raise ConfigError(f"train.milestones: epoch {m:g} is at or past the end of training "
                              f"({total} iterations = {total / per_epoch:g} epochs)")
    # A positive length is at least one iteration (a smoke-scale schedule has only a few).
    warmup = max(1, round(cfg.warmup_epochs * per_epoch)) if cfg.warmup_epochs else 0
    if warmup >= total:
        raise ConfigError(f"train.warmup_epochs {cfg.warmup_epochs:g} is as long as training or "
                          f"longer ({total / per_epoch:g} epochs)")
    stop = total if cfg.stop_epoch is None else max(1, round(cfg.stop_epoch * per_epoch))
    if not 1 <= stop <= total:
        raise ConfigError(f"train.stop_epoch {cfg.stop_epoch:g} must lie within the schedule "
                          f"(0, {total / per_epoch:g}] epochs")
    return Plan(per_epoch, total, stop, milestones, warmup, cfg.gamma)


def check_rewind(step: int, p: Plan, field: str = "rewind_iteration") -> None:
    """A rewind point k must leave something to train: 0 <= k < the end of training."""
    if not 0 <= step < p.stop:
        raise ConfigError(f"{field} {step} must be >= 0 and before the end of training "
                          f"(iteration {p.stop})")
