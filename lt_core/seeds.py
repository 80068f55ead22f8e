"""Independent random streams derived from one run seed.

Initialisation, data order and mask tie-breaks each get their own generator, so changing
how many numbers one of them draws never shifts the others.
"""

from __future__ import annotations

import hashlib

import torch


def derive(seed: int, *purpose: object) -> int:
    """A 63-bit seed for (seed, purpose...), stable across machines and Python versions."""
    text = ":".join(str(p) for p in (seed, *purpose))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def generator(seed: int, *purpose: object) -> torch.Generator:
    return torch.Generator().manual_seed(derive(seed, *purpose))
