"""One-shot structured pruning (H21 Fig 5): whole units and their BatchNorm. Pure functions."""

from __future__ import annotations

import math

import torch
from torch import nn


def unit_layers(model: nn.Module) -> dict[str, str | None]:
    """The prunable weights whose output units (conv filters, hidden neurons) structured
    pruning may remove, each with the BatchNorm right after it (None if there is none): every
    conv and linear layer but the first and the output layer (paper_specs.md 5.3)."""
    modules = list(model.named_modules())
    layers = {}
    for i, (name, m) in enumerate(modules):
        if isinstance(m, nn.Conv2d | nn.Linear):
            nxt = modules[i + 1][1] if i + 1 < len(modules) else None
            bn = modules[i + 1][0] if isinstance(nxt, nn.BatchNorm2d) else None
            layers[f"{name}.weight"] = bn
    names = list(layers)
    return {n: layers[n] for n in names[1:] if n != model.output_layer}


def filter_masks(model: nn.Module, weights: dict[str, torch.Tensor], fraction: float
                 ) -> dict[str, torch.Tensor]:
    """Masks that remove ``floor(fraction x units)`` of the eligible units (``unit_layers``)
    with the smallest mean |w| of their incoming weights, ranked over all those layers
    pooled; a removed unit's BatchNorm scale and shift are masked too. Every other prunable
    tensor keeps all its weights (ties: lowest index first)."""
    units = unit_layers(model)
    scores = torch.cat([weights[n].abs().flatten(1).mean(1) for n in units])
    n_prune = math.floor(fraction * len(scores) + 1e-9)
    pruned = torch.zeros(len(scores), dtype=torch.bool)
    pruned[scores.argsort(stable=True)[:n_prune]] = True
    out = {n: torch.ones_like(weights[n]) for n in model.prune_rates}
    offset = 0
    for n, bn in units.items():
        rows = pruned[offset: offset + weights[n].shape[0]]
        offset += len(rows)
        out[n][rows] = 0.0
        if bn is not None:
            for p in ("weight", "bias"):
                out[f"{bn}.{p}"] = (~rows).float()
    return out
