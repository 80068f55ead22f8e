"""Supermasks (Z19 §5; paper_specs.md 4a, 4b): masks that alone make an untrained network work.

* **Heuristic**: a one-shot mask of the dense run for every criterion and prune power
  p = 0..24 (per-layer fraction 1 - (1 - q_l)^p), evaluated with no training on (i) the
  initial weights and (ii) the signed constant sigma_l * sign(w_i).
* **Learned**: weights frozen at init; one real tensor per kernel, initialised to a constant
  c, gives keep-probabilities sigmoid(m); every forward pass samples a Bernoulli mask and
  the gradient passes straight through the sample. Several c and seeds train as one
  population of the engine.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from ... import data as data_mod
from ... import departures as departures_mod
from ... import engine, masks, models, seeds, view
from ...config import Train, key_dict
from ...loop import failure_note
from ...provenance import environment
from ...store import RunStore
from . import departures as z19_departures
from . import experiment
from .config import Supermasks


def signed_constant(w: torch.Tensor) -> torch.Tensor:
    """sigma_l * sign(w): sigma is the population std over all entries of the layer."""
    return w.std(unbiased=False) * torch.sign(w)


def masked_network(init: dict[str, torch.Tensor], mask: dict[str, torch.Tensor],
                   weights: str) -> dict[str, torch.Tensor]:
    """An untrained network's parameters: kernels (initial or signed constant) times the mask,
    biases as initialised (0)."""
    out = dict(init)
    for name, m in mask.items():
        w = init[name] if weights == "initial" else signed_constant(init[name])
        out[name] = w * m
    return out


# ----------------------------------------------------------------------------------------------
# The experiment: heuristic and learned supermasks in one run


@dataclass
class SupermasksResult:
    """Z19 §5's experiment: the heuristic masks' table, the learned masks' table and the
    dense runs both come from."""

    cfg: Supermasks
    heuristic: pd.DataFrame  # ``heuristic``'s table
    learned: pd.DataFrame  # ``learned``'s table
    dense: experiment.Result

    def describe(self, scale: str) -> str:
        return describe(self.cfg, self.dense, scale, self.learned)

    def failures(self) -> list[str]:
        return failures(self.dense, self.learned)

    def departures(self) -> list[departures_mod.Departure]:
        return departures(self.cfg, self.dense)

    def claims(self) -> pd.DataFrame:
        """Table S2: the paper's numbers next to this run's (``table_s2``)."""
        return table_s2(self.heuristic, self.learned, self.dense)

    def scorecard_rows(self, scale: str) -> list[dict]:
        from . import claims

        return claims.supermask_rows(self, scale)

    def info(self) -> dict:
        return self.dense.info()

    def report(self) -> str:
        return self.claims().to_string(index=False)

    def to_pack(self) -> dict:
        """What a pack carries of this result (``lt_core.view``): the dense runs' view, the
        heuristic runs (their tables are in the store) and the learned table."""
        runs = self.heuristic[["model", "run"]].drop_duplicates()
        return {"dense": self.dense.to_pack(), "heuristic_runs": runs.values.tolist(),
                "learned": view.frame_to(self.learned)}


def from_pack(cfg: Supermasks, value: dict, store: RunStore) -> SupermasksResult:
    """The result a pack carries (``SupermasksResult.to_pack``), read from ``store``."""
    rows = [row for model, key in value["heuristic_runs"]
            for row in _heuristic_rows(store, model, key)]
    dense = experiment.from_pack(cfg.dense_experiment(), value["dense"], store)
    return SupermasksResult(cfg, pd.DataFrame(rows, columns=HEURISTIC_COLUMNS),
                            view.frame_from(value["learned"]), dense)


def run(cfg: Supermasks, progress: bool = True) -> SupermasksResult:
    """Run (or resume) the dense runs, the heuristic masks and the learned masks."""
    table, dense = heuristic(cfg, progress)
    return SupermasksResult(cfg, table, learned(cfg, progress), dense)


# ----------------------------------------------------------------------------------------------
# Heuristic supermasks


def heuristic(cfg: Supermasks, progress: bool = True) -> tuple[pd.DataFrame, experiment.Result]:
    """Test accuracy of every (criterion, prune power, weights) one-shot mask, untrained.

    Returns the table (model, run: its key in the store, seed, criterion, power,
    percent_remaining, weights, test_acc) and the dense runs it came from (for the trained
    baseline).
    """
    dense = experiment.run_iterative(cfg.dense_experiment(), progress)
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    rows = []
    for model_name in cfg.models:
        data, net = _data_and_network(cfg, model_name, device)
        runs = dense.runs[dense.runs["model"] == model_name].drop_duplicates("seed")
        for dense_key, seed in zip(runs["key"], runs["seed"].astype(int)):
            if store.level(dense_key, 0).failed:  # Result.failures names it
                continue
            key = store.prepare({"kind": "heuristic_supermask", "dense_run": dense_key,
                                 "criteria": cfg.criteria, "max_power": cfg.max_power})
            if not store.has_level(key, 0):  # computed once; a finished table is reused
                with store.claim([key]):
                    if not store.has_level(key, 0):  # unless another process just made it
                        final = store.tensors(dense_key, 0)["final"]  # read only here
                        table = _heuristic_table(net, models.initial_state(net, seed), final,
                                                 seed, cfg, data, device)
                        store.save_level(key, 0, {"table": table, "env": environment(device)})
            rows += _heuristic_rows(store, model_name, key)
    # no rows if every dense run diverged
    return pd.DataFrame(rows, columns=HEURISTIC_COLUMNS), dense


HEURISTIC_COLUMNS = ["model", "run", "seed", "criterion", "power", "percent_remaining",
                     "weights", "test_acc"]


def _heuristic_rows(store: RunStore, model: str, key: str) -> list[dict]:
    """A heuristic-supermask run's table (stored with its level 0), one row per mask."""
    return [{"model": model, "run": key, **r} for r in store.level(key, 0).table]


def _data_and_network(cfg: Supermasks, model_name: str, device: torch.device
                      ) -> tuple[data_mod.Dataset, nn.Module]:
    """The network's dataset (the paper's unless set) and the untrained architecture."""
    dense = cfg.dense_experiment()
    data = data_mod.load(dense.dataset_for(model_name), dense.data.root, device,
                         **dense.data.options())
    return data, models.build(model_name, data.input_shape, data.num_classes)


def _heuristic_table(net: nn.Module, init: dict, final: dict, seed: int, cfg: Supermasks,
                     data: data_mod.Dataset, device: torch.device) -> list[dict]:
    rows = []
    for criterion in cfg.criteria:
        candidates, meta = [], []
        for power in range(cfg.max_power + 1):
            mask = heuristic_mask(criterion, init, final, net.prune_rates, seed, power)
            for weights in ("initial", "signed_constant"):
                candidates.append(masked_network(init, mask, weights))
                meta.append({"seed": seed, "criterion": criterion, "power": power,
                             "percent_remaining": 100.0 * masks.density(mask),
                             "weights": weights})
        accs = engine.evaluate(net, candidates, data, "test", device)
        rows += [{**m, "test_acc": float(a)} for m, a in zip(meta, accs)]
    return rows


def heuristic_mask(criterion: str, init: dict, final: dict, rates: dict, seed: int,
                   power: int) -> dict[str, torch.Tensor]:
    """The one-shot mask of one criterion at one prune power (seeded tie-break): the mask a
    heuristic supermask is evaluated with, and the one ``maskfile.export`` writes."""
    ones = {n: torch.ones_like(init[n]) for n in rates}
    gen = seeds.generator(seed, "heuristic", criterion, power)
    return masks.next_masks(criterion, init, final, ones, rates, gen, power)


def best_heuristic(table: pd.DataFrame) -> pd.DataFrame:
    """Per network, criterion and weights: the max over prune powers of the mean over seeds
    (Table S2 reports this for ``large_final_same_sign``), with the seeds' min and max there."""
    g = table.groupby(["model", "criterion", "weights", "power"])["test_acc"]
    per_power = g.agg(["mean", "min", "max", "count"]).reset_index()
    idx = per_power.groupby(["model", "criterion", "weights"])["mean"].idxmax()
    return per_power.loc[idx].reset_index(drop=True)


# ----------------------------------------------------------------------------------------------
# Learned supermasks


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
        data, base = _data_and_network(cfg, model_name, device)
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
    return {"kind": "learned_supermask", "model": model, "data": data_name, "c": c,
            "seed": seed, "train": key_dict(train), "samples": samples, "early_stop": early_stop,
            # 2: u < sigmoid(m) from the net's own seeded stream (version 1 drew
            # torch.bernoulli from torch's global generator).
            "sampler": 2}


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


def table_s2(heuristic_table: pd.DataFrame, learned_table: pd.DataFrame,
             dense: experiment.Result) -> pd.DataFrame:
    """Z19 Table S2 next to this run: per network the paper's value and this run's (mean over
    seeds, in %) for the best heuristic supermask (``large_final_same_sign``, max over prune
    powers) on initial weights and on signed constant, the best learned supermask (max over
    c), and the trained dense network."""
    from ... import paper

    best = best_heuristic(heuristic_table)
    best = best[best["criterion"] == "large_final_same_sign"].set_index(["model", "weights"])
    learned_mean = learned_table[~learned_table["failed"]].groupby(["model", "c"])["final_acc"].mean()
    s = dense.summary
    dense_acc = s[s["level"] == 0].groupby("model")["test_acc_at_early_stop"].mean()
    ref = paper.table_s2()
    rows = []
    for model in heuristic_table["model"].unique():
        ours = {
            "mask_x_initial_weights": best.loc[(model, "initial"), "mean"],
            "mask_x_signed_constant": best.loc[(model, "signed_constant"), "mean"],
            "learned_mask_x_initial_weights": learned_mean.loc[model].max()
            if model in learned_mean.index.get_level_values(0) else np.nan,
            "trained_dense_network": dense_acc.get(model, np.nan),
        }
        for column, value in ours.items():
            rows.append({"network": model, "column": column, "paper": ref.loc[model, column],
                         "this_run": round(100 * value, 1)})
    return pd.DataFrame(rows)


def describe(cfg: Supermasks, dense: experiment.Result, scale: str,
             learned_table: pd.DataFrame) -> str:
    """Markdown: scale, data, device, failed runs, and every departure from the paper's
    settings."""
    lines = [f"**Scale: {scale}.** {len(cfg.seeds)} seeds; heuristic masks for "
             f"{len(cfg.criteria)} criteria at prune powers 0..{cfg.max_power}. "
             f"**Device:** {dense.device}.", *[f"Dense run, {ln}" for ln in dense.describe_networks()]]
    for model in cfg.models:
        tr = cfg.learned.train_for(model, dense.data[model].sizes["train"])
        stop = ("the early-stopping iteration (minimum validation loss, evaluated every "
                f"{tr.eval_every})" if cfg.learned.early_stop_for(model) else "the end of training")
        lines.append(f"**{model} learned supermasks:** c in {cfg.learned.init_values}, "
                     f"{tr.iterations:,} iterations of SGD (momentum 0.9, lr {tr.lr:g}, batch "
                     f"{tr.batch_size}); accuracy at {stop} = mean over {cfg.learned.samples} "
                     "passes over the test set, each batch of 2,500 with a fresh mask sample.")
    return "\n\n".join([*lines, *failure_note(failures(dense, learned_table)),
                        departures_mod.verdict(departures(cfg, dense))])


def failures(dense: experiment.Result, learned_table: pd.DataFrame) -> list[str]:
    """One line per failed run: dense runs (``Result.failures``), learned supermasks."""
    return dense.failures() + failed_learned(learned_table)


def failed_learned(learned_table: pd.DataFrame) -> list[str]:
    """Each failed learned supermask of a ``learned`` table, named in one line."""
    bad = learned_table[learned_table["failed"]]
    return [f"{r.model} learned supermask c = {r.c:g} seed {r.seed}: diverged"
            for r in bad.itertuples()]


def departures(cfg: Supermasks, dense: experiment.Result) -> list[departures_mod.Departure]:
    """How this supermask experiment departs from the paper's settings; empty at paper scale."""
    sizes = {model: d.sizes["train"] for model, d in dense.data.items()}
    return z19_departures.supermasks(cfg, dense.data_name_by_model, sizes)


def conclusions(heuristic_table: pd.DataFrame, learned_table: pd.DataFrame) -> str:
    """Markdown sentences computed from the results: the paper's supermask claims checked."""
    best = best_heuristic(heuristic_table).set_index(["model", "criterion", "weights"])["mean"]
    out = []
    for model in heuristic_table["model"].unique():
        same = {w: best[(model, "large_final_same_sign", w)] for w in ("initial", "signed_constant")}
        verdict = "above" if same["signed_constant"] > same["initial"] else "**not** above"
        out.append(f"**{model}:** the best `large_final_same_sign` supermask reaches "
                   f"{100 * same['signed_constant']:.1f}% on the signed constant, {verdict} "
                   f"{100 * same['initial']:.1f}% on the initial weights (untrained).")
        rnd = heuristic_table[(heuristic_table["model"] == model)
                              & (heuristic_table["criterion"] == "random")
                              & (heuristic_table["power"] > 0)]
        worst = rnd.groupby(["power", "weights"])["test_acc"].mean().max()
        near = "stay near chance" if worst <= 0.2 else "do **not** stay near chance"
        out.append(f"Random masks {near}: at most {100 * worst:.1f}% at any prune power.")
        lt = learned_table[(learned_table["model"] == model) & ~learned_table["failed"]]
        if len(lt):
            by_c = lt.groupby("c")[["final_acc", "pruned_pct"]].mean()
            c = by_c["final_acc"].idxmax()
            out.append(f"The best learned supermask (c = {c:g}) reaches "
                       f"{100 * by_c.loc[c, 'final_acc']:.1f}% with "
                       f"{by_c.loc[c, 'pruned_pct']:.1f}% of the weights pruned in expectation; "
                       f"over all c the pruned fraction spans {by_c['pruned_pct'].min():.0f}%"
                       f"-{by_c['pruned_pct'].max():.0f}%.")
    return "\n\n".join(out)
