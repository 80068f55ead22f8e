"""Mask-1 and mask-0 actions (Z19 §3, §4; paper_specs.md Notebooks 2 and 3). Pure functions.

Per layer, for the step from level n to level n+1:

* ``w_s`` the level's starting weights (what training started from; pruned entries hold
  their frozen values), ``w_e`` its end-of-training weights, ``mask`` the *new* mask;
* a **mask-1 action** says where the kept weights start the next level, computed from the
  level's starting weights ``w0`` (so reinit re-permutes every level, as in Z19's code);
* a **mask-0 action** says at which values the pruned weights are frozen. Frozen non-zero
  values take part in the forward pass: W_eff = W * M + V * (1 - M).
"""

from __future__ import annotations

import typing

import torch

from .config import Mask0Action, Mask1Action

MASK1_ACTIONS: tuple[str, ...] = typing.get_args(Mask1Action)
MASK0_ACTIONS: tuple[str, ...] = typing.get_args(Mask0Action)


def _permute(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    flat = x.flatten()
    return flat[torch.randperm(flat.numel(), generator=generator).to(flat.device)].view_as(x)


def mask1_action(action: str, w0: torch.Tensor, mask: torch.Tensor, generator: torch.Generator,
                 w_e: torch.Tensor | None = None) -> torch.Tensor:
    """Starting values of one layer's kept weights for the next level (pruned entries of the
    result are ignored: they hold their frozen values).

    ``w0`` is the level's starting weights (the original init under ``rewind``); sigma is the
    population std over *all* entries of ``w0`` (paper_specs.md decision 9). ``continue``
    (H21 Fig 4c, learning-rate rewinding after Renda et al. 2020) keeps the level's
    end-of-training weights ``w_e``.
    """
    if action == "rewind":
        return w0.clone()
    if action == "continue":
        return w_e.clone()
    if action in ("reinit", "reinit_init_sign"):
        # A draw without replacement from the layer's own init values, over all positions.
        out = _permute(w0, generator)
        return out.abs() * torch.sign(w0) if action == "reinit_init_sign" else out
    if action in ("reshuffle", "reshuffle_init_sign"):
        # Permute among the kept positions only.
        keep = mask.bool()
        out = w0.clone()
        vals = _permute(w0[keep], generator)
        out[keep] = vals.abs() * torch.sign(w0[keep]) if action == "reshuffle_init_sign" else vals
        return out
    if action in ("constant", "constant_init_sign"):
        sigma = w0.std(unbiased=False)
        signed = sigma * torch.sign(w0)
        return signed if action == "constant_init_sign" else _permute(signed, generator)
    raise ValueError(f"unknown mask1_action {action!r}; choose one of {', '.join(MASK1_ACTIONS)}")


def mask0_action(action: str, w_s: torch.Tensor, w_e: torch.Tensor, mask: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Frozen values of one layer's pruned entries, and which kept entries restart at zero.

    Returns ``(frozen, zero_kept)``: ``frozen`` holds the value of every pruned entry (entries
    where ``mask`` is 1 are 0 there and unused); ``zero_kept`` is True where a kept weight must
    start the next level at 0 (only ``init_or_zero_all``). A previously pruned entry has
    ``w_e == w_s`` (it was frozen), so it never "moves toward zero" and keeps its value.
    """
    pruned = ~mask.bool()
    toward_zero = w_e.abs() < w_s.abs()  # strict; a sign flip with smaller magnitude counts
    no_zeroing = torch.zeros_like(pruned)
    if action == "zero":
        zero = pruned
    elif action == "init":
        zero = no_zeroing
    elif action in ("init_or_zero", "init_or_zero_all"):
        zero = pruned & toward_zero
    elif action == "init_or_zero_reversed":
        zero = pruned & (w_e.abs() > w_s.abs())
    elif action == "random_zeros":
        # Control 1: as many zeros as init_or_zero would set, on random pruned positions.
        k = int((pruned & toward_zero).sum())
        idx = pruned.flatten().nonzero().squeeze(1)
        chosen = idx[torch.randperm(len(idx), generator=generator)[:k].to(idx.device)]
        zero = torch.zeros(pruned.numel(), dtype=torch.bool, device=pruned.device)
        zero[chosen] = True
        zero = zero.view_as(pruned)
    else:
        raise ValueError(
            f"unknown mask0_action {action!r}; choose one of {', '.join(MASK0_ACTIONS)}")
    frozen = torch.where(pruned & ~zero, w_s, torch.zeros_like(w_s))
    zero_kept = mask.bool() & toward_zero if action == "init_or_zero_all" else no_zeroing
    return frozen, zero_kept
