"""CIFAR-style augmentation as batched tensor ops on the device, after the batch gather.

Per example: zero-pad by ``padding``, crop a window of the original size at a random offset,
flip horizontally with probability 1/2 (torchvision's RandomCrop(size, padding) followed by
RandomHorizontalFlip, on raw pixels). The random draws are made per member and epoch from the
member's seed (``draws``), so a run and a resumed or rewound run see the same crops.
"""

from __future__ import annotations

import torch

from .. import seeds


def draws(seed: int, epoch: int, n: int, padding: int) -> torch.Tensor:
    """[3, n] int64 for the n positions of one epoch's order: row offset, column offset (each
    0..2*padding) and flip (0/1)."""
    g = seeds.generator(seed, "augment", epoch)
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=g)
    flips = torch.randint(0, 2, (1, n), generator=g)
    return torch.cat([offsets, flips])


def crop_flip(x: torch.Tensor, d: torch.Tensor, padding: int) -> torch.Tensor:
    """Augment examples ``x`` [..., C, H, W] with draws ``d`` [3, ...] (leading dims of x)."""
    lead, (c, h, w) = x.shape[:-3], x.shape[-3:]
    flat = x.reshape(-1, c, h, w)
    d = d.reshape(3, -1)
    padded = torch.nn.functional.pad(flat, (padding,) * 4)
    rows = d[0, :, None] + torch.arange(h, device=x.device)  # [N, H]
    cols = d[1, :, None] + torch.arange(w, device=x.device)  # [N, W]
    cols = torch.where(d[2, :, None].bool(), cols.flip(1), cols)
    n = torch.arange(flat.shape[0], device=x.device)[:, None, None]
    out = padded[n, :, rows[:, :, None], cols[:, None, :]]  # [N, H, W, C]
    return out.permute(0, 3, 1, 2).reshape(*lead, c, h, w)
