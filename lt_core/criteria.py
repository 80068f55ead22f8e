"""Pruning criteria, each registered once: a score of every entry of a layer, larger = keep.

A criterion maps a layer's weights at the start of the level ``w_i``, at its end ``w_f`` and
its current mask to a keep-score (pruned entries' scores are ignored): Z19's eleven mask
criteria and L23's importance measures (|w_f| normalised over the layer's unpruned entries)
register here with what the rest of the code needs to know of them; the selections
(``lt_core.masks``), the loop's random streams, H21's baseline and the figures ask
``get(name)``. A researcher's own criterion is named by import path, ``module:function``
(``criterion: mypkg.scores:saliency`` in a params file), a function of the same three
tensors; it runs wherever a criterion or an L23 measure does, and a run's key holds its path
(not its code: change the function, change its name). One that declares it
(``@needs_gradients``) gets a fourth tensor: the gradient of the training loss on one batch at
the end of the level's training (SNIP-style saliency, ``loop.batch_gradients``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .params_file import ConfigError, quote

Score = Callable[..., torch.Tensor]  # (w_i, w_f, mask[, grad]) -> keep-score


@dataclass(frozen=True)
class Criterion:
    name: str
    score: Score  # (w_i, w_f, mask) -> keep-score of every entry
    source: str  # "Z19", "L23", or the import path of a researcher's own
    # An elementwise function of (w_i, w_f) alone: the mask explorer draws its boundary.
    elementwise: bool = False
    # Every entry ties (random): only the seeded tie-break decides, from a stream of the
    # selection's own (H21's two random baselines must not share one).
    all_tie: bool = False
    # Scores with the gradient of one training batch at the end of training (a 4th tensor).
    gradients: bool = False


def needs_gradients(score: Score) -> Score:
    """Declare that a criterion scores with gradients: it is called ``(w_i, w_f, mask, grad)``,
    ``grad`` the gradient of the training loss (cross-entropy, mean over one training batch of
    the run's batch size, drawn from the run's seed and level, no augmentation) with respect
    to the layer's weights at the end of the level's training."""
    score.gradients = True
    return score


REGISTRY: dict[str, Criterion] = {}


def register(name: str, source: str, elementwise: bool = False,
             all_tie: bool = False) -> Callable[[Score], Score]:
    """Register ``score`` under ``name`` (once)."""

    def add(score: Score) -> Score:
        if name in REGISTRY:
            raise ValueError(f"criterion {name!r} is registered twice")
        REGISTRY[name] = Criterion(name, score, source, elementwise, all_tie,
                                   gradients=bool(getattr(score, "gradients", False)))
        return score

    return add


def names(source: str | None = None) -> tuple[str, ...]:
    """The registered criteria (of one paper), in the order they registered."""
    return tuple(n for n, c in REGISTRY.items() if source is None or c.source == source)


def get(name: str) -> Criterion:
    """The criterion ``name``: a registered one, or a function by its import path
    (``module:function``). Raises ConfigError saying what is wrong."""
    if name in REGISTRY:
        return REGISTRY[name]
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(f"unknown criterion {quote(name)}; choose one of "
                          f"{', '.join(REGISTRY)}, or name your own as module:function")
    try:
        score = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"criterion {quote(name)} cannot be imported ({err}); is "
                          f"{module} on PYTHONPATH?") from None
    if not callable(score):
        raise ConfigError(f"criterion {quote(name)} is not a function")
    return Criterion(name, score, name, gradients=bool(getattr(score, "gradients", False)))


def check(name: object, where: str) -> str:
    """``name`` if it names a criterion, else a ConfigError naming the field ``where``."""
    if not isinstance(name, str):
        raise ConfigError(f"field '{where}' must be a criterion's name (got {quote(name)})")
    try:
        get(name)
    except ConfigError as err:
        raise ConfigError(f"field '{where}': {err}") from None
    return name


def score(criterion: str, w_i: torch.Tensor, w_f: torch.Tensor, mask: torch.Tensor,
          grad: torch.Tensor | None = None) -> torch.Tensor:
    """Keep-score of every entry of one layer under ``criterion`` (``grad``: the layer's
    gradient, for a criterion that needs gradients)."""
    c = get(criterion)
    if not c.gradients:
        return c.score(w_i, w_f, mask)
    if grad is None:
        raise ValueError(f"criterion {criterion!r} scores with gradients, and none were "
                         "computed here (only the pruning loop computes them; a one-shot "
                         "heuristic supermask or a figure has no training batch)")
    return c.score(w_i, w_f, mask, grad)


# -- Z19's mask criteria (paper_specs.md Notebook 1) ------------------------------------------
@register("large_final", "Z19", elementwise=True)
def large_final(w_i, w_f, mask):
    return w_f.abs()


@register("small_final", "Z19", elementwise=True)
def small_final(w_i, w_f, mask):
    return -w_f.abs()


@register("large_init", "Z19", elementwise=True)
def large_init(w_i, w_f, mask):
    return w_i.abs()


@register("small_init", "Z19", elementwise=True)
def small_init(w_i, w_f, mask):
    return -w_i.abs()


def _rank(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Ascending rank (0..) of x among the kept entries; pruned entries rank below all."""
    x = torch.where(keep, x, torch.full_like(x, -math.inf))
    flat = x.flatten()
    ranks = torch.empty_like(flat)
    ranks[flat.argsort(stable=True)] = torch.arange(flat.numel(), dtype=flat.dtype,
                                                    device=flat.device)
    return ranks.view_as(x)


# The alpha-aligned two-percentile rule in its rank form: min(alpha|w_i|, |w_f|) with alpha
# matching percentiles = the smaller of the two ranks among the remaining entries.
@register("large_init_large_final", "Z19")
def large_init_large_final(w_i, w_f, mask):
    keep = mask.bool()
    return torch.minimum(_rank(w_i.abs(), keep), _rank(w_f.abs(), keep))


@register("small_init_small_final", "Z19")
def small_init_small_final(w_i, w_f, mask):
    keep = mask.bool()
    return torch.minimum(_rank(-w_i.abs(), keep), _rank(-w_f.abs(), keep))


@register("magnitude_increase", "Z19", elementwise=True)
def magnitude_increase(w_i, w_f, mask):
    return w_f.abs() - w_i.abs()


@register("movement", "Z19", elementwise=True)
def movement(w_i, w_f, mask):
    return (w_f - w_i).abs()


@register("random", "Z19", all_tie=True)
def random(w_i, w_f, mask):
    return torch.zeros_like(w_f)  # every entry ties: the seeded tie-break decides


@register("large_final_same_sign", "Z19", elementwise=True)
def large_final_same_sign(w_i, w_f, mask):
    return torch.where(torch.sign(w_i) == torch.sign(w_f), w_f.abs(), torch.zeros_like(w_f))


@register("large_final_diff_sign", "Z19", elementwise=True)
def large_final_diff_sign(w_i, w_f, mask):
    return torch.where(torch.sign(w_i) != torch.sign(w_f), w_f.abs(), torch.zeros_like(w_f))


# -- L23's importance measures (paper_specs.md 6.3) -------------------------------------------
def importance(measure: str, w: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L23's importance of every entry of one layer (Algorithm 2): a = |w|, normalised over
    the unpruned entries U only (pruned entries score 0 and are never selected again).

    magnitude a; l1 a / sum_U a; l2 a^2 / sum_U a^2; softmax exp(a - max_U a) / sum_U
    exp(a - max_U a); minmax (a - min_U a) / (max_U a - min_U a), 1 when max = min; lamp
    a_u^2 / sum_{v >= u} a_v^2 over U sorted ascending (Lee et al. 2021; ties in index order).
    A normaliser of 0 (every unpruned entry is 0) gives every entry score 0. The scores are
    float64: normalised scores of large layers differ below float32 precision.
    """
    keep = mask.bool()
    a = w.abs().double()
    u = a[keep]
    out = torch.zeros_like(a)
    if u.numel() == 0:
        return out
    if measure == "magnitude":
        vals = u
    elif measure in ("l1", "l2"):
        num = u if measure == "l1" else u * u
        total = num.sum()
        vals = num / total if total > 0 else torch.zeros_like(u)
    elif measure == "softmax":
        e = torch.exp(u - u.max())
        vals = e / e.sum()
    elif measure == "minmax":
        lo, hi = u.min(), u.max()
        vals = (u - lo) / (hi - lo) if hi > lo else torch.ones_like(u)
    elif measure == "lamp":
        order = u.argsort(stable=True)
        sq = u[order] ** 2
        tail = sq.flip(0).cumsum(0).flip(0)  # sum over v >= u, u included
        vals = torch.empty_like(u)
        vals[order] = torch.where(tail > 0, sq / tail, torch.zeros_like(sq))
    else:
        raise ValueError(f"unknown importance measure {measure!r}; choose one of "
                         f"{', '.join(L23_MEASURES)}")
    out[keep] = vals
    return out


L23_MEASURES = ("magnitude", "l1", "l2", "softmax", "minmax", "lamp")
for _measure in L23_MEASURES:
    register(_measure, "L23")(
        lambda w_i, w_f, mask, _m=_measure: importance(_m, w_f, mask))
