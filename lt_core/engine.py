"""The population trainer: P networks of one architecture trained at once.

The members' parameters are stacked along a leading population dimension and the ordinary
nn.Module's forward pass runs under ``torch.vmap``; the backward pass is plain autograd on
the stacked tensors. One step trains every member on its own batch. A single network is a
population of one: same code path.

Per member: its own initial weights, data order (from its seed), mask, frozen values for
masked entries, learning rate and weight decay. Masked ("pruned") entries hold their frozen
value from the start and their gradient is zeroed before the optimizer, so they never move:
Adam's moments stay exactly zero there, and weight decay is added before the mask.

Evaluation runs on the whole val and test splits every ``eval_every`` iterations, batched
over members. A member whose validation loss turns non-finite is marked failed; the
members share no arithmetic, so the others continue unaffected.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, vmap
from tqdm.auto import tqdm

from . import seeds
from .config import Train
from .data import Dataset

Params = dict[str, torch.Tensor]


@dataclass
class Member:
    seed: int  # data order (and, by the caller, initialisation)
    init: Params  # starting values of every parameter
    mask: Params | None = None  # prunable tensor name -> 1 trained / 0 frozen
    frozen: Params | None = None  # values of the frozen entries (default 0)
    lr: float | None = None  # None: the Train config's
    weight_decay: float | None = None


@dataclass
class MemberResult:
    seed: int
    iterations: np.ndarray  # the evaluation grid
    metrics: dict[str, np.ndarray]  # "val_loss", "val_acc", "test_loss", "test_acc"
    final: Params  # end-of-training parameters (CPU)
    failed_at: int | None = None  # first evaluated iteration with a non-finite val loss
    best: Params | None = None  # parameters at the early-stopping iteration (keep_best=True)

    @property
    def failed(self) -> bool:
        return self.failed_at is not None

    @property
    def early_stop_index(self) -> int:
        """Index of the minimum validation loss on the evaluation grid (first on ties)."""
        val = self.metrics["val_loss"]
        return int(np.nanargmin(val)) if np.isfinite(val).any() else 0

    @property
    def early_stop_iteration(self) -> int:
        return int(self.iterations[self.early_stop_index])

    @property
    def test_acc_at_early_stop(self) -> float:
        return float(self.metrics["test_acc"][self.early_stop_index])


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Functional:
    """Call ``model`` with parameters passed in, as ``torch.func.functional_call`` does.

    A lean version: it assigns the tensors into a parameter-less copy of the module and calls
    it. ``functional_call``'s bookkeeping costs ~0.3 ms per call on a LeNet, more than the
    whole forward pass at batch 60 on a CPU.
    """

    def __init__(self, model: nn.Module):
        self.module = copy.deepcopy(model).to("meta")
        self.slots = []
        for name, _ in model.named_parameters():
            owner, _, attr = name.rpartition(".")
            self.slots.append((self.module.get_submodule(owner), attr, name))

    def __call__(self, params: tuple[torch.Tensor, ...], x: torch.Tensor) -> torch.Tensor:
        # A tuple in named_parameters() order: cheaper than a dict through vmap's pytrees.
        for (module, attr, _), p in zip(self.slots, params):
            module._parameters[attr] = p
        return self.module(x)

    def loss(self, params: tuple[torch.Tensor, ...], x: torch.Tensor, y: torch.Tensor
             ) -> torch.Tensor:
        """Mean cross-entropy. Written out because F.cross_entropy under vmap falls back to a
        slow Python decomposition of nll_loss."""
        logp = self(params, x).log_softmax(-1)
        return -logp.gather(-1, y.unsqueeze(-1)).mean()


def reparameterisation(model: nn.Module) -> tuple[nn.Module, Callable]:
    """The network that ``model``'s forward runs, and the map from ``model``'s parameters
    (stacked over the population, in ``named_parameters()`` order) to that network's.

    A model that computes its network's weights from parameters of its own (the learned
    supermask: frozen weights times a mask sampled from trained logits) exposes ``base`` and
    ``population_params``; the engine then applies that map once per step to the whole
    population, outside ``vmap``, where in-place and out= ops are allowed: on a CPU the mask
    sampling is bound by memory traffic, and vmap allows neither. Other models: themselves
    and the identity.
    """
    if hasattr(model, "population_params"):
        return model.base, model.population_params
    return model, lambda params: params


def population(fn: Callable, P: int, in_dims: int | tuple) -> Callable:
    """``fn`` mapped over a leading population dimension of size P.

    ``vmap`` for P > 1, with ``randomness="different"`` so that a stochastic model (the learned
    supermask's Bernoulli draw) samples independently per member. For P = 1 the member's
    slice is passed straight in and the result gets its population axis back: a size-1 vmap
    only adds batching overhead (bmm, transposes) to every layer.
    """
    if P > 1:
        return vmap(fn, in_dims=in_dims, randomness="different")

    def single(params, *args):
        arg_dims = in_dims[1:] if isinstance(in_dims, tuple) else (in_dims,) * len(args)
        args = [a[0] if d == 0 else a for a, d in zip(args, arg_dims)]
        return fn(tuple(p[0] for p in params), *args).unsqueeze(0)

    return single


def train(
    model: nn.Module,
    members: list[Member],
    data: Dataset,
    cfg: Train,
    device: str | torch.device | None = "auto",
    progress: bool = True,
    desc: str = "train",
    keep_best: bool = False,
) -> list[MemberResult]:
    """Train ``members`` (architecture ``model``) together; return one result per member.

    ``cfg`` must be resolved (no None fields: see ``Experiment.train_for``). With
    ``keep_best`` each member's parameters at its minimum validation loss are kept too.
    """
    if cfg.lr is None or cfg.iterations is None:
        raise ValueError("engine.train needs a resolved Train config (Experiment.train_for)")
    device = resolve_device(device)
    data = data.to(device)
    P = len(members)
    names = [n for n, _ in model.named_parameters()]
    params, masks = _stack_members(members, names, device)
    # A tensor frozen everywhere in every member (the learned supermask's weights) is a
    # constant: no gradient, no optimizer state.
    trained = [n for n in names if n not in masks or masks[n].any()]
    lrs = [m.lr if m.lr is not None else cfg.lr for m in members]
    wds = [m.weight_decay if m.weight_decay is not None else cfg.weight_decay for m in members]
    optimizer = _Optimizer(cfg, [params[n] for n in trained], [masks.get(n) for n in trained],
                           lrs, wds)

    net, to_net = reparameterisation(model)
    call = Functional(net)
    # vmap over the forward only; the backward is ordinary autograd on the stacked tensors.
    # Measured on a 2-core CPU (FC, batch 60), this is 1.6x faster than vmap(grad(...)) at
    # P=1 and within 12% of it at P=16: functorch's grad level costs ~1 ms per step.
    # randomness="different": a stochastic model (the learned supermask's Bernoulli draw)
    # samples independently per member; deterministic models are unaffected.
    loss_fn = population(call.loss, P, in_dims=0)
    eval_fn = population(call, P, in_dims=(0, None))
    weights = tuple(params[n].requires_grad_(n in trained) for n in names)
    trainable = tuple(params[n] for n in trained)
    best = [w.detach().clone() for w in weights] if keep_best else None
    best_loss = torch.full((P,), float("inf"), device=device)

    x_train, y_train = data.splits["train"]
    n_train = len(y_train)
    batch = cfg.batch_size
    if batch > n_train:
        raise ValueError(f"train.batch_size {batch} exceeds the {n_train} training examples")
    per_epoch = n_train // batch  # the last partial batch is dropped, as in Z19
    orders = [seeds.generator(m.seed, "data-order") for m in members]

    grid = sorted({0, cfg.iterations, *range(0, cfg.iterations, cfg.eval_every)})
    grid_set = set(grid)
    history: list[torch.Tensor] = []  # per grid point: [4, P] (val_loss, val_acc, test_loss, test_acc)
    perm = None
    bar = tqdm(total=cfg.iterations, desc=desc, disable=not progress, mininterval=2.0, leave=False)

    def record() -> None:
        with torch.no_grad():
            history.append(_evaluate(eval_fn, to_net, weights, data, P))
            if best is not None:  # strictly lower: the first minimum, as early_stop_index
                better = history[-1][0] < best_loss
                best_loss.copy_(torch.where(better, history[-1][0], best_loss))
                for b, w in zip(best, weights):
                    b.copy_(torch.where(better.view((-1,) + (1,) * (w.dim() - 1)), w, b))

    record()
    for it in range(cfg.iterations):
        pos = it % per_epoch
        if pos == 0:  # a fresh permutation per member every epoch
            perm = torch.stack([torch.randperm(n_train, generator=g) for g in orders]).to(device)
        idx = perm[:, pos * batch : (pos + 1) * batch]
        losses = loss_fn(to_net(weights), x_train[idx], y_train[idx])
        optimizer.step(list(torch.autograd.grad(losses.sum(), trainable)))
        if it + 1 in grid_set:
            record()
            bar.update(it + 1 - bar.n)
    bar.close()

    table = torch.stack(history).cpu().numpy()  # [T, 4, P]
    finals = {n: w.detach().cpu() for n, w in zip(names, weights)}
    results = []
    for i, m in enumerate(members):
        metrics = dict(zip(("val_loss", "val_acc", "test_loss", "test_acc"), table[:, :, i].T))
        bad = np.flatnonzero(~np.isfinite(metrics["val_loss"]))
        failed_at = int(grid[bad[0]]) if len(bad) else None
        if failed_at is not None:  # metrics after divergence mean nothing
            for v in metrics.values():
                v[bad[0]:] = np.nan
        results.append(MemberResult(
            seed=m.seed, iterations=np.asarray(grid), metrics=metrics,
            final={n: t[i].clone() for n, t in finals.items()}, failed_at=failed_at,
            best=None if best is None else {n: b[i].cpu() for n, b in zip(names, best)},
        ))
    return results


def _stack_members(members: list[Member], names: list[str], device: torch.device
                   ) -> tuple[Params, Params]:
    params, masks = {}, {}
    for name in names:
        w = torch.stack([m.init[name].float() for m in members])
        if any(m.mask is not None and name in m.mask for m in members):
            mask = torch.stack([
                m.mask[name].float() if m.mask is not None and name in m.mask
                else torch.ones_like(m.init[name], dtype=torch.float32)
                for m in members
            ])
            frozen = torch.stack([
                m.frozen[name].float() if m.frozen is not None and name in m.frozen
                else torch.zeros_like(m.init[name], dtype=torch.float32)
                for m in members
            ])
            w = torch.where(mask.bool(), w, frozen)  # frozen entries hold their value from step 0
            masks[name] = mask.to(device)
        params[name] = w.to(device).contiguous()
    return params, masks


@torch.no_grad()
def evaluate(model: nn.Module, members: list[Params], data: Dataset, split: str = "test",
             device: str | torch.device | None = "auto", repeats: int = 1,
             group_size: int = 64) -> np.ndarray:
    """Accuracy of each parameter set on one split, without training: shape [members].

    Members are evaluated ``group_size`` at a time. ``repeats`` > 1 averages over that many
    forward passes (for a stochastic model, independent mask samples).
    """
    device = resolve_device(device)
    data = data.to(device)
    names = [n for n, _ in model.named_parameters()]
    net, to_net = reparameterisation(model)
    eval_fn = population(Functional(net), min(group_size, len(members)), in_dims=(0, None))
    x, y = data.splits[split]
    out = []
    for s in range(0, len(members), group_size):
        group = members[s : s + group_size]
        params = tuple(torch.stack([m[n].float() for m in group]).to(device) for n in names)
        acc = torch.zeros(len(group), device=device)
        for _ in range(repeats):
            for c in range(0, len(y), 2500):
                logits = eval_fn(to_net(params), x[c : c + 2500])
                acc += (logits.argmax(-1) == y[c : c + 2500]).sum(1)
        out.append((acc / (repeats * len(y))).cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def _evaluate(eval_fn, to_net, params: tuple[torch.Tensor, ...], data: Dataset, P: int,
              chunk: int = 2500) -> torch.Tensor:
    out = []
    for split in ("val", "test"):
        x, y = data.splits[split]
        loss = torch.zeros(P, device=y.device)
        correct = torch.zeros(P, device=y.device)
        for s in range(0, len(y), chunk):
            logits = eval_fn(to_net(params), x[s : s + chunk])  # [P, b, classes]
            yc = y[s : s + chunk]
            loss += F.cross_entropy(
                logits.flatten(0, 1), yc.repeat(P), reduction="none"
            ).view(P, -1).sum(1)
            correct += (logits.argmax(-1) == yc).sum(1)
        out += [loss / len(y), correct / len(y)]
    return torch.stack(out)


class _Optimizer:
    """Adam or SGD (momentum, weight decay) over stacked tensors, honouring masks exactly.

    Same update rules as torch.optim.Adam / torch.optim.SGD (dampening 0). When every member
    shares one learning rate and weight decay, Adam runs PyTorch's fused kernel; otherwise the
    per-member rates broadcast over the population dimension.
    """

    def __init__(self, cfg: Train, params: list[torch.Tensor], masks: list[torch.Tensor | None],
                 lrs: list[float], wds: list[float]):
        self.cfg, self.params, self.masks = cfg, params, masks
        device = params[0].device
        self.uniform = len(set(lrs)) == 1 and len(set(wds)) == 1
        self.lr, self.wd = lrs[0], wds[0]
        self.any_wd = any(wds)
        shape = lambda p: (-1,) + (1,) * (p.dim() - 1)  # noqa: E731
        lr_t = torch.tensor(lrs, device=device)
        wd_t = torch.tensor(wds, device=device)
        self.lr_views = [lr_t.view(shape(p)) for p in params]
        self.wd_views = [wd_t.view(shape(p)) for p in params]
        self.t = 0
        if cfg.optimizer == "adam":
            self.m = [torch.zeros_like(p) for p in params]
            self.v = [torch.zeros_like(p) for p in params]
            self.steps = [torch.zeros((), device=device) for _ in params]
        else:
            self.buf: list[torch.Tensor | None] = [None] * len(params)

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor]) -> None:
        self.t += 1
        if self.t == 1:
            self._adopt_layout(grads)
        for i, (p, g, mask) in enumerate(zip(self.params, grads, self.masks)):
            if g.stride() != p.stride():  # the fused kernel walks memory flat: layouts must agree
                g = torch.empty_like(p).copy_(g)
            if self.any_wd:
                g = g.add(p * self.wd_views[i]) if not self.uniform else g.add(p, alpha=self.wd)
            if mask is not None:
                g = g.mul_(mask)
            grads[i] = g
        if self.cfg.optimizer == "adam":
            self._adam(grads)
        else:
            self._sgd(grads)

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
            if self.cfg.optimizer == "adam":
                self.m[i], self.v[i] = torch.zeros_like(p), torch.zeros_like(p)

    def _adam(self, grads: list[torch.Tensor]) -> None:
        if self.uniform:
            # The kernel behind torch.optim.Adam(fused=True), called directly: the optimizer
            # wrapper's Python bookkeeping costs as much as the kernel at this size.
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(self.params, grads, self.m, self.v, [], self.steps, lr=self.lr,
                               beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
                               amsgrad=False, maximize=False)
            return
        b1, b2, eps = 0.9, 0.999, 1e-8
        bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
        for p, g, m, v, lr in zip(self.params, grads, self.m, self.v, self.lr_views):
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v.sqrt() / bc2**0.5).add_(eps)
            p.sub_(lr / bc1 * m / denom)

    def _sgd(self, grads: list[torch.Tensor]) -> None:
        mu = self.cfg.momentum
        if self.uniform and mu:
            # torch.optim.SGD(fused=True)'s kernel: one pass over parameter, gradient and
            # momentum buffer instead of three (the learned supermask's step is memory-bound).
            first = self.buf[0] is None
            if first:
                self.buf = [torch.empty_like(p) for p in self.params]
            torch._fused_sgd_(self.params, grads, self.buf, weight_decay=0.0, momentum=mu,
                              lr=self.lr, dampening=0.0, nesterov=False, maximize=False,
                              is_first_step=first)
            return
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if mu:
                if self.buf[i] is None:
                    self.buf[i] = g.clone()
                else:
                    self.buf[i].mul_(mu).add_(g)
                g = self.buf[i]
            if self.uniform:
                p.add_(g, alpha=-self.lr)
            else:
                p.sub_(self.lr_views[i] * g)
