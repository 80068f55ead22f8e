"""Learned supermasks (Z19 §5, §S6.2; paper_specs.md 4b): weights frozen at init; one real
tensor per kernel, initialised to a constant c, gives keep-probabilities sigmoid(m); every
forward pass samples a Bernoulli mask and the gradient passes straight through the sample.
Several c and seeds train as one population of the engine; each is a run of the store."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ... import data as data_mod
from ... import engine, models, seeds
from ...config import Train, run_config
from ...store import RunStore
from . import experiment
from .config import Supermasks


def data_and_network(cfg: Supermasks, model_name: str, device: torch.device
                      ) -> tuple[data_mod.Dataset, nn.Module]:
    """The network's dataset (the paper's unless set) and the untrained architecture."""
    dense = cfg.dense_experiment()
    data = data_mod.load(dense.dataset_for(model_name), dense.data.root, device,
                         **dense.data.options())
    return data, models.build(model_name, data.input_shape, data.num_classes)




class SupermaskNet(nn.Module):
    """``base`` with frozen weights ``w`` and trainable mask logits ``m`` per kernel.

    Forward: W_eff = W * g, g = Bernoulli(sigmoid(m)) sampled anew at every call, with the
    straight-through estimator: dW_eff/dm = W * s(1 - s), s = sigmoid(m) (Z19's code).
    The frozen weights are parameters too, held by the engine's exact freeze (mask 0), so
    that every member of a population can have its own. The engine trains a population
    through ``population_params`` (see ``engine.reparameterisation``); ``seed`` fixes the
    stream of mask samples.
    """

    def __init__(self, base: nn.Module, seed: int = 0):
        super().__init__()
        self.names = [n for n, _ in base.named_parameters()]
        self._base = [base]  # in a list: not a submodule, its parameters are not ours
        params = dict(base.named_parameters())
        self.w = nn.ParameterDict({_key(n): nn.Parameter(torch.zeros(p.shape))
                                   for n, p in params.items()})
        self.m = nn.ParameterDict({_key(n): nn.Parameter(torch.zeros(params[n].shape))
                                   for n in base.prune_rates})
        self.sampler = _Sampler(seed)

    @property
    def base(self) -> nn.Module:
        return self._base[0]

    def population_params(self, params: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """Our parameters stacked over members (``named_parameters()`` order) to the base
        network's: each kernel times a fresh mask sample, biases as they are."""
        by_name = dict(zip((n for n, _ in self.named_parameters()), params))
        out = []
        for name in self.names:
            w, m = by_name[f"w.{_key(name)}"], by_name.get(f"m.{_key(name)}")
            out.append(w if m is None else _SampledMask.apply(w, m, self.sampler))
        return tuple(out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One network (not a population): the base network on a fresh mask sample."""
        params = self.population_params(tuple(p.unsqueeze(0) for p in self.parameters()))
        return engine.Functional(self.base)(tuple(p[0] for p in params), x)


class _Sampler:
    """Uniform noise for the mask samples, and buffers reused by every step.

    On a CPU the noise comes from numpy's PCG64 (1.4 ns a number here, against 2.4 ns for
    torch's Mersenne twister, which draws one element at a time behind a lock); elsewhere
    from a torch generator on the device. A population's kernels are tens of MB, and a
    fresh tensor that large is a fresh mmap whose pages fault in again at every step.
    """

    def __init__(self, seed: int):
        self.seed = seed
        self.numpy = np.random.Generator(np.random.PCG64(seed))
        self.torch: dict[torch.device, torch.Generator] = {}
        self.buffers: dict[tuple, tuple[torch.Tensor, ...]] = {}

    def scratch(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Three tensors shaped and laid out like ``like``, the same ones at every call."""
        key = (like.shape, like.stride(), like.device)
        if key not in self.buffers:
            self.buffers[key] = tuple(torch.empty_like(like) for _ in range(3))
        return self.buffers[key]

    def uniform_(self, t: torch.Tensor) -> torch.Tensor:
        if t.device.type == "cpu" and t.is_contiguous():
            self.numpy.random(out=t.view(-1).numpy(), dtype=np.float32)
            return t
        if t.device not in self.torch:
            self.torch[t.device] = torch.Generator(t.device).manual_seed(self.seed)
        return t.uniform_(generator=self.torch[t.device])


class _SampledMask(torch.autograd.Function):
    """w * b with b ~ Bernoulli(s), s = sigmoid(m); backward: d/dm = w * s(1 - s).

    Written out rather than as ``w * (b + s - s.detach())``, for speed (the step is bound by
    memory traffic): 3 passes over the kernel instead of 6, ``u < s`` with u uniform instead
    of ``torch.bernoulli`` (whose CPU kernel is 4x slower), every tensor laid out like ``w``
    (the weight gradient of a batched matmul comes back transposed; mixing the two layouts
    in one elementwise op costs more than the op), and the sampler's buffers.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, m: torch.Tensor, sampler: _Sampler) -> torch.Tensor:
        s, sample, grad_m = sampler.scratch(w)
        torch.sigmoid(m, out=s)
        ctx.save_for_backward(w, s, grad_m)  # autograd checks they are intact at backward
        return sampler.uniform_(sample).lt_(s).mul_(w).detach()  # u < s: 1 with probability s

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, None]:
        w, s, grad_m = ctx.saved_tensors
        torch.mul(grad, w, out=grad_m)
        return None, torch.ops.aten.sigmoid_backward.grad_input(grad_m, s, grad_input=grad_m), None


def _key(name: str) -> str:
    return name.replace(".", "__")


@dataclass
class _Run:
    model: str
    c: float
    seed: int
    key: str


def learned(cfg: Supermasks, progress: bool = True) -> pd.DataFrame:
    """Train a learned supermask for every (network, c, seed); one row each.

    Columns: model, c, seed, final_acc (mean test accuracy over ``samples`` mask samples, at
    the end of training or, where the network early-stops, at the minimum validation loss),
    iteration (where final_acc was taken), iterations (the training length), pruned_pct
    (1 - mean keep-probability), failed. Finished runs are loaded from the store, never
    retrained; ``learned_runs`` gives their keys (the curves are in their metrics).
    """
    rows = []
    for model_name, runs, store in learned_runs(cfg, progress):
        for r in runs:
            rows.append({"model": model_name, "c": r.c, "seed": r.seed,
                         **store.level(r.key, 0).summary})
    # no rows where learned.init_values is []: typed all the same (a mask column stays bool)
    return pd.DataFrame(rows, columns=LEARNED_COLUMNS).astype({"failed": bool})


LEARNED_COLUMNS = ["model", "c", "seed", "final_acc", "iteration", "iterations", "pruned_pct",
                   "failed"]


def learned_runs(cfg: Supermasks, progress: bool = True):
    """Per network: (name, its runs with their store keys, the store), training what is
    missing."""
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    for model_name in cfg.models:
        data, base = data_and_network(cfg, model_name, device)
        train_cfg = cfg.learned.train_for(model_name, data.sizes()["train"])
        train_cfg.check_batch_size(data.name, data.sizes()["train"], "learned")
        early_stop = cfg.learned.early_stop_for(model_name)
        runs = []
        for c in cfg.learned.init_values:
            for seed in cfg.seeds:
                key = store.prepare(learned_config(model_name, data.name, c, seed, train_cfg,
                                                   cfg.learned.samples, early_stop))
                runs.append(_Run(model_name, c, seed, key))
        todo = [r for r in runs if not store.has_level(r.key, 0)]
        with store.claim([r.key for r in todo]):
            todo = [r for r in todo if not store.has_level(r.key, 0)]  # another process's now
            if todo:
                _train_learned(base, todo, data, train_cfg, early_stop, cfg.learned.samples,
                               store, device, progress)
        yield model_name, runs, store


def learned_config(model: str, data_name: str, c: float, seed: int, train: Train, samples: int,
                   early_stop: bool) -> dict:
    """The canonical config of one learned supermask (its key)."""
    # sampler 2: u < sigmoid(m) from the net's own seeded stream (version 1 drew
    # torch.bernoulli from torch's global generator).
    return run_config("learned_supermask", model, data_name, train, seed, c=c, samples=samples,
                      early_stop=early_stop, sampler=2)


def learned_curves(cfg: Supermasks) -> pd.DataFrame:
    """Every evaluation during learned-supermask training (tidy, as ``RunStore.metrics``),
    with columns model and c."""
    frames = []
    for model, runs, store in learned_runs(cfg, progress=False):
        info = pd.DataFrame([{"run": r.key, "model": model, "c": r.c} for r in runs])
        frames.append(store.metrics([r.key for r in runs]).merge(info, on="run"))
    return pd.concat(frames, ignore_index=True)


def lengths(cfg: Supermasks, dense: experiment.Result) -> dict[str, dict[str, int]]:
    """Per network, the training lengths of the two readings of Z19's {2000, 2000, 1000,
    800} on this build's data, and the one this build ran."""
    out = {}
    for model in cfg.models:
        n = dense.data[model].sizes["train"]
        read = {unit: dataclasses.replace(cfg.learned, length_unit=unit, iterations=None)
                .train_for(model, n).iterations for unit in ("iterations", "epochs")}
        out[model] = {"Z19 text (iterations)": read["iterations"],
                      "Z19 code (epochs, this data)": read["epochs"],
                      "this build": cfg.learned.train_for(model, n).iterations}
    return out


def learned_member(base: nn.Module, seed: int, c: float) -> engine.Member:
    """One learned supermask as an engine member: the seed's initial weights (the same init
    as the lottery-ticket runs) and every mask logit at c."""
    w = models.initial_state(base, seed)
    start = {f"w.{_key(n)}": t for n, t in w.items()}
    start.update({f"m.{_key(n)}": torch.full_like(w[n], c) for n in base.prune_rates})
    # Mask 0 on every weight: the engine holds them exactly at their values in `start`.
    hold = {f"w.{_key(n)}": torch.zeros_like(t) for n, t in w.items()}
    return engine.Member(seed=seed, init=start, mask=hold, frozen=start)


def _train_learned(base: nn.Module, runs: list[_Run], data: data_mod.Dataset, train_cfg,
                   early_stop: bool, samples: int, store: RunStore, device: torch.device,
                   progress: bool) -> None:
    net = SupermaskNet(base, seeds.derive(runs[0].seed, "bernoulli", len(runs)))
    members = [learned_member(base, r.seed, r.c) for r in runs]
    results = engine.train(net, members, data, train_cfg, device, progress, keep_best=early_stop,
                           desc=f"learned supermasks {runs[0].model} ({len(runs)} nets)")
    reported = [res.best if early_stop else res.final for res in results]
    accs = engine.evaluate(net, reported, data, "test", device, repeats=samples)
    for r, res, params, acc in zip(runs, results, reported, accs):
        keep = [torch.sigmoid(params[f"m.{_key(n)}"]) for n in base.prune_rates]
        kept = sum(float(k.sum()) for k in keep) / sum(k.numel() for k in keep)
        store.save_level(r.key, 0, {
            "iterations": res.iterations, "metrics": res.metrics,
            "masks": {n: k.half() for n, k in zip(base.prune_rates, keep)},
            "summary": {
                "final_acc": float(acc) if not res.failed else np.nan,
                "iteration": res.early_stop_iteration if early_stop else train_cfg.iterations,
                "iterations": train_cfg.iterations,
                "pruned_pct": 100.0 * (1.0 - kept),
                "failed": res.failed,
            }})


def failed_learned(learned_table: pd.DataFrame) -> list[str]:
    """Each failed learned supermask of a ``learned`` table, named in one line."""
    bad = learned_table[learned_table["failed"]]
    return [f"{r.model} learned supermask c = {r.c:g} seed {r.seed}: diverged"
            for r in bad.itertuples()]
