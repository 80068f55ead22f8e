"""Where and how a population trains: the device (``resolve_device``: auto, cpu, cuda, cuda:N,
checked against this machine) and the execution strategy per device and network kind
(``EXECUTION``: one vmapped call over the members, or a loop over them), measured by
``make bench``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .config import ConfigError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:  # torch's "Invalid device string" (cuda:abc, cuda:-1)
        resolved = None
    if resolved is None or resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be one of auto, cpu, cuda, cuda:N (got "
                          f"{str(device)[:40]!r})")
    if resolved.type == "cuda" and (resolved.index or 0) >= torch.cuda.device_count():
        raise ConfigError(f"device {str(resolved)!r}: this machine has "
                          f"{torch.cuda.device_count()} CUDA devices; use device: cpu or auto")
    return resolved


@dataclass(frozen=True)
class Execution:
    strategy: Literal["vmap", "loop"]
    channels_last: bool = False  # inputs (loop) in channels_last memory format


# (device type, has conv layers, population of one) -> execution; measured by `make bench`
# (module docstring). On CPU it never depends on P: that keeps a member's numbers independent
# of its neighbours there. No channels_last on the CPU, though 1.4x faster: torch 2.13's CPU
# kernels over channels_last tensors hang at random in an OpenMP barrier (seen in the weight
# gradient of a strided 1x1 convolution and in BatchNorm's backward, 2 threads).
EXECUTION = {
    ("cpu", False, False): Execution("vmap"),
    ("cpu", False, True): Execution("vmap"),
    ("cpu", True, False): Execution("loop"),
    ("cpu", True, True): Execution("loop"),
    ("cuda", False, False): Execution("vmap"),
    ("cuda", False, True): Execution("vmap"),
    ("cuda", True, False): Execution("vmap"),
    ("cuda", True, True): Execution("loop", channels_last=True),
}


def execution_for(model: nn.Module, device: torch.device, population: int = 2) -> Execution:
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    return EXECUTION[(device.type, has_conv, population == 1)]


def pad_population(execution: Execution, device: torch.device, P: int) -> bool:
    """Whether a population of one trains as two (itself and a copy) for its numbers to equal
    those it gets in any larger population: on CPU a batched matmul over P >= 2 members runs
    one single-threaded matmul per member, but over one member a multi-threaded one, whose
    sums split differently (measured: 1e-8 after one step at 2 threads, equal at 1 thread)."""
    return execution.strategy == "vmap" and device.type == "cpu" and P == 1
