"""Running an experiment and reading it back: ``run`` trains what the store lacks, ``Result``
holds the tidy frames, the description of scale, data and departures, and the claims; the
scorecard's and the entry page's rows of this chapter."""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
import torch

from ... import data as data_mod
from ... import departures as departures_mod
from ... import engine, executor, loop, models, schedule, verdicts
from ... import result as result_mod
from ...config import PAPER_PARAMS
from ...record import Level
from ...store import RunStore
from . import analysis
from . import claims as claims_mod
from .config import FIGURES, Decoupling, Study, load, phase_train
from .plan import Plan


@dataclass
class Result(result_mod.Result):
    """The stored trainings of one experiment as tidy frames (read on first use). ``runs``:
    every training (key, model, seed, study, role: find, baseline or eval); ``data``: its one
    network's."""

    points: pd.DataFrame  # per figure point and seed: study, pruning, find, eval, lpr_from, seed,
    # level, key, stored_level, ...
    finds: pd.DataFrame  # study, find, lpr_from, seed, key: every find run
    layers: list[str]  # prunable tensors in depth order
    numel: dict[str, int]
    a9: bool = False  # Fig A9's experiment (its paper settings are the a9 section's)
    fig_a9: Result | None = None  # the a9 section's experiment, run with this one

    @cached_property
    def accuracy(self) -> pd.DataFrame:
        """One row per figure point and seed: test accuracy at the end of training (H21 and
        OpenLTH report it), ``failed`` where the training diverged (accuracy NaN)."""
        rows = []
        for point in self.points.to_dict("records"):
            why, rec = _point(self.store, point)
            pct = point.get("percent_remaining")
            if pct is None or pd.isna(pct):
                pct = rec.percent_remaining if rec is not None else float("nan")
            failed = why is not None or rec.failed
            rows.append({**{k: v for k, v in point.items()
                            if k not in ("key", "stored_level", "skipped")},
                         "percent_remaining": pct, "fraction_pruned": 1 - pct / 100,
                         "test_acc": float("nan") if why else rec.test_acc_at_end,
                         "failed": failed, "failed_at": None if why else rec.failed_at,
                         "why": why or (f"diverged at iteration {rec.failed_at}"
                                        if failed else ""),
                         "run": point["key"]})
        return pd.DataFrame(rows)

    @cached_property
    def find_accuracy(self) -> pd.DataFrame:
        """The find runs' own trainings per level (H_find = H_eval by construction); level 0
        is the dense network trained under H_find."""
        rows = []
        for f in self.finds.to_dict("records"):
            for level in self.store.levels(f["key"]):
                rec = self.store.level(f["key"], level)
                rows.append({**{k: f[k] for k in ("study", "find", "lpr_from", "seed")},
                             "level": level, "percent_remaining": rec.percent_remaining,
                             "test_acc": rec.test_acc_at_end, "failed": rec.failed})
        return pd.DataFrame(rows)

    @cached_property
    def masks_per_layer(self) -> pd.DataFrame:
        """Kept weights per layer of every find run's mask M^(n), n = 1..levels reached
        (for ``analysis.layerwise_pruning_ratios``); a level that diverged chose no mask."""
        rows = []
        for f in self.finds.to_dict("records"):
            if self.config.study(f["study"]).structured:
                continue
            for level in self.store.levels(f["key"])[: self.config.levels]:  # masks that trained
                if not self.store.level(f["key"], level).continues:
                    break
                nxt = self.store.masks(f["key"], level)
                for depth, layer in enumerate(self.layers):
                    rows.append({**{k: f[k] for k in ("study", "find", "lpr_from", "seed")},
                                 "level": level + 1, "layer": layer, "depth": depth,
                                 "kept": int(nxt[layer].sum()),
                                 "numel": self.numel[layer]})
        return pd.DataFrame(rows)

    @cached_property
    def curves(self) -> pd.DataFrame:
        """Mean and std over seeds of every figure line per level (``analysis.curves``)."""
        return analysis.curves(self.accuracy)

    @cached_property
    def lpr(self) -> pd.DataFrame:
        """The LPR of every layer of every find run's masks (``analysis``)."""
        return analysis.layerwise_pruning_ratios(self.masks_per_layer)

    def claims(self) -> pd.DataFrame:
        """H21's claims (h21_check_values.md Q1-Q16; for Fig A9's experiment Q15) with their
        verdicts (``claims``): columns id, figure, claim, verdict (``verdicts.Verdict``)."""
        if self.a9:
            rows = claims_mod.judge_a9(self.accuracy, self.find_accuracy)
        else:
            rows = claims_mod.judge(self.accuracy, self.find_accuracy, self.lpr,
                                    {s.name: s for s in self.config.studies},
                                    self.config.constrained, self.config.lpr_levels)
        return pd.DataFrame(rows, columns=["id", "figure", "claim", "verdict"])

    @property
    def dataset(self) -> loop.DataInfo:
        """The data of its one network."""
        return self.data[self.config.model]

    def describe_claims(self, ids: list[str], scale: str) -> str:
        """Markdown bullets: each claim with ``id`` in ``ids``, its verdict in words where it
        was reached and the statistic behind it."""
        rows = self.claims()
        rows = rows[rows["id"].isin(ids)]
        return "\n".join(
            f"- **{r.id}** ({r.figure}): {r.claim}: "
            f"**{verdicts.word(r.verdict, self.paper_settings(), scale)}**"
            + (f" ({r.verdict.statistic})" if r.verdict.statistic else "") + "."
            for r in rows.itertuples())

    def claims_table(self, scale: str) -> pd.DataFrame:
        """Every claim as the page's table: verdict in words, then the statistic."""
        c = self.claims()
        return pd.DataFrame({
            "id": c["id"], "figure": c["figure"], "claim": c["claim"],
            "verdict": [verdicts.word(v, self.paper_settings(), scale) for v in c["verdict"]],
            "statistic": [v.statistic for v in c["verdict"]]})

    def report(self) -> str:
        """Plain text for the command line: best coupled and decoupled pair per level, the
        LPR per layer at ``lpr_levels``, and the claims."""
        parts = []
        for s in self.config.studies:
            if s.structured:
                continue
            best = analysis.best_coupled_vs_decoupled(self.curves, s.name)
            parts.append(f"== {s.name}: best coupled vs best decoupled (mean, std over seeds)\n"
                         + best.round(4).to_string(index=False))
            parts.append(f"== {s.name}: LPR per layer (%) at levels {self.config.lpr_levels}\n"
                         + analysis.lpr_table(self.lpr, s.name, self.config.lpr_levels).to_string())
        parts.append("== claims\n" + self.claims_table("this").to_string(index=False))
        if self.fig_a9 is not None:
            parts.append("== Fig A9\n" + self.fig_a9.report())
        return "\n\n".join(parts)

    def failures(self) -> list[str]:
        """One line per run that stopped early (it diverged, ``engine.divergence``, or the
        run it takes its counts from did) and per dependent training that could not run
        because the find run it needs had stopped: which levels, and why."""
        out = []
        for f in self.finds.to_dict("records"):
            stop = loop.stop_reason(self.store, f["key"])
            if stop is not None:
                lpr = f" with {_fmt(f['lpr_from'])}'s LPR" if _given(f["lpr_from"]) else ""
                out.append(f"{f['study']} find {_vary(self.config, f['study'])} {_fmt(f['find'])}"
                           f"{lpr} seed {f['seed']}: {stop[1]}")
        finds = set(self.finds["key"])
        points = self.points
        for key, g in points[points["key"].notna() & ~points["key"].isin(finds)].groupby(
                "key", sort=False):
            stop = loop.stop_reason(self.store, key)
            if stop is None:
                continue
            why = stop[1]
            if self.store.config(key)["kind"] == "h21_eval":  # its one level is the figure's
                at = self.store.level(key, 0).failed_at
                why = f"diverged at level {_levels(g['level'])} (iteration {at})"
            out.append(f"{_name(self.config, g.iloc[0])}: {why}")
        if "skipped" in points:
            skipped = points[points["skipped"].notna()]
            for _, g in skipped.groupby(["study", "find", "eval", "lpr_from", "seed"],
                                        dropna=False, sort=False):
                r = g.iloc[0]
                out.append(f"{_name(self.config, r)}, level{'s' * (len(g) > 1)} "
                           f"{_levels(g['level'])}: not trained, {r.skipped}")
        if self.fig_a9 is not None:  # the same chapter's other experiment
            out += [f"Fig A9 {failure}" for failure in self.fig_a9.failures()]
        return out

    def departures(self) -> list[departures_mod.Departure]:
        return departures(self.config, self.dataset, self.a9)

    def scorecard_rows(self, scale: str) -> list[dict]:
        """H21's claims as scorecard rows (``scorecard.COLUMNS``), Fig A9's too where it ran.
        H21 states no numbers; claims its captions contradict are marked so, not judged."""
        rows = []
        for result in (self, *([self.fig_a9] if self.fig_a9 is not None else [])):
            settled = result.paper_settings()
            for c in result.claims().itertuples():
                rows.append({"paper": "H21", "claim": f"{c.id}: {c.claim}",
                             "network": result.config.model, "source": f"H21 {c.figure}",
                             "paper says": "holds (no numbers stated)", "this build": "",
                             "statistic": c.verdict.statistic,
                             "checked at": result.checked_at(scale, settled),
                             "verdict": verdicts.word(c.verdict, settled, scale),
                             "data": result.dataset.name, "seeds": result.seeds})
        return rows

    def head(self, scale: str) -> str:
        cfg = self.config
        n_studies = f"{len(cfg.studies)} stud{'y' if len(cfg.studies) == 1 else 'ies'}"
        return (f"**Scale: {scale}.** {cfg.model} ({sum(self.numel.values()):,} "
                f"prunable weights), {n_studies} x {len(cfg.seeds)} seeds, "
                f"{cfg.levels} pruning levels of {cfg.fraction:g} of the remaining weights "
                f"(global magnitude). **Device:** {self.device}.")

    def paragraphs(self) -> list[str]:
        """The shared training, each study's settings, and what a stand-in network can say."""
        cfg, tr, d = self.config, self.config.train, self.dataset
        length = f"{tr.epochs:g} epochs" if tr.epochs is not None else f"{tr.iterations:,} iterations"
        shared = (f"**Shared training:** {tr.optimizer} momentum {tr.momentum:g}, lr {tr.lr:g}, "
                  f"batch {tr.batch_size}, weight decay {tr.weight_decay:g}, {length}"
                  + (f", lr x{tr.gamma:g} at epochs {tr.milestones}" if tr.milestones else "")
                  + f". **Data:** {d.description}; sizes {d.sizes}.")
        studies = "**Studies:** " + "; ".join(_describe_study(s) for s in cfg.studies) + "."
        note = stand_in_note(cfg)
        return [shared, studies, *([note] if note else [])]


def _fmt(v) -> str:
    return "default" if not _given(v) else f"{v:g}"


def _given(v) -> bool:
    return not (v is None or (isinstance(v, float) and math.isnan(v)))


def _vary(cfg: Decoupling, study: str) -> str:
    return {"lr": "lr", "batch_size": "batch", "weight_decay": "wd",
            "stop_epoch": "stop epoch"}[cfg.study(study).vary]


def _name(cfg: Decoupling, r) -> str:
    """A figure point's training in words: ``eval lr 0.2 <- find lr 0.5 seed 1``."""
    vary = _vary(cfg, r["study"])
    what = {"lottery": "eval", "global_random": "global random",
            "preserve_lpr": "preserve LPR"}[r["pruning"]]
    lpr = f" with {_fmt(r['lpr_from'])}'s LPR" if _given(r["lpr_from"]) else ""
    return (f"{r['study']} {what} {vary} {_fmt(r['eval'])} <- find {vary} {_fmt(r['find'])}"
            f"{lpr} seed {r['seed']}")


def _levels(levels: pd.Series) -> str:
    lv = sorted(int(v) for v in levels)
    return f"{lv[0]}-{lv[-1]}" if len(lv) > 1 and lv == list(range(lv[0], lv[-1] + 1)) \
        else ", ".join(map(str, lv))


def _point(store: RunStore, point: dict) -> tuple[str | None, Level | None]:
    """(why there is no result, record) of one figure point: skipped by the plan, or its
    run stopped before this level."""
    if isinstance(point.get("skipped"), str):
        return point["skipped"], None
    level = int(point["stored_level"])  # a float where the frame also holds skipped points (NaN)
    if not store.has_level(point["key"], level):
        stop = loop.stop_reason(store, point["key"])
        return (f"its run {stop[1]}" if stop else "not trained"), None
    return None, store.level(point["key"], level)


def _describe_study(s: Study) -> str:
    phases = []
    for side, phase in (("find", s.find_phase), ("eval", s.eval_phase)):
        over = {k: v for k, v in dataclasses.asdict(phase).items() if v is not None}
        if over:
            phases.append(f"{side} " + ", ".join(f"{k} {v:g}" for k, v in over.items()))
    extra = [f"rewind to epoch {s.rewind_epochs:g}"] if s.rewind_epochs else []
    extra += ["LR rewinding"] if s.lr_rewinding else []
    extra += [f"one-shot structured at {s.filters} of the units"] if s.structured else []
    return (f"`{s.name}` ({FIGURES.get(s.name, 'extra')}): {s.vary} find "
            f"{[_fmt(v) for v in s.find]} x eval {[_fmt(v) for v in s.eval]}"
            + "".join(f", {p}" for p in phases + extra))


def departures(cfg: Decoupling, data: loop.DataInfo, a9: bool = False
               ) -> list[departures_mod.Departure]:
    """How this configuration departs, field by field, from H21's setting as
    ``params/paper/05_decoupling.yaml`` holds it (paper_specs.md 5.1; for Fig A9 its ``a9``
    section), and the data it read from the paper's; empty at paper scale."""
    paper = paper_config()
    if a9:
        paper = paper.a9
    out = departures_mod.diff(cfg, paper, skip=departures_mod.RUNTIME | {"a9"})
    if data.name.split("+")[0] != data_mod.FULL_NAME[paper.data.dataset]:
        out.append(departures_mod.Departure("data", data.name.split("+")[0],
                                            paper.data.dataset))
    return out


@functools.cache
def paper_config() -> Decoupling:
    """H21's experiment at the papers' settings: ``params/paper/05_decoupling.yaml``."""
    return load(str(PAPER_PARAMS / "05_decoupling.yaml"))


def stand_in_note(cfg: Decoupling) -> str:
    """The visible sentence on what a stand-in network can and cannot speak to."""
    if cfg.model in ("resnet20", "resnet18"):
        return ""
    d = cfg.data.dataset
    net = models.build(cfg.model, data_mod.INPUT_SHAPE[d], data_mod.NUM_CLASSES[d], width=cfg.width)
    batchnorm = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
    conv = any(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    cannot = ["H21's learning-rate values"] + ([] if batchnorm else ["BatchNorm"])
    cannot += ["per-stage LPR patterns of a ResNet"]
    cannot += [] if conv else ["structured filter pruning of conv layers"]
    return (f"**A stand-in, not H21's network:** H21's networks are CIFAR ResNets (ResNet-20 "
            f"assumed here; ResNet-50 and ResNet-18 in its appendix), with BatchNorm and 20+ "
            f"layers; this run uses {cfg.model} on {d}, {len(net.prune_rates)} prunable layers "
            f"and {'BatchNorm' if batchnorm else 'no BatchNorm'}. It can speak to the "
            "mechanism (does the find rate change the layerwise pruning ratio, and does that "
            "change how well the masks train?) and to orderings at its own grid; it cannot "
            f"speak to {', to '.join(cannot[:-1])}, or to {cannot[-1]}.")


def run(cfg: Decoupling, progress: bool = True) -> Result:
    """Run (or resume) the experiment, and Fig A9's (ResNet-18 on Tiny ImageNet) where ``cfg``
    has an ``a9`` section (``Result.fig_a9``); trainings in the store are never repeated."""
    result = _run(cfg, progress, a9=False)
    if cfg.a9 is None:
        return result
    a9 = dataclasses.replace(cfg.a9, device=cfg.device, store=cfg.store, executor=cfg.executor,
                             ray=cfg.ray)
    return dataclasses.replace(result, fig_a9=_run(a9, progress, a9=True))


def _run(cfg: Decoupling, progress: bool, a9: bool) -> Result:
    """One experiment (the main one, or A9's).

    Level by level in one pruning loop: the find runs, the Fig 7 runs and the random
    baselines train level n (one population per training config), then, in the loop's
    per-level hook, the eval runs of the masks M^(n).
    """
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    d = cfg.data
    data = data_mod.load(d.dataset, d.root, device, **d.options())
    model = models.build(cfg.model, data.input_shape, data.num_classes, width=cfg.width)
    for s in cfg.studies:  # a batch larger than the data fails here, before anything is written
        for side in ("find", "eval"):
            for v in getattr(s, side):
                schedule.plan(phase_train(cfg, s, side, v), len(data.splits["train"][1]),
                              data.name)
    plan = Plan(cfg, data, model, store)
    iterative, structured = plan.iterative_runs(), plan.structured_runs()
    name = cfg.model
    ex = executor.make(cfg.executor, cfg.ray)  # populations of one call train at once on Ray
    if structured:
        loop.prune_loop(model, data, structured, 0, store, device, progress, name, executor=ex)

    def evals_of(level: int) -> None:  # the masks M^(level), trained under every H_eval
        # Claimed while the loop holds the iterative runs' claims: eval keys (h21_eval) are
        # never iterative keys, so the two claims cannot wait on each other.
        evals = plan.eval_runs(level)
        if evals:
            loop.prune_loop(model, data, evals, 0, store, device, progress,
                            f"{name} eval of level {level}", executor=ex)

    loop.prune_loop(model, data, iterative, cfg.levels, store, device, progress, name,
                    executor=ex, after_level=evals_of)
    top = max([cfg.levels] + [len(s.filters) for s in cfg.studies])
    for level in range(cfg.levels + 1, top + 1):  # structured studies' further filter steps
        evals_of(level)
    info = loop.DataInfo(data.name, data.description, data.sizes(), data.input_shape)
    finds = pd.DataFrame([{"study": f.study.name, "find": f.value, "lpr_from": f.lpr_from,
                           "seed": f.seed, "key": f.key} for f in plan.finds])
    points = pd.DataFrame(plan.points)
    numel = {n: p.numel() for n, p in model.named_parameters() if n in model.prune_rates}
    return Result(cfg, _runs(cfg, finds, points), {cfg.model: info}, str(device), store,
                  points, finds, list(model.prune_rates), numel, a9)


def _runs(cfg: Decoupling, finds: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Every training once: the find runs (Fig 7's with another run's LPR among them), then
    the runs the figure points read that are not a find run's: the random baselines and the
    eval runs."""
    rows = [{"key": f["key"], "model": cfg.model, "seed": f["seed"], "study": f["study"],
             "role": "find"} for f in finds.to_dict("records")]
    seen = set(finds["key"])
    for p in points[points["key"].notna()].to_dict("records"):
        if p["key"] not in seen:
            seen.add(p["key"])
            rows.append({"key": p["key"], "model": cfg.model, "seed": p["seed"],
                         "study": p["study"],
                         "role": "eval" if p["pruning"] == "lottery" else "baseline"})
    return pd.DataFrame(rows, columns=["key", "model", "seed", "study", "role"])


def describe_a9(result: Result | None, scale: str) -> str:
    """Markdown: A9's settings and claims, or that it did not run at this scale."""
    if result is None:
        return (f"**Not run at scale {scale}:** `params/paper/05_decoupling.yaml` has it "
                "(`a9:`), with Tiny ImageNet in the data root (`python -m lt_core data "
                "--tiny-imagenet`).")
    return result.describe(scale) + "\n\n" + result.describe_claims(["Q15"], scale)
