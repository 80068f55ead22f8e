"""Mask criteria and per-layer selection (paper_specs.md Notebook 1, 4a and 0.5). Pure functions.

A criterion maps a layer's starting weights ``w_i`` and end-of-training weights ``w_f`` to a
score, larger = keep. Selection prunes ``floor(q * remaining)`` entries with the lowest score;
already-pruned entries are never re-selected, and ties are broken by a seeded generator.
"""

from __future__ import annotations

import math
import typing

import torch

from .config import Criterion

CRITERIA: tuple[str, ...] = typing.get_args(Criterion)


def _rank(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Ascending rank (0..) of x among the kept entries; pruned entries rank below all."""
    x = torch.where(keep, x, torch.full_like(x, -math.inf))
    flat = x.flatten()
    ranks = torch.empty_like(flat)
    ranks[flat.argsort(stable=True)] = torch.arange(flat.numel(), dtype=flat.dtype, device=flat.device)
    return ranks.view_as(x)


def score(criterion: str, w_i: torch.Tensor, w_f: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Keep-score of every entry of one layer (pruned entries' scores are ignored)."""
    a_i, a_f = w_i.abs(), w_f.abs()
    if criterion == "large_final":
        return a_f
    if criterion == "small_final":
        return -a_f
    if criterion == "large_init":
        return a_i
    if criterion == "small_init":
        return -a_i
    if criterion in ("large_init_large_final", "small_init_small_final"):
        # The alpha-aligned two-percentile rule in its rank form: min(alpha|w_i|, |w_f|) with
        # alpha matching percentiles = the smaller of the two ranks among remaining entries.
        sign = 1.0 if criterion == "large_init_large_final" else -1.0
        keep = mask.bool()
        return torch.minimum(_rank(sign * a_i, keep), _rank(sign * a_f, keep))
    if criterion == "magnitude_increase":
        return a_f - a_i
    if criterion == "movement":
        return (w_f - w_i).abs()
    if criterion == "random":
        return torch.zeros_like(w_f)  # every entry ties: the seeded tie-break decides
    if criterion == "large_final_same_sign":
        return torch.where(torch.sign(w_i) == torch.sign(w_f), a_f, torch.zeros_like(a_f))
    if criterion == "large_final_diff_sign":
        return torch.where(torch.sign(w_i) != torch.sign(w_f), a_f, torch.zeros_like(a_f))
    raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")


def select(scores: torch.Tensor, mask: torch.Tensor, q: float, generator: torch.Generator
           ) -> torch.Tensor:
    """Prune floor(q * remaining) of the remaining entries with the lowest score.

    Entries already pruned (mask 0) stay pruned and are never counted again. Ties are broken
    by i.i.d. uniform draws from ``generator``: a seeded version of Z19's rule.
    """
    keep = mask.flatten().bool()
    k = math.floor(q * int(keep.sum()) + 1e-9)  # 0.7 * 10 must give 7, not 6
    new = keep.clone()
    if k == 0:
        return new.view_as(mask).to(mask.dtype)
    s = torch.where(keep, scores.flatten().float(), torch.full_like(keep, math.inf, dtype=torch.float32))
    u = torch.rand(s.numel(), generator=generator).to(s.device)
    by_u = u.argsort()
    order = by_u[s[by_u].argsort(stable=True)]  # ascending by (score, u)
    new[order[:k]] = False
    return new.view_as(mask).to(mask.dtype)


def next_masks(
    criterion: str,
    w_i: dict[str, torch.Tensor],
    w_f: dict[str, torch.Tensor],
    masks: dict[str, torch.Tensor],
    rates: dict[str, float],
    generator: torch.Generator,
    power: int = 1,
) -> dict[str, torch.Tensor]:
    """One pruning step for every prunable layer: fraction 1 - (1 - q_l)^power of what remains.

    ``power=1`` is one iterative round; larger powers are Z19's one-shot "prune power".
    """
    out = {}
    for name, q in rates.items():
        # Rounded: 1 - (1 - 0.2)**1 is 0.19999999999999996, and floor() would prune one short.
        frac = round(1.0 - (1.0 - q) ** power, 12)
        s = score(criterion, w_i[name], w_f[name], masks[name])
        out[name] = select(s, masks[name], frac, generator)
    return out


def density(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of prunable weights remaining."""
    kept = sum(int(m.sum()) for m in masks.values())
    return kept / sum(m.numel() for m in masks.values())
