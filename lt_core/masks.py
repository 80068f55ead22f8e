"""Pruning rules as pure functions: criteria score, selections choose (paper_specs.md 0.5,
Notebook 1, 4a, 5.3, 6.2-6.3).

A criterion (``lt_core.criteria``: Z19's, L23's importance measures, or a researcher's own)
maps a layer's starting weights ``w_i``, end-of-training weights ``w_f`` and current mask to
a score, larger = keep. A selection turns scores into the next masks;
already-pruned entries are never re-selected, and ties are broken by a seeded generator:

* ``next_masks``: within each layer, ``floor(q_l * remaining_l)`` at the layer's rate (Z19);
* ``global_masks``: ``ceil(fraction * remaining)`` over all prunable tensors pooled (H21, L23),
  exactly that many, or by OpenLTH's threshold rule; or, given ``keep``, exactly as many kept
  as a reference mask keeps in all (H21's global-random baseline);
* ``reference_masks``: within each layer, as many kept as a reference mask has (H21's
  preserve-LPR and LPR-constrained pruning).

Layers named in ``ignore`` (OpenLTH's ``pruning_layers_to_ignore``: the output layer of its
LeNet and VGG) are never pruned but, as in OpenLTH, still count in ``remaining``. Scores are
ranked in the precision they were computed in (L23's measures: float64), so that values that
differ below float32 precision never tie.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import torch

from .criteria import score


def select(scores: torch.Tensor, mask: torch.Tensor, q: float, generator: torch.Generator,
           n_prune: int | None = None) -> torch.Tensor:
    """Prune floor(q * remaining) (or ``n_prune``) of the remaining entries with the lowest
    score.

    Entries already pruned (mask 0) stay pruned and are never counted again. Ties are broken
    by i.i.d. uniform draws from ``generator``: a seeded version of Z19's rule.
    """
    keep = mask.flatten().bool()
    k = math.floor(q * int(keep.sum()) + 1e-9) if n_prune is None else n_prune  # 0.7*10 -> 7
    new = keep.clone()
    if k == 0:
        return new.view_as(mask).to(mask.dtype)
    flat = scores.flatten()
    s = torch.where(keep, flat, torch.full_like(flat, math.inf))
    new[_lowest(s, k, generator)] = False
    return new.view_as(mask).to(mask.dtype)


def next_masks(
    criterion: str,
    w_i: dict[str, torch.Tensor],
    w_f: dict[str, torch.Tensor],
    masks: dict[str, torch.Tensor],
    rates: dict[str, float],
    generator: torch.Generator,
    power: int = 1,
    grads: dict[str, torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """One pruning step for every prunable layer: fraction 1 - (1 - q_l)^power of what remains.

    ``power=1`` is one iterative level; larger powers are Z19's one-shot "prune power".
    """
    out = {}
    for name, q in rates.items():
        # Rounded: 1 - (1 - 0.2)**1 is 0.19999999999999996, and floor() would prune one short.
        frac = round(1.0 - (1.0 - q) ** power, 12)
        s = score(criterion, w_i[name], w_f[name], masks[name], _of(grads, name))
        out[name] = select(s, masks[name], frac, generator)
    return out


def _lowest(scores: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of the ``k`` lowest of ``scores`` (flat), ties broken by i.i.d. uniform draws
    u from ``generator`` (one per entry, smallest u first): the first k in the order of
    (score, u). Found without sorting everything: every score below the k-th smallest goes,
    and the ties at it are ordered by u."""
    u = torch.rand(scores.numel(), generator=generator).to(scores.device)
    if k <= 0:
        return torch.zeros(0, dtype=torch.long, device=scores.device)
    below, tied = _split_at_kth(scores.nan_to_num(math.inf), k)  # NaN: never chosen first
    ut = u[tied]
    first, at = _split_at_kth(ut, k - len(below))  # the tied entries with the smallest u
    return torch.cat([below, tied[first], tied[at[: k - len(below) - len(first)]]])


def _split_at_kth(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the entries below the k-th smallest value (k >= 1) and of those equal to it."""
    if k <= 0:
        empty = torch.zeros(0, dtype=torch.long, device=x.device)
        return empty, empty
    kth = x.kthvalue(k).values
    return (x < kth).nonzero().squeeze(1), (x == kth).nonzero().squeeze(1)


def prune_count(fraction: float, remaining: int) -> int:
    """ceil(fraction * remaining), robust to the float product (0.2 * 266200 is 53240.0...1)."""
    return math.ceil(round(fraction * remaining, 9))


def global_masks(criterion: str, w_i: dict[str, torch.Tensor], w_f: dict[str, torch.Tensor],
                 masks: dict[str, torch.Tensor], fraction: float, count: str,
                 generator: torch.Generator, ignore: Collection[str] = (),
                 keep: int | None = None, grads: dict[str, torch.Tensor] | None = None
                 ) -> dict[str, torch.Tensor]:
    """Prune ``n = ceil(fraction * remaining)`` over the unpruned entries of all layers pooled,
    ``remaining`` counted over every layer, the ``ignore``d ones included (OpenLTH), which
    keep their masks.

    ``count="exact"``: the n lowest scores, ties broken at random. ``count="threshold"``
    (OpenLTH's ``sparse_global``): tau = the n-th smallest pooled score (0-based,
    ``sorted[n]``); keep the entries scoring more than tau, so at least n + 1 go (more on
    ties). ``keep``: instead of n, keep exactly ``keep`` weights in all (exact count, ties at
    random): a baseline as large as the ticket it matches, whatever rule made the ticket.
    """
    names = [n for n in masks if n not in ignore]
    held = {n: masks[n].flatten().bool() for n in names}
    pool = torch.cat([score(criterion, w_i[n], w_f[n], masks[n], _of(grads, n)).flatten()[
        held[n]] for n in names])
    remaining = sum(int(m.sum()) for m in masks.values())
    if keep is not None:
        if not 0 <= remaining - keep <= pool.numel():
            raise ValueError(f"cannot keep {keep} of the {remaining} remaining weights "
                             f"({pool.numel()} of them prunable)")
        n_prune, count = remaining - keep, "exact"
    else:
        n_prune = min(prune_count(fraction, remaining), pool.numel())
    if count == "threshold":
        if n_prune >= pool.numel():  # fewer weights left than the rule removes: all go
            pruned = torch.ones(pool.numel(), dtype=torch.bool, device=pool.device)
        else:
            # the (n+1)-th smallest by selection, not a full sort (6x faster on 15M scores)
            pruned = pool <= pool.kthvalue(n_prune + 1).values
    elif count == "exact":
        pruned = torch.zeros(pool.numel(), dtype=torch.bool, device=pool.device)
        pruned[_lowest(pool, n_prune, generator)] = True
    else:
        raise ValueError(f"unknown count {count!r}; choose exact or threshold")
    out, offset = dict(masks), 0
    for n in names:
        flat = held[n].clone()
        k = int(held[n].sum())
        flat[held[n].nonzero().squeeze(1)] = ~pruned[offset : offset + k]
        offset += k
        out[n] = flat.view_as(masks[n]).to(masks[n].dtype)
    return out


def reference_masks(criterion: str, w_i: dict[str, torch.Tensor], w_f: dict[str, torch.Tensor],
                    masks: dict[str, torch.Tensor], counts: dict[str, int],
                    generator: torch.Generator, grads: dict[str, torch.Tensor] | None = None
                    ) -> dict[str, torch.Tensor]:
    """Within each layer keep the ``counts[layer]`` best-scoring unpruned entries (ties at
    random): with ``random`` H21's preserve-LPR baseline, with a magnitude criterion its
    LPR-constrained pruning. A count above what remains is impossible (masks nest)."""
    out = {}
    for n, m in masks.items():
        remaining = int(m.sum())
        if counts[n] > remaining:
            raise ValueError(f"{n}: the reference keeps {counts[n]} weights but only "
                             f"{remaining} remain")
        s = score(criterion, w_i[n], w_f[n], m, _of(grads, n))
        out[n] = select(s, m, 0.0, generator, n_prune=remaining - counts[n])
    return out


def _of(grads: dict[str, torch.Tensor] | None, name: str) -> torch.Tensor | None:
    return None if grads is None else grads[name]


def density(masks: dict[str, torch.Tensor]) -> float:
    """Fraction of prunable weights remaining."""
    kept = sum(int(m.sum()) for m in masks.values())
    return kept / sum(m.numel() for m in masks.values())


def collapsed(masks: dict[str, torch.Tensor]) -> list[str]:
    """The layers left with no unpruned weight (layer collapse: no path from input to
    output through them), and, for a chain of linear layers, every layer once no unit of
    the output is reachable from the input through the kept weights."""
    empty = [n for n, m in masks.items() if not m.any()]
    if empty:
        return empty
    mats = list(masks.values())
    if not all(m.dim() == 2 for m in mats) or any(
            a.shape[0] != b.shape[1] for a, b in zip(mats, mats[1:])):
        return []  # not a chain of linear layers (convs, skips): empty layers only
    alive = torch.ones(mats[0].shape[1], dtype=torch.bool)
    for m in mats:  # units with a kept weight from a live unit of the layer before
        alive = (m.bool() & alive).any(1)
    return [] if alive.any() else list(masks)
