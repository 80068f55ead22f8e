"""The order a population's members see their training data in: per member and epoch a
permutation, and the augmentation draws, from the member's own seed (``engine.train``'s
batches)."""

from __future__ import annotations

import torch

from .. import seeds
from .augment import draws


class Batches:
    """Each member's batch indices (and augmentation draws) at a global step.

    A fresh permutation per epoch from the member's own stream (Z19's order: one generator
    per member across epochs, so a start at epoch e first draws and discards e permutations);
    augmentation draws per member and epoch (``data.augment.draws``).
    """

    def __init__(self, member_seeds: list[int], n: int, batch: int, per_epoch: int,
                 padding: int | None, device: torch.device):
        self.seeds = list(member_seeds)
        self.n, self.batch, self.per_epoch, self.padding = n, batch, per_epoch, padding
        self.device = device
        self.orders = [seeds.generator(s, "data-order") for s in self.seeds]
        self.epoch = -1
        self.perm: torch.Tensor | None = None
        self.draws: torch.Tensor | None = None

    def advance(self, epoch: int) -> None:
        """Move to ``epoch`` (never backwards)."""
        while self.epoch < epoch:
            self.epoch += 1
            perms = [torch.randperm(self.n, generator=g) for g in self.orders]
            if self.epoch == epoch:
                self.perm = torch.stack(perms).to(self.device)
                if self.padding is not None:
                    self.draws = torch.stack([draws(s, epoch, self.n, self.padding)
                                              for s in self.seeds], 1).to(self.device)

    def at_position(self, pos: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """[P, b] indices of batch ``pos`` of the current epoch, and its [3, P, b] draws."""
        sl = slice(pos * self.batch, min((pos + 1) * self.batch, self.n))
        return self.perm[:, sl], None if self.draws is None else self.draws[:, :, sl]
