"""Iterative pruning with rewinding (Z19 §2): train -> score -> mask -> rewind -> repeat.

Every (criterion, seed) is one run in the store. All runs of an experiment advance round by
round in lockstep, each round's unfinished runs trained as one population. Round 0 (dense)
does not depend on the criterion, so it is trained once per seed and shared.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import data as data_mod
from . import engine, masks, models, seeds
from .config import Experiment
from .store import RunStore, environment, pack_mask, unpack_mask


@dataclass
class Result:
    """What a notebook needs: the tables, and which scale, data and device produced them."""

    experiment: Experiment
    keys: list[str]
    data_name: str
    data_description: str
    data_sizes: dict[str, int]
    device: str
    store: RunStore

    @property
    def summary(self) -> pd.DataFrame:
        return self.store.summary(self.keys)

    @property
    def metrics(self) -> pd.DataFrame:
        return self.store.metrics(self.keys)

    def describe(self, scale: str) -> str:
        """Markdown: the scale, data and device this result came from, and how it departs
        from the paper's settings (paper_specs.md 0.3/0.4)."""
        exp, tr = self.experiment, self.experiment.train
        paper_its = PAPER_ITERATIONS[exp.model]
        lines = [
            f"**Scale: {scale}.** {len(exp.pruning.criteria)} criteria x {len(exp.seeds)} seeds, "
            f"{exp.pruning.rounds} pruning rounds, {tr.iterations:,} iterations per round "
            f"(batch {tr.batch_size}, {tr.optimizer} lr {tr.lr:g}), evaluated every "
            f"{tr.eval_every} iterations.",
            f"**Data:** {self.data_description}; sizes {self.data_sizes}.",
            f"**Device:** {self.device}.",
        ]
        departures = []
        if tr.iterations != paper_its:
            departures.append(f"{tr.iterations:,} iterations per round instead of {paper_its:,}")
        if exp.pruning.rounds != 24:
            departures.append(f"{exp.pruning.rounds} pruning rounds instead of 24")
        if len(exp.seeds) != 5:
            departures.append(f"{len(exp.seeds)} seeds instead of 5")
        if self.data_name not in ("mnist", "cifar10"):
            departures.append("a different dataset than the paper's (see Data)")
        if departures:
            lines.append("**This is not a paper-scale result:** it runs with "
                         + ", ".join(departures) + ".")
        else:
            lines.append("**Paper scale:** the paper's iterations, rounds, seeds and data.")
        return "\n\n".join(lines)

    def final_round_accuracy(self) -> pd.DataFrame:
        """Mean, min and max test accuracy at early stopping in the sparsest round reached."""
        s = self.summary[~self.summary["failed"]]
        last = s[s["round"] == s["round"].max()]
        return last.groupby("member").agg(
            percent_remaining=("percent_remaining", "mean"),
            mean=("test_acc_at_early_stop", "mean"), min=("test_acc_at_early_stop", "min"),
            max=("test_acc_at_early_stop", "max"), seeds=("seed", "count"),
        ).sort_values("mean", ascending=False)


PAPER_ITERATIONS = {"fc": 50_380, "conv2": 20_250, "conv4": 25_500, "conv6": 30_000}


def run_config(exp: Experiment, data_name: str, criterion: str, seed: int) -> dict:
    """The canonical config of one run: everything that changes its result, nothing else."""
    return {
        "kind": "iterative_pruning",
        "label": criterion,
        "model": exp.model,
        "data": data_name,
        "train": dataclasses.asdict(exp.train),
        "criterion": criterion,
        "mask1_action": exp.pruning.mask1_action,
        "mask0_action": exp.pruning.mask0_action,
        "seed": seed,
    }


def run_iterative(exp: Experiment, progress: bool = True) -> Result:
    """Run (or resume) the experiment; finished rounds in the store are never recomputed."""
    device = engine.resolve_device(exp.device)
    data = data_mod.load(exp.data.dataset, exp.data.root, device)
    model = models.build(exp.model, data.input_shape, data.num_classes)
    store = RunStore(exp.store)
    runs = [(c, s) for c in exp.pruning.criteria for s in exp.seeds]
    keys = [store.prepare(run_config(exp, data.name, c, s)) for c, s in runs]
    inits = {s: models.initial_state(model, s) for s in exp.seeds}

    for rnd in range(exp.pruning.rounds + 1):
        todo = [i for i, key in enumerate(keys)
                if not store.has_round(key, rnd) and _alive(store, key, rnd)]
        if not todo:
            continue
        # Each run's mask for this round was computed at the end of the previous one.
        round_masks = {i: _mask_for(store, keys[i], rnd, model) for i in todo}
        # Members with the same seed and mask (all of round 0) train identically: train once.
        unique: dict[tuple, int] = {}
        for i in todo:
            unique.setdefault((runs[i][1], _mask_id(round_masks[i])), i)
        members = [
            engine.Member(seed=runs[i][1], init=inits[runs[i][1]], mask=round_masks[i])
            for i in unique.values()
        ]
        started = time.time()
        results = engine.train(model, members, data, exp.train, device, progress,
                               desc=f"round {rnd}/{exp.pruning.rounds} ({len(members)} nets)")
        wall = time.time() - started
        by_slot = dict(zip(unique, results))
        for i in todo:
            criterion, seed = runs[i]
            res = by_slot[(seed, _mask_id(round_masks[i]))]
            _save(store, keys[i], rnd, criterion, seed, res, inits[seed], round_masks[i],
                  model.prune_rates, wall / len(members), device)
    return Result(exp, keys, data.name, data.description, data.sizes(), str(device), store)


def _alive(store: RunStore, key: str, rnd: int) -> bool:
    """A run continues while its previous round exists and did not diverge."""
    if rnd == 0:
        return True
    return store.has_round(key, rnd - 1) and store.load_round(key, rnd - 1)["failed_at"] is None


def _mask_for(store: RunStore, key: str, rnd: int, model: torch.nn.Module
              ) -> dict[str, torch.Tensor]:
    if rnd == 0:
        params = dict(model.named_parameters())
        return {n: torch.ones(params[n].shape) for n in model.prune_rates}
    packed = store.load_round(key, rnd - 1)["next_mask"]
    return {n: unpack_mask(p) for n, p in packed.items()}


def _mask_id(mask: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha1()
    for m in mask.values():
        h.update(np.packbits(m.cpu().bool().numpy()).tobytes())
    return h.hexdigest()


def _save(store: RunStore, key: str, rnd: int, criterion: str, seed: int,
          res: engine.MemberResult, init: dict, mask: dict, rates: dict, wall_s: float,
          device: torch.device) -> None:
    # Mask-1 action "rewind": next round starts from the original init again, so w_i = init;
    # mask-0 action "zero": pruned weights frozen at 0 (the engine's default frozen value).
    gen = seeds.generator(seed, "tie-break", criterion, rnd)
    next_mask = masks.next_masks(criterion, init, res.final, mask, rates, gen)
    record = {
        "round": rnd,
        "seed": seed,
        "percent_remaining": 100.0 * masks.density(mask),
        "iterations": res.iterations,
        "metrics": res.metrics,
        "early_stop_iteration": res.early_stop_iteration,
        "test_acc_at_early_stop": res.test_acc_at_early_stop,
        "failed_at": res.failed_at,
        "next_mask": {n: pack_mask(m) for n, m in next_mask.items()},
        "wall_s": wall_s,
        "env": environment(device),
    }
    if rnd == 0:  # the dense run's end-of-training weights: heuristic supermasks need them
        record["final"] = {n: t.clone() for n, t in res.final.items()}
    store.save_round(key, rnd, record)
