"""Running an experiment and reading it back: ``run`` trains what the store lacks, ``Result``
holds the tidy frames, the description of scale, data and departures, and the claims; the
scorecard's and the entry page's rows of this chapter."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pandas as pd

from .. import analysis, banner, engine, executor, lottery, models, schedule
from .. import config as config_mod
from .. import data as data_mod
from .. import departures as departures_mod
from ..store import RunStore, unpack_mask
from .config import FIGURES, PAPER, Decoupling, Study, load, phase_train
from .plan import Plan


@dataclass
class Result:
    """The stored trainings of one experiment as tidy frames (read on first use)."""

    cfg: Decoupling
    lines: pd.DataFrame  # study, kind, find, eval, lpr_from, seed, level, key, round, ...
    finds: pd.DataFrame  # study, find, lpr_from, seed, key: every find run
    data: lottery.DataInfo
    device: str
    store: RunStore
    layers: list[str]  # prunable tensors in depth order
    numel: dict[str, int]

    @cached_property
    def accuracy(self) -> pd.DataFrame:
        """One row per figure point and seed: test accuracy at the end of training (H21 and
        OpenLTH report it), ``failed`` where the training diverged (accuracy NaN)."""
        rows = []
        for line in self.lines.to_dict("records"):
            rec = self.store.load_round(line["key"], line["round"])
            pct = line.get("percent_remaining")
            if pct is None or pd.isna(pct):
                pct = rec["percent_remaining"]
            rows.append({**{k: v for k, v in line.items() if k not in ("key", "round")},
                         "percent_remaining": pct, "fraction_pruned": 1 - pct / 100,
                         "test_acc": rec["test_acc_at_end"],
                         "failed": rec["failed_at"] is not None, "failed_at": rec["failed_at"],
                         "run": line["key"]})
        return pd.DataFrame(rows)

    @cached_property
    def find_accuracy(self) -> pd.DataFrame:
        """The find runs' own trainings per level (H_find = H_eval by construction); level 0
        is the dense network trained under H_find."""
        rows = []
        for f in self.finds.to_dict("records"):
            for rnd in self.store.rounds(f["key"]):
                rec = self.store.load_round(f["key"], rnd)
                rows.append({**{k: f[k] for k in ("study", "find", "lpr_from", "seed")},
                             "level": rnd, "percent_remaining": rec["percent_remaining"],
                             "test_acc": rec["test_acc_at_end"],
                             "failed": rec["failed_at"] is not None})
        return pd.DataFrame(rows)

    @cached_property
    def masks_per_layer(self) -> pd.DataFrame:
        """Kept weights per layer of every find run's mask M^(n), n = 1..levels reached
        (for ``analysis.layerwise_pruning_ratios``)."""
        rows = []
        for f in self.finds.to_dict("records"):
            if self.cfg.study(f["study"]).structured:
                continue
            for rnd in self.store.rounds(f["key"])[: self.cfg.levels]:  # masks that trained
                nxt = self.store.load_round(f["key"], rnd)["next_mask"]
                for depth, layer in enumerate(self.layers):
                    rows.append({**{k: f[k] for k in ("study", "find", "lpr_from", "seed")},
                                 "level": rnd + 1, "layer": layer, "depth": depth,
                                 "kept": int(unpack_mask(nxt[layer]).sum()),
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
        """H21's orderings (h21_check_values.md Q1-Q16) with verdicts computed here (on Tiny
        ImageNet: Fig A9's, Q15)."""
        if self.cfg.data.dataset == "tiny_imagenet":
            return pd.DataFrame(analysis.a9_claims(self.curves, self.find_accuracy))
        return pd.DataFrame(analysis.claims(
            self.curves, self.find_accuracy, self.lpr, {s.name: s for s in self.cfg.studies},
            self.cfg.constrained, self.cfg.lpr_levels))

    def report(self) -> str:
        """Plain text for the command line: best coupled and decoupled pair per level, the
        LPR per layer at ``lpr_levels``, and the claims."""
        parts = []
        for s in self.cfg.studies:
            if s.structured:
                continue
            best = analysis.best_coupled_vs_decoupled(self.curves, s.name)
            parts.append(f"== {s.name}: best coupled vs best decoupled (mean, std over seeds)\n"
                         + best.round(4).to_string(index=False))
            parts.append(f"== {s.name}: LPR per layer (%) at levels {self.cfg.lpr_levels}\n"
                         + analysis.lpr_table(self.lpr, s.name, self.cfg.lpr_levels).to_string())
        claims = self.claims()
        parts.append("== claims\n" + claims[["id", "figure", "claim", "verdict", "numbers"]]
                     .to_string(index=False))
        return "\n\n".join(parts)

    def failures(self) -> list[str]:
        """One line per training that diverged or never learned (``engine.divergence``)."""
        acc = self.accuracy
        bad = acc[acc["failed"]].drop_duplicates("run")
        return [f"{r.study} {r.kind} find {_fmt(r.find)} eval {_fmt(r.eval)} seed {r.seed} "
                f"level {r.level}" for r in bad.itertuples()]

    def departures(self) -> list[str]:
        return departures(self.cfg, self.data)

    def describe(self, scale: str) -> str:
        """Markdown: scale, data, device, each study's settings, failed trainings, and the
        one sentence on how this run compares with H21."""
        cfg, tr = self.cfg, self.cfg.train
        length = f"{tr.epochs:g} epochs" if tr.epochs is not None else f"{tr.iterations:,} iterations"
        n_studies = f"{len(cfg.studies)} stud{'y' if len(cfg.studies) == 1 else 'ies'}"
        head = (f"**Scale: {scale}.** {cfg.model} ({sum(self.numel.values()):,} "
                f"prunable weights), {n_studies} x {len(cfg.seeds)} seeds, "
                f"{cfg.levels} pruning levels of {cfg.fraction:g} of the remaining weights "
                f"(global magnitude). **Device:** {self.device}.")
        shared = (f"**Shared training:** {tr.optimizer} momentum {tr.momentum:g}, lr {tr.lr:g}, "
                  f"batch {tr.batch_size}, weight decay {tr.weight_decay:g}, {length}"
                  + (f", lr x{tr.gamma:g} at epochs {tr.milestones}" if tr.milestones else "")
                  + f". **Data:** {self.data.description}; sizes {self.data.sizes}.")
        studies = "**Studies:** " + "; ".join(_describe_study(s) for s in cfg.studies) + "."
        parts = [head, shared, studies]
        note = stand_in_note(cfg)
        if note:
            parts.append(note)
        parts += lottery.failure_note(self.failures())
        parts.append(departures_mod.verdict(self.departures()))
        return "\n\n".join(parts)


def _fmt(v) -> str:
    return "default" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:g}"


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


def departures(cfg: Decoupling, data: lottery.DataInfo) -> list[str]:
    """How this configuration departs from H21's setting as paper_specs.md 5.1 reconstructs
    it; empty at paper scale."""
    out, tr = [], cfg.train
    if cfg.model != PAPER["model"] or not data.name.startswith(PAPER["dataset"]):
        out.append(f"{cfg.model} on {data.name} instead of ResNet-20 on CIFAR-10")
    if cfg.width not in (None, 16):
        out.append(f"width {cfg.width} instead of 16")
    if tr.epochs != PAPER["epochs"]:
        length = f"{tr.epochs:g} epochs" if tr.epochs else f"{tr.iterations:,} iterations"
        out.append(f"{length} per training instead of {PAPER['epochs']:g} epochs")
    for name in ("milestones", "optimizer", "momentum", "batch_size", "weight_decay"):
        if getattr(tr, name) != PAPER[name]:
            out.append(f"{name} {getattr(tr, name)} instead of {PAPER[name]}")
    if cfg.data.augment != PAPER["augment"]:
        out.append("no crop+flip augmentation")
    if cfg.levels < PAPER["min_levels"]:
        out.append(f"{cfg.levels} pruning levels instead of 15-20")
    if len(cfg.seeds) < PAPER["min_seeds"]:
        out.append(f"{len(cfg.seeds)} seeds instead of at least 3")
    return out


def stand_in_note(cfg: Decoupling) -> str:
    """The visible sentence on what a stand-in network can and cannot speak to."""
    if cfg.model in ("resnet20", "resnet18"):
        return ""
    return (f"**A stand-in, not H21's network:** H21's networks are CIFAR ResNets (ResNet-20 "
            f"assumed here; ResNet-50 and ResNet-18 in its appendix), with BatchNorm and 20+ "
            f"layers; this run uses {cfg.model} on {cfg.data.dataset}, "
            f"{len(_layer_names(cfg))} prunable layers and no BatchNorm. It can speak to the "
            "mechanism (does the find rate change the layerwise pruning ratio, and does that "
            "change how well the masks train?) and to orderings at its own grid; it cannot "
            "speak to H21's learning-rate values, to BatchNorm, to per-stage LPR patterns of a "
            "ResNet, or to structured filter pruning of conv layers.")


def _layer_names(cfg: Decoupling) -> list[str]:
    shape = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "tiny_imagenet": (3, 64, 64)}
    net = models.build(cfg.model, shape[cfg.data.dataset], width=cfg.width)
    return list(net.prune_rates)


def run(cfg: Decoupling, progress: bool = True) -> Result:
    """Run (or resume) the experiment; trainings in the store are never repeated.

    Level by level: the find runs, the Fig 7 runs and the random baselines train level n
    (one population per training config), then the eval runs of the masks M^(n).
    """
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    d = cfg.data
    data = data_mod.load(d.dataset, d.root, device, validation=d.validation,
                         normalize=d.normalize, augment=d.augment, crop_padding=d.crop_padding)
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
        lottery.prune_loop(model, data, structured, 0, store, device, progress, name, executor=ex)
    top = max([cfg.levels] + [len(s.filters) for s in cfg.studies])
    for level in range(top + 1):
        if iterative and level <= cfg.levels:
            lottery.prune_loop(model, data, iterative, level, store, device, progress, name,
                               executor=ex)
        evals = plan.eval_runs(level)
        if evals:
            lottery.prune_loop(model, data, evals, 0, store, device, progress,
                               f"{name} eval of level {level}", executor=ex)
    info = lottery.DataInfo(data.name, data.description, data.sizes(), data.input_shape)
    finds = pd.DataFrame([{"study": f.study.name, "find": f.value, "lpr_from": f.lpr_from,
                           "seed": f.seed, "key": f.key} for f in plan.finds])
    numel = {n: p.numel() for n, p in model.named_parameters() if n in model.prune_rates}
    return Result(cfg, pd.DataFrame(plan.lines), finds, info, str(device), store,
                  list(model.prune_rates), numel)


def run_a9(cfg: Decoupling, progress: bool = True) -> Result | None:
    """Fig A9's experiment (ResNet-18 on Tiny ImageNet) where ``cfg`` has one."""
    if cfg.a9 is None:
        return None
    return run(dataclasses.replace(cfg.a9, device=cfg.device, store=cfg.store,
                                   executor=cfg.executor, ray=cfg.ray), progress)


def describe_a9(result: Result | None, scale: str) -> str:
    """Markdown: A9's settings and claims, or that it did not run at this scale."""
    if result is None:
        return (f"**Not run at scale {scale}:** `params/paper/05_decoupling.yaml` has it "
                "(`a9:`), with Tiny ImageNet in the data root (`python -m lt_core data "
                "--tiny-imagenet`).")
    return (result.describe(scale) + "\n\n"
            + analysis.describe_claims(result.claims(), ["Q15"]))


# ----------------------------------------------------------------------------------------------
# The scorecard's and the entry page's view of this chapter

PARAMS = Path(__file__).resolve().parents[2] / "params"
CARD_VERDICTS = {analysis.HOLDS: "reproduced", analysis.FAILS: "not reproduced"}


def _results(scale: str, store: str | None, progress: bool, folder: Path | None = None
             ) -> list[Result]:
    """The notebook's experiments at ``scale`` (and A9's where the params have it); none if
    the params folder has no such notebook."""
    path = (folder or PARAMS / scale) / "05_decoupling.yaml"
    if not path.exists():
        return []
    values = config_mod.read_yaml(path)
    cfg = load({**values, **({"store": store} if store is not None else {})})
    results = [run(cfg, progress)]
    a9 = run_a9(cfg, progress)
    return results + ([a9] if a9 is not None else [])


def scorecard_rows(scale: str, store: str | None = None, progress: bool = False,
                   folder: Path | None = None) -> list[dict]:
    """H21's orderings as scorecard rows (``scorecard.COLUMNS``) with the verdicts computed
    from the notebook's runs. H21 states no numbers; orderings its captions contradict are
    marked so, not judged."""
    rows = []
    for result in _results(scale, store, progress, folder):
        checked_at = "paper settings" if not result.departures() else f"{scale} scale"
        for c in result.claims().itertuples():
            rows.append({"claim": f"{c.id}: {c.claim}", "network": result.cfg.model,
                         "source": f"H21 {c.figure}", "paper": "holds (no numbers stated)",
                         "this build": c.numbers,
                         "statistic": "test accuracy, mean over seeds, then over the pruned "
                                      "levels where no training failed",
                         "checked at": checked_at,
                         "verdict": CARD_VERDICTS.get(c.verdict, c.verdict)})
    return rows


def build_info(scale: str, store: str | None = None, folder: Path | None = None) -> dict:
    """The entry page's row for this chapter (``scorecard.build_info``'s columns)."""
    result = _results(scale, store, False, folder)[0]
    env = result.store.load_round(result.finds["key"].iloc[0], 0)["env"]
    return {"notebook": "05_decoupling", "scale": scale,
            "paper settings": "yes" if not result.departures() else "no",
            "networks": result.cfg.model, "data": result.data.name,
            "seeds": len(result.cfg.seeds),
            "device": banner.device_label(env["device"], env["device_name"]),
            "torch": env["torch"], "lt_core": env["lt_core"]}
