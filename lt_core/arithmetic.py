"""How a training step computes: its precision (``Train.precision``) and whether it is
compiled (``Train.compile``) or replayed as a CUDA graph (``Train.cuda_graphs``).

fp32 is the papers' arithmetic and the default: with it a runner calls the functions it was
given, untouched, so numbers stay bit-identical to eager fp32. bf16 is autocast around the
forward pass (the backward follows its casts) with fp32 master weights, optimizer state and
BatchNorm running statistics (the engine's state is fp32 and autocast leaves buffers alone).
tf32 changes CUDA's matmuls and convolutions only; a CPU computes fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .config import Train


class Arithmetic:
    """How a step computes (``Train.precision``, ``compile``, ``cuda_graphs``) on a device:
    the autocast around forward passes and the compiler of the functions a runner calls."""

    def __init__(self, cfg: Train | None = None, device: torch.device | None = None):
        cuda = device is not None and device.type == "cuda"
        self.device_type = device.type if device is not None else "cpu"
        self.bf16 = cfg is not None and cfg.precision == "bf16"
        self.tf32 = cfg is not None and cfg.precision == "tf32" and cuda
        graphs = cfg is not None and cfg.cuda_graphs and cuda
        self.mode = "reduce-overhead" if graphs else "default" if (
            cfg is not None and cfg.compile) else None

    def autocast(self) -> torch.autocast:
        """Around a forward pass (the backward follows its casts): bf16, or nothing."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def loss(self, call: Any, wrap: Callable[[Callable], Callable] = lambda f: f) -> Callable:
        """The (``wrap``ped: vmapped) loss of an ``engine.Functional``: eager, or compiled
        through the form ``torch.compile`` traces."""
        if self.mode is None:
            return wrap(call.loss)
        return torch.compile(wrap(call.traced_loss), mode=self.mode)

    @contextlib.contextmanager
    def matmul_mode(self) -> Iterator[None]:
        """TensorFloat-32 matmuls and convolutions for the length of a training (CUDA)."""
        if not self.tf32:
            yield
            return
        before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        try:
            yield
        finally:
            torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before
