"""L23: lottery tickets found with layerwise importance measures (paper_specs.md Notebook 6).

Lottery-ticket rewinding as L23 runs it (6.2), on THE pruning loop (``loop.prune_loop``):
per network and seed, the dense network is pretrained for k iterations once (shared by every
measure); level 0 trains from that state; after each level, every prunable tensor's unpruned
weights are scored by an importance measure (``criteria.importance``), the scores of all tensors
are pooled, and OpenLTH's rule prunes: tau = the n-th smallest score with
n = ceil(0.2 x remaining), keep score > tau; then all parameters and buffers rewind to the
state at k. All measures x seeds of a network train as one population.

Section 5 (multiple tickets per initialisation) on one network: the overlap of the tickets
of several measures at one level, and the partial re-initialisation test: re-run the same
procedure from an init that keeps theta_0 only on the overlap (fresh Kaiming draws
elsewhere). The analyses themselves are pure functions in ``analysis``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
import torch

from ... import data as data_mod
from ... import departures as departures_mod
from ... import engine, executor, loop, models, paper, schedule, seeds, view
from ... import result as result_mod
from ...store import RunStore
from . import analysis
from . import claims as claims_mod
from .config import (
    CHANCE_PCT,
    MEASURE_NAMES,
    MEASURES,
    NETWORK_NAMES,
    PAPER,
    SEEDS,
    TABLE1_LAYERS,
    Layerwise,
    Setting,
    _length,
    arm,
    paper_config,
    run_config,
)


def load_data(cfg: Layerwise, model: str, device: torch.device | str = "cpu"
              ) -> data_mod.Dataset:
    """The network's data as L23 used it: no validation split (all training examples
    train, the test set tests), OpenLTH's normalisation and augmentation."""
    d = cfg.setting(model).data
    return data_mod.load(d.dataset, d.root, device, **d.options())


def from_pack(cfg: Layerwise, value: dict, store: RunStore) -> LayerwiseResult:
    """The result a pack carries (``LayerwiseResult.to_pack``), read from ``store``."""
    return LayerwiseResult(cfg, view.frame_from(value["runs"]), view.data_from(value["data"]),
                           value["device"], store)


def run(cfg: Layerwise, progress: bool = True) -> LayerwiseResult:
    """Run (or resume) every network's tickets, then section 5's partial re-initialisation;
    finished levels in the store are never recomputed."""
    device = engine.resolve_device(cfg.device)
    if device.type == "cuda":  # §5: tickets differ by their measure, not by kernel choices
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    store = RunStore(cfg.store)
    ex = executor.make(cfg.executor, cfg.ray)  # populations of one level train at once on Ray
    rows, info = [], {}
    for model_name in cfg.models:
        s = cfg.setting(model_name)
        data = load_data(cfg, model_name, device)
        info[model_name] = loop.DataInfo(data.name, data.description, data.sizes(),
                                            data.input_shape)
        net = models.build(model_name, data.input_shape, data.num_classes)
        # The end-of-level weights are kept for the network section 5 analyses only: the
        # large networks' would take tens of GB.
        keep = model_name == cfg.overlap_model
        pairs = [(m, seed) for m in cfg.measures for seed in cfg.seeds]
        runs = [loop.Run(run_config(model_name, data.name, s, m, seed), seed,
                            arm(m, s.ignore_output_layer), s.train,
                            rewind_iteration=s.rewind_iteration, keep_final=keep)
                for m, seed in pairs]
        keys = loop.prune_loop(net, data, runs, s.levels, store, device, progress,
                                  name=model_name, executor=ex)
        rows += [{"key": k, "model": model_name, "measure": m, "seed": seed, "role": "ticket",
                  "reinit_seed": None} for k, (m, seed) in zip(keys, pairs)]
        if keep and cfg.overlap.reinit_seeds:
            rows += _partial_reinit(cfg, model_name, net, data, s, store, device, progress,
                                    {(m, seed): k for k, (m, seed) in zip(keys, pairs)}, ex)
    return LayerwiseResult(cfg, pd.DataFrame(rows), info, str(device), store)


def _partial_reinit(cfg: Layerwise, model_name: str, net: torch.nn.Module,
                    data: data_mod.Dataset, s: Setting, store: RunStore, device: torch.device,
                    progress: bool, tickets: dict[tuple, str], ex) -> list[dict]:
    """Section 5's test: from theta_0' (theta_0 on the overlap O of the measures' tickets at
    the overlap level, fresh Kaiming draws on every other prunable weight, everything else
    theta_0), the same procedure, same data order, to that level; one run per measure and
    re-initialisation seed. None when a ticket run failed before that level."""
    ov = cfg.overlap
    keys = [tickets[(m, ov.seed)] for m in ov.measures]
    if not all(_reached(store, k, ov.level - 1) for k in keys):  # level L-1 chose the ticket
        return []
    overlap = analysis.overlap_mask([ticket(store, k, ov.level) for k in keys])
    theta_0 = models.initial_state(net, ov.seed)
    pairs = [(m, r) for m in ov.measures for r in ov.reinit_seeds]
    runs = []
    for m, r in pairs:
        fresh = models.initial_state(net, seeds.derive(ov.seed, "partial-reinit", r))
        init = analysis.partial_reinit(theta_0, fresh, overlap)
        runs.append(loop.Run(run_config(model_name, data.name, s, m, ov.seed),
                                ov.seed, arm(m, s.ignore_output_layer), s.train,
                                rewind_iteration=s.rewind_iteration, init=init))
    keys = loop.prune_loop(net, data, runs, ov.level, store, device, progress,
                              name=f"{model_name} partial re-init", executor=ex)
    return [{"key": k, "model": model_name, "measure": m, "seed": ov.seed, "role": "reinit",
             "reinit_seed": r} for k, (m, r) in zip(keys, pairs)]


def ticket(store: RunStore, key: str, level: int) -> dict[str, torch.Tensor]:
    """The mask a run trained with at ``level`` (the ticket at that level): the mask its
    previous level chose; level 0's is all ones."""
    if level == 0:
        return {n: torch.ones_like(m) for n, m in store.masks(key, 0).items()}
    return store.masks(key, level - 1)


def _short_of(store: RunStore, key: str, level: int) -> str | None:
    """Why a run has no ticket at ``level`` (it stopped before choosing it), or None."""
    stop = loop.stop_reason(store, key)
    return stop[1] if stop is not None and stop[0] < level else None


def _reached(store: RunStore, key: str, level: int) -> bool:
    """Whether a run trained ``level`` and every level before it without diverging."""
    return all(store.has_level(key, n) and not store.level(key, n).failed
               for n in range(level + 1))




@dataclass
class LayerwiseResult(result_mod.Result):
    """What the notebook needs: ``runs`` has one row per run (key, model, seed, measure,
    role: ticket or reinit, reinit_seed). Every analysis reads the store; the computations
    are ``analysis``'s, the verdicts ``claims``'s."""

    def claims(self) -> pd.DataFrame:
        """L23's qualitative claims judged on these runs (``claims.claims``)."""
        return claims_mod.claims(self)

    def scorecard_rows(self, scale: str) -> list[dict]:
        """Table 2's cells, section 5's numbers and the claims (``claims.scorecard_rows``)."""
        return claims_mod.scorecard_rows(self, scale)

    def to_pack(self) -> dict:
        """What a pack carries of this result (``lt_core.view``); ``from_pack`` reads it."""
        return {"runs": view.frame_to(self.runs), "data": view.data_to(self.data),
                "device": self.device}

    def report(self) -> str:
        """Plain text for the command line: the test accuracy per network, measure and level,
        and Table 2 next to the paper's for L23's networks."""
        t = self.ticket_levels()
        acc = (100 * t.groupby(["model", "measure", "level"])["test_acc"].mean()).round(2)
        parts = ["== test accuracy (%) at the end of training, mean over seeds, per level\n"
                 + acc.unstack("level").to_string()]
        table2 = self.table2()
        if not table2.empty:
            parts.append("== L23 Table 2 next to this run\n" + table2.to_string(index=False))
        return "\n\n".join(parts)

    # -- tables of runs --------------------------------------------------------------------
    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per run and level: model, measure, seed, role (ticket | reinit),
        reinit_seed, level, percent_remaining, sparsity_pct, test_acc (at the end of
        training, as L23 reports), failed, failed_at, wall_s."""
        s = self.store.summary(list(self.runs["key"]))
        info = self.runs.set_index("key")[["model", "measure", "role", "reinit_seed"]]
        s = s.drop(columns=["line", "early_stop_iteration"]).join(info, on="run").rename(
            columns={"test_acc_at_early_stop": "test_acc"})
        s["sparsity_pct"] = 100.0 - s["percent_remaining"]
        return s[["run", "model", "measure", "seed", "role", "reinit_seed", "level",
                  "percent_remaining", "sparsity_pct", "test_acc", "failed", "failed_at",
                  "collapsed", "wall_s"]]

    def ticket_levels(self) -> pd.DataFrame:
        """The ticket runs' levels that trained without diverging."""
        s = self.summary
        return s[(s["role"] == "ticket") & ~s["failed"]]

    def failures(self) -> list[str]:
        """One line per run that diverged (``engine.divergence``): from that level on it has
        no result, and every table, figure and verdict leaves it out; and one for section
        5's partial re-initialisation when a ticket it needs did not reach the overlap level
        (it is then not trained)."""
        out = []
        for r in self.runs.itertuples():
            stop = loop.stop_reason(self.store, r.key)
            if stop is not None:
                out.append(f"{r.model} {r.measure} seed {r.seed}"
                           + (f" (partial re-init {int(r.reinit_seed)})" if r.role == "reinit"
                              else "") + f": {stop[1]}")
        ov, model = self.config.overlap, self.config.overlap_model
        if ov.reinit_seeds and not (self.runs["role"] == "reinit").any():
            short = [f"the {m} ticket {why}" for m in ov.measures
                     if (why := _short_of(self.store, self._key(model, m, ov.seed), ov.level))]
            out.append(f"{model} partial re-init of {', '.join(ov.measures)} seed {ov.seed} "
                       f"(re-init seeds {', '.join(map(str, ov.reinit_seeds))}): not trained, "
                       + "; ".join(short))
        return out

    def _key(self, model: str, measure: str, seed: int, role: str = "ticket",
             reinit_seed: int | None = None) -> str:
        r = self.runs
        r = r[(r["model"] == model) & (r["measure"] == measure) & (r["seed"] == seed)
              & (r["role"] == role)]
        if reinit_seed is not None:
            r = r[r["reinit_seed"] == reinit_seed]
        return r["key"].iloc[0]

    def _finals(self, key: str, level: int) -> list[dict[str, torch.Tensor]]:
        """End-of-training weights of levels 0..``level`` of a run."""
        out = []
        for n in range(level + 1):
            rec = self.store.tensors(key, n)
            if "final" not in rec:
                raise RuntimeError(
                    f"run {key} ({self.store.config(key)['model']}) was stored without its "
                    f"end-of-level weights (it was not overlap.model when it ran); delete "
                    f"{self.store.root / key} to recompute it with them")
            out.append(rec["final"])
        return out

    def start_state(self, model: str, seed: int) -> dict[str, torch.Tensor]:
        """theta_{0,k}: the state every level of a seed's tickets starts from (the init when
        k = 0, else the stored rewind point)."""
        s = self.config.setting(model)
        net = models.build(model, self.data[model].input_shape,
                           data_mod.NUM_CLASSES[s.data.dataset])
        if s.rewind_iteration == 0:
            return models.initial_state(net, seed)
        probe = loop.Run(run_config(model, self.data[model].name, s, self.config.measures[0],
                                       seed), seed, arm(self.config.measures[0]), s.train,
                            rewind_iteration=s.rewind_iteration)
        key = self.store.key(loop.rewind_point_config(probe, self.data[model].name))
        return self.store.tensors(key, 0)["state"]

    # -- analyses --------------------------------------------------------------------------
    @cached_property
    def layer_sparsity(self) -> pd.DataFrame:
        """LPR per prunable tensor of every ticket at every level it trained (L23 Figure 1,
        Appendices C and D): model, measure, seed, level, layer, depth, numel, kept,
        lpr_pct."""
        frames = []
        for r in self.ticket_levels().itertuples():
            f = analysis.layer_sparsity(ticket(self.store, r.run, r.level))
            frames.append(f.assign(model=r.model, measure=r.measure, seed=r.seed, level=r.level))
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def overlaps(self) -> pd.DataFrame:
        """The overlap of the tickets of overlap.measures of every network, seed and level
        all of them trained (L23 §5, Appendix B.3): the columns of ``analysis.overlap`` and
        model, seed, level."""
        measures = self.config.overlap.measures
        t = self.ticket_levels()
        t = t[t["measure"].isin(measures)]
        frames = []
        for (model, seed, level), g in t.groupby(["model", "seed", "level"]):
            if len(g) < len(measures):  # a measure's run diverged before this level
                continue
            masks = {m: ticket(self.store, k, level) for m, k in zip(g["measure"], g["run"])}
            frames.append(analysis.overlap(masks).assign(model=model, seed=seed, level=level))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _section5(self) -> tuple[str, dict[str, str], dict[str, dict], dict]:
        """The overlap network, its ticket runs per measure, their tickets at the overlap
        level and the overlap O (seed overlap.seed)."""
        ov, model = self.config.overlap, self.config.overlap_model
        keys = {m: self._key(model, m, ov.seed) for m in ov.measures}
        failed = [m for m, k in keys.items() if not _reached(self.store, k, ov.level)]
        if failed:
            stops = [loop.stop_reason(self.store, keys[m]) for m in failed]
            why = next((stop[1] for stop in stops if stop), "not computed")
            raise RuntimeError(f"{model} {', '.join(failed)} seed {ov.seed} did not reach "
                               f"level {ov.level} ({why}): no overlap to analyse")
        tickets = {m: ticket(self.store, k, ov.level) for m, k in keys.items()}
        return model, keys, tickets, analysis.overlap_mask(list(tickets.values()))

    @cached_property
    def stability(self) -> pd.DataFrame:
        """L23 Figure 2 at the overlap level: per ticket connection of each measure, the std
        of its end-of-level values over levels 0..L and whether its sign flipped
        (``analysis.stability``), with a measure column."""
        model, keys, tickets, o = self._section5()
        level = self.config.overlap.level
        return pd.concat([analysis.stability(self._finals(k, level), tickets[m], o)
                          .assign(measure=m) for m, k in keys.items()], ignore_index=True)

    @cached_property
    def movement(self) -> pd.DataFrame:
        """L23 Figure 3: in the first layer, each ticket connection's value at the rewind
        point and at the end of the overlap level (``analysis.movement``)."""
        model, keys, tickets, o = self._section5()
        level, seed = self.config.overlap.level, self.config.overlap.seed
        layer = next(iter(o))
        start = self.start_state(model, seed)[layer]
        return pd.concat([analysis.movement(start, self._finals(k, level)[-1][layer],
                                            tickets[m][layer], o[layer])
                          .assign(measure=m, layer=layer) for m, k in keys.items()],
                         ignore_index=True)

    @cached_property
    def reinit(self) -> pd.DataFrame:
        """The partial re-initialisation test: per measure, re-initialisation seed and tensor,
        the overlap's connections in the new ticket at the overlap level, observed vs
        expected (``analysis.reinit_overlap``). Empty when the test did not run."""
        model, _, _, o = self._section5()
        level = self.config.overlap.level
        frames = []
        for r in self.runs[self.runs["role"] == "reinit"].itertuples():
            if not _reached(self.store, r.key, level - 1):  # M' is chosen at the end of L-1
                continue
            frames.append(analysis.reinit_overlap(o, ticket(self.store, r.key, level))
                          .assign(measure=r.measure, reinit_seed=int(r.reinit_seed)))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @cached_property
    def init_ranges(self) -> pd.DataFrame:
        """L23 Table 1's init column, for our ResNet-18 (Tiny ImageNet shapes, every seed):
        per layer, the min and max of the initial weights, and the central 98% interval of
        the extremes of that many draws of our initialiser (``analysis.extreme_range``): no
        training needed, so it is checked at every scale."""
        net = models.build("resnet18", (3, 64, 64), 200)
        rows = []
        for s in self.config.seeds:
            state = models.initial_state(net, s)
            for name, layer in TABLE1_LAYERS.items():
                w = state[layer]
                std = math.sqrt(2.0 / w[0].numel())  # Kaiming normal, fan_in, gain sqrt(2)
                lo, hi = analysis.extreme_range(std, w.numel())
                rows.append({"layer": name, "tensor": layer, "seed": s, "min": float(w.min()),
                             "max": float(w.max()), "extreme_lo": lo, "extreme_hi": hi})
        return pd.DataFrame(rows)

    def overlap_at_level(self) -> pd.DataFrame:
        """Section 5's overlap table: ``overlaps()`` of the overlap network and seed at the
        overlap level."""
        ov, o = self.config.overlap, self.overlaps
        if o.empty:
            return o
        return o[(o["model"] == self.config.overlap_model) & (o["seed"] == ov.seed)
                 & (o["level"] == ov.level)].reset_index(drop=True)

    # -- the paper's numbers -----------------------------------------------------------------
    def table2(self) -> pd.DataFrame:
        """L23 Table 2 next to this build: per network, level (the paper's steps that ran
        here) and measure, this build's mean, std and n of the test accuracy over seeds (in %)
        and the paper's; ``tolerance`` = max(0.1, 2 s sqrt(1/3 + 1/n)) percentage points,
        two standard errors of the difference of the two means when the paper's std s is the
        run-to-run std of both; ``comparable`` where this network ran at the paper's
        settings."""
        t2 = paper.load("l23_table2")
        ok = self.ticket_levels()
        rows = []
        for model in self.config.models:
            net = NETWORK_NAMES.get(model)  # None: not an L23 network, no paper numbers
            mine = ok[ok["model"] == model]
            for r in t2[t2["network"] == net].itertuples():
                if r.criterion == "Dense":
                    values = mine[mine["level"] == 0].drop_duplicates("seed")["test_acc"]
                    measure = "dense"
                else:
                    measure = {v: k for k, v in MEASURE_NAMES.items()}[r.criterion]
                    values = mine[(mine["level"] == r.steps) & (mine["measure"] == measure)][
                        "test_acc"]
                if values.empty:
                    continue
                failed = self._failed_by(model, None if measure == "dense" else measure,
                                         r.steps)
                at = mine[(mine["level"] == r.steps) & (mine["measure"] == measure)
                          & mine["collapsed"].map(bool)] if measure != "dense" else mine[:0]
                collapsed = [f"seed {c.seed}: {', '.join(c.collapsed)}" for c in at.itertuples()]
                n = len(values)
                tol = max(0.1, 2.0 * r.std * math.sqrt(1.0 / SEEDS + 1.0 / n))
                mean = 100.0 * values.mean()
                rows.append({
                    "model": model, "level": r.steps, "sparsity_pct": r.sparsity_pct,
                    "measure": measure, "mean": mean,
                    "std": 100.0 * values.std(ddof=1) if n > 1 else float("nan"), "n": n,
                    "paper_mean": r.mean, "paper_std": r.std, "diff": mean - r.mean,
                    "tolerance": tol, "within": abs(mean - r.mean) <= tol,
                    "chance_pct": CHANCE_PCT.get(self.config.setting(model).data.dataset, 10.0),
                    "comparable": not self.network_departures(model), "failed": failed,
                    "collapsed": collapsed})
        return pd.DataFrame(rows)

    def _failed_by(self, model: str, measure: str | None, level: int) -> list[str]:
        """The ticket runs of a network (and measure) that diverged at or before ``level``."""
        f = self.summary
        f = f[(f["role"] == "ticket") & (f["model"] == model) & f["failed"]
              & (f["level"] <= level)]
        if measure is not None:
            f = f[f["measure"] == measure]
        return [f"{r.measure} seed {r.seed} (level {r.level})" for r in f.itertuples()]

    # -- scale -----------------------------------------------------------------------------
    def network_departures(self, model: str) -> list[departures_mod.Departure]:
        """How a network's training and data depart from L23's, field by field (not its number
        of levels, seeds or measures: those change how much was run, not the numbers)."""
        Departure = departures_mod.Departure
        if model not in PAPER:
            return [Departure("network", model, "one of L23's networks (no paper settings or "
                              "numbers)")]
        s, p = self.config.setting(model), PAPER[model]
        # eval_every is ours (L23 reports the end of training); a length in epochs and one in
        # iterations compare as lengths; the dataset by the data read, the levels in
        # departures() (a sample), the output-layer rule in words, below
        skip = {"data.root", "data.dataset", "train.eval_every", "train.epochs",
                "train.iterations", "levels", "ignore_output_layer"}
        out = []
        if _length(s.train) != _length(p.train):
            out.append(Departure("train length", _length(s.train), _length(p.train), model))
        out += departures_mod.diff(s, p, skip=frozenset(skip), network=model)
        if s.ignore_output_layer != p.ignore_output_layer:
            rule = {True: "not pruned (OpenLTH's rule)", False: "pruned"}
            out.append(Departure("output layer", rule[s.ignore_output_layer],
                                 rule[p.ignore_output_layer], model))
        name = self.data[model].name.split("+")[0]
        if name != data_mod.FULL_NAME[p.data.dataset]:
            out.append(Departure("data", name, data_mod.FULL_NAME[p.data.dataset], model))
        return out

    def departures(self) -> list[departures_mod.Departure]:
        """Everything that departs from L23's experiment; empty at paper scale."""
        Departure = departures_mod.Departure
        cfg, ref = self.config, paper_config()
        out = [d for m in cfg.models for d in self.network_departures(m)]
        if set(cfg.models) != set(ref.models):
            out.append(Departure("models", tuple(cfg.models), tuple(ref.models), effect="sample"))
        for m in [m for m in cfg.models if m in PAPER]:
            if cfg.setting(m).levels < PAPER[m].levels:
                out.append(Departure("levels", cfg.setting(m).levels, PAPER[m].levels, m,
                                     effect="sample"))
        if len(cfg.seeds) != SEEDS:
            out.append(Departure("number of seeds", len(cfg.seeds), SEEDS, effect="sample"))
        if set(cfg.measures) != set(MEASURES):
            out.append(Departure("measures", tuple(cfg.measures), MEASURES, effect="sample"))
        ov = cfg.overlap
        ours = f"{cfg.overlap_model} at level {ov.level} with {', '.join(sorted(ov.measures))}"
        theirs = (f"{ref.overlap_model} at level {ref.overlap.level} with "
                  f"{', '.join(sorted(ref.overlap.measures))}")
        if ours != theirs:
            out.append(Departure("overlap", ours, theirs))
        return out

    def head(self, scale: str) -> str:
        cfg = self.config
        return (f"**Scale: {scale}.** {len(cfg.measures)} measures ({', '.join(cfg.measures)}) "
                f"x {len(cfg.seeds)} seed{'s' * (len(cfg.seeds) > 1)}. **Device:** {self.device}.")

    def paragraphs(self) -> list[str]:
        """Per network its levels, training, output-layer rule and data; section 5's setup."""
        cfg, lines = self.config, []
        for m in cfg.models:
            s, d = cfg.setting(m), self.data[m]
            length = schedule.plan(s.train, d.sizes["train"]).total
            lines.append(
                f"**{m}:** {s.levels} levels after the dense level 0, each {length:,} "
                f"iterations (batch {s.train.batch_size}, SGD lr {s.train.lr:g}, momentum "
                f"{s.train.momentum:g}, weight decay {s.train.weight_decay:g}), rewinding to "
                f"iteration {s.rewind_iteration}. **Output layer:** "
                + ("never pruned but counted in the remaining weights (OpenLTH's rule)"
                   if s.ignore_output_layer else "pruned with the other layers")
                + f". **Data:** {d.description}; sizes {d.sizes}.")
        ov = cfg.overlap
        lines.append(f"**Section 5** on {cfg.overlap_model}, seed {ov.seed}: the tickets of "
                     f"{', '.join(ov.measures)} at level {ov.level}; partial re-initialisation "
                     f"with {len(ov.reinit_seeds)} fresh draw{'s' * (len(ov.reinit_seeds) != 1)}.")
        return lines
