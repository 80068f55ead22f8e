"""SGD and Adam over a population's stacked tensors, with exact masks.

Same update rules as ``torch.optim.SGD`` (dampening 0, no Nesterov) and ``torch.optim.Adam``,
both with coupled weight decay (added to the gradient), per-member learning rate and weight
decay, and a learning-rate factor per step from the schedule. Masked entries get a zero
gradient *after* weight decay, so they never move: SGD's momentum and Adam's moments stay
exactly zero there.

A member's numbers must not depend on which other members share its population. So every
update is either built from operations that round once per element (mul, add, sub: the
same result in SIMD and scalar code, wherever the element sits in the stacked tensor), or
(PyTorch's fused Adam and SGD-with-momentum kernels, whose vector and scalar paths may differ
in the last bit) called on each member's own slice, which they treat exactly as a population
of one.
"""

from __future__ import annotations

from typing import Literal

import torch


class PopulationOptimizer:
    def __init__(self, algorithm: Literal["sgd", "adam"], params: list[torch.Tensor],
                 masks: list[torch.Tensor | None], lrs: list[float], wds: list[float],
                 momentum: float = 0.0):
        self.algorithm, self.params, self.masks = algorithm, params, masks
        self.momentum = momentum
        self.lrs, self.wds = lrs, wds
        device = params[0].device if params else torch.device("cpu")
        self.any_wd = any(wds)
        self.uniform = len(set(lrs)) == 1 and len(set(wds)) == 1
        shape = lambda p: (-1,) + (1,) * (p.dim() - 1)  # noqa: E731
        wd_t = torch.tensor(wds, device=device)
        self.wd_views = [wd_t.view(shape(p)) for p in params]
        self._lr_views: dict[float, list[torch.Tensor]] = {}
        self._shape = shape
        self.t = 0
        if algorithm == "adam":
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
        self.buf: list[torch.Tensor | None] = [None] * len(params)

    def lr_views(self, factor: float) -> list[torch.Tensor]:
        """Per-member learning rates times the schedule's factor, computed in double as
        torch.optim does and cached per factor (a schedule has few distinct ones)."""
        if factor not in self._lr_views:
            device = self.params[0].device
            lr_t = torch.tensor([lr * factor for lr in self.lrs], device=device)
            self._lr_views[factor] = [lr_t.view(self._shape(p)) for p in self.params]
            if len(self._lr_views) > 64:  # a warmup ramp: keep the cache small
                self._lr_views.pop(next(iter(self._lr_views)))
        return self._lr_views[factor]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], factor: float = 1.0) -> None:
        self.t += 1
        if self.t == 1:
            # Adam only: SGD keeps its parameters' layout, so that a run restarted from its
            # saved state computes bit-identically (tests/core/test_schedule.py)
            if self.algorithm == "adam":
                self._adopt_layout(grads)
            self._note_layout()
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g.stride() != p.stride():  # the fused kernel walks memory flat: layouts must agree
                grads[i] = torch.empty_like(p).copy_(g)
        if self.any_wd:  # g + p * wd: two roundings per element, wherever it sits
            if self.uniform:
                grads = torch._foreach_add(grads, torch._foreach_mul(self.params, self.wds[0]))
            else:
                grads = [g + p * wd for g, p, wd in zip(grads, self.params, self.wd_views)]
        masked = [(g, m) for g, m in zip(grads, self.masks) if m is not None]
        if masked:
            torch._foreach_mul_([g for g, _ in masked], [m for _, m in masked])
        if self.algorithm == "adam":
            self._adam(grads, factor)
        else:
            self._sgd(grads, factor)

    def _note_layout(self) -> None:
        """Each parameter's dimensions after the population's, outermost first
        (``_member_slices``)."""
        self._orders = [sorted(range(1, p.dim()), key=lambda d, p=p: -p.stride(d))
                        for p in self.params]

    def _adopt_layout(self, grads: list[torch.Tensor]) -> None:
        """Re-lay each parameter (and its mask and state) out like its gradient, in place.

        Weight gradients of the batched matmul come back transposed in memory. Giving the
        parameter that layout once saves a full copy of every gradient at every step.
        """
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g.stride() == p.stride() or torch.empty_like(g).stride() != g.stride():
                continue  # same layout already, or not a dense permutation of the shape
            q = torch.empty_strided(p.shape, g.stride(), device=p.device).copy_(p)
            p.set_(q.untyped_storage(), 0, q.shape, q.stride())
            if self.masks[i] is not None:
                self.masks[i] = torch.empty_like(p).copy_(self.masks[i])
            self.m[i], self.v[i] = torch.zeros_like(p), torch.zeros_like(p)

    def _adam(self, grads: list[torch.Tensor], factor: float) -> None:
        # PyTorch's fused kernel (torch.optim.Adam(fused=True)) per group of members that share
        # a learning rate, on each member's own slice.
        # The step count on the device, counted there: no host value enters a step.
        if self.t == 1:
            self.steps = torch.zeros((), device=self.params[0].device)
        steps = self.steps.add_(1)
        for lr, members in self._by_lr().items():
            p_, g_, m_, v_ = (self._member_slices(ts, members)
                              for ts in (self.params, grads, self.m, self.v))
            torch._fused_adam_(p_, g_, m_, v_, [], [steps] * len(p_), lr=lr * factor,
                               beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
                               amsgrad=False, maximize=False)

    def _member_slices(self, tensors: list[torch.Tensor], members: list[int]
                       ) -> list[torch.Tensor]:
        """Each member's slice of each stacked tensor (laid out as its parameter), member by
        member, as a contiguous view.

        A slice of a re-laid-out parameter (``_adopt_layout``) is a transposed block of
        memory; the fused kernels would copy it to a contiguous tensor and back at every step
        (on a CPU FC population, a fifth of the step). Its dimensions reordered by the
        parameter's strides, it is contiguous and holds the same elements, and the elementwise
        update does not care about their order. The order comes from the parameter for every
        tensor: a gradient's size-1 dimensions may carry other strides (after weight decay).
        """
        per_member = [t.permute(0, *order).unbind(0) for t, order in zip(tensors, self._orders)]
        return [slices[j] for j in members for slices in per_member]

    def _by_lr(self) -> dict[float, list[int]]:
        """Members grouped by learning rate."""
        groups: dict[float, list[int]] = {}
        for member, lr in enumerate(self.lrs):
            groups.setdefault(lr, []).append(member)
        return groups

    def _sgd(self, grads: list[torch.Tensor], factor: float) -> None:
        mu = self.momentum
        if mu:
            # PyTorch's fused kernel (torch.optim.SGD(fused=True)): one pass over parameter,
            # gradient and momentum buffer instead of four (a learned supermask's step is
            # bound by memory traffic). On each member's own slice, as Adam's.
            first = self.buf[0] is None
            if first:
                self.buf = [torch.empty_like(p) for p in self.params]
            for lr, members in self._by_lr().items():
                p_, g_, b_ = (self._member_slices(ts, members)
                              for ts in (self.params, grads, self.buf))
                torch._fused_sgd_(p_, g_, b_, weight_decay=0.0, momentum=mu, lr=lr * factor,
                                  dampening=0.0, nesterov=False, maximize=False,
                                  is_first_step=first)
            return
        # p = p - lr * g, one operation per rounding: the same numbers from the list (foreach)
        # path as from the per-member broadcast one.
        if self.uniform:
            lr = self.lr_views(factor)[0].flatten()[0]  # the float32 rate, as the slow path's
            torch._foreach_sub_(self.params, torch._foreach_mul(grads, lr))
        else:
            for p, g, lr in zip(self.params, grads, self.lr_views(factor)):
                p.sub_(g * lr)
