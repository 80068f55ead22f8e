"""Iterative pruning (Z19 §2-4): train -> score -> mask -> act on kept and pruned -> repeat.

Every (network, arm, seed) is one run in the store; an arm is a mask criterion with its
mask-1 and mask-0 actions. All runs of one network advance round by round in lockstep, each
round's unfinished runs trained as one population. Members that would train identically
(same seed, mask, start and frozen values: all of round 0) are trained once and shared.

Round mechanics (paper_specs.md 0.4), per run, from round n to n+1:
``w_s`` = the round's effective starting weights, ``w_e`` = its end-of-training weights,
next mask = criterion(w_s, w_e), frozen values = mask-0 action, and the next start of the
kept weights = mask-1 action applied to this round's start (the original init under rewind).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from functools import cached_property

import pandas as pd
import torch

from . import actions, engine, masks, models, seeds
from . import data as data_mod
from . import departures as departures_mod
from .config import Arm, Experiment
from .store import RunStore, environment, pack_mask, unpack_mask


@dataclass(frozen=True)
class DataInfo:
    name: str  # identity of the data loaded (part of every run key)
    description: str
    sizes: dict[str, int]
    input_shape: tuple[int, ...]


@dataclass
class Result:
    """What a notebook needs: the tables, and which scale, data and device produced them."""

    experiment: Experiment
    runs: pd.DataFrame  # one row per run: key, model, label, criterion, actions, seed
    data: dict[str, DataInfo]  # per network
    device: str
    store: RunStore

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per run and round (see RunStore.summary), labelled by network and arm."""
        return self._label(self.store.summary(list(self.runs["key"])))

    @cached_property
    def metrics(self) -> pd.DataFrame:
        return self._label(self.store.metrics(list(self.runs["key"])))

    def _label(self, frame: pd.DataFrame) -> pd.DataFrame:
        info = self.runs.set_index("key")[["model", "label"]]
        frame = frame.drop(columns="member").join(info, on="run").rename(columns={"label": "member"})
        return frame

    @property
    def data_names(self) -> str:
        return ", ".join(sorted({d.name for d in self.data.values()}))

    def record(self, key: str, rnd: int) -> dict:
        return self.store.load_round(key, rnd)

    def describe(self, scale: str) -> str:
        """Markdown: the scale, data and device this result came from, and how it departs
        from the paper's settings (``departures.iterative``)."""
        exp = self.experiment
        head = (f"**Scale: {scale}.** {len(exp.pruning.arms)} arms x {len(exp.seeds)} seeds, "
                f"{exp.pruning.rounds} pruning rounds. **Device:** {self.device}.")
        return "\n\n".join([head, *self.describe_networks(),
                             departures_mod.verdict(self.departures())])

    def departures(self) -> list[departures_mod.Departure]:
        """How this result departs from the paper's settings; empty at paper scale."""
        return departures_mod.iterative(self.experiment, self.data_name_by_model)

    @property
    def data_name_by_model(self) -> dict[str, str]:
        return {model: d.name for model, d in self.data.items()}

    def describe_networks(self) -> list[str]:
        """Per network one line of training settings and data."""
        lines = []
        for model in self.experiment.models:
            tr = self.experiment.train_for(model)
            d = self.data[model]
            lines.append(f"**{model}:** {tr.iterations:,} iterations per training (batch "
                         f"{tr.batch_size}, {tr.optimizer} lr {tr.lr:g}), evaluated every "
                         f"{tr.eval_every}. **Data:** {d.description}; sizes {d.sizes}.")
        return lines

    def final_round_accuracy(self) -> pd.DataFrame:
        """Mean, min and max test accuracy at early stopping in the sparsest round reached."""
        s = self.summary[~self.summary["failed"]]
        last = s[s["round"] == s.groupby("model")["round"].transform("max")]
        return last.groupby(["model", "member"]).agg(
            percent_remaining=("percent_remaining", "mean"),
            mean=("test_acc_at_early_stop", "mean"), min=("test_acc_at_early_stop", "min"),
            max=("test_acc_at_early_stop", "max"), seeds=("seed", "count"),
        ).sort_values(["model", "mean"], ascending=[True, False])


def run_config(exp: Experiment, model: str, data_name: str, arm: Arm, seed: int) -> dict:
    """The canonical config of one run: everything that changes its result, nothing else."""
    return {
        "kind": "iterative_pruning",
        "model": model,
        "data": data_name,
        "train": dataclasses.asdict(exp.train_for(model)),
        "criterion": arm.criterion,
        "mask1_action": arm.mask1_action,
        "mask0_action": arm.mask0_action,
        "seed": seed,
    }


def run_iterative(exp: Experiment, progress: bool = True) -> Result:
    """Run (or resume) the experiment; finished rounds in the store are never recomputed."""
    device = engine.resolve_device(exp.device)
    store = RunStore(exp.store)
    rows, data_info = [], {}
    for model_name in exp.models:
        data = data_mod.load(exp.dataset_for(model_name), exp.data.root, device)
        data_info[model_name] = DataInfo(data.name, data.description, data.sizes(),
                                         data.input_shape)
        keys = _run_model(exp, model_name, data, store, device, progress)
        rows += [{"key": key, "model": model_name, "label": arm.label, **dataclasses.asdict(arm),
                  "seed": seed} for key, (arm, seed) in keys]
    return Result(exp, pd.DataFrame(rows), data_info, str(device), store)


def _run_model(exp: Experiment, model_name: str, data: data_mod.Dataset, store: RunStore,
               device: torch.device, progress: bool) -> list[tuple[str, tuple[Arm, int]]]:
    model = models.build(model_name, data.input_shape, data.num_classes)
    cfg = exp.train_for(model_name)
    runs = [(arm, s) for arm in exp.pruning.arms for s in exp.seeds]
    keys = [store.prepare(run_config(exp, model_name, data.name, arm, s)) for arm, s in runs]
    inits = {s: models.initial_state(model, s) for s in exp.seeds}

    for rnd in range(exp.pruning.rounds + 1):
        todo = [i for i, key in enumerate(keys)
                if not store.has_round(key, rnd) and _alive(store, key, rnd)]
        if not todo:
            continue
        # Each run's state for this round was computed at the end of the previous one.
        states = {i: _state_for(store, keys[i], rnd, model, inits[runs[i][1]]) for i in todo}
        slot = {i: (runs[i][1], _fingerprint(states[i])) for i in todo}
        unique: dict[tuple, int] = {}
        for i in todo:
            unique.setdefault(slot[i], i)
        members = [engine.Member(seed=runs[i][1], init=states[i]["start"],
                                 mask=states[i]["mask"], frozen=states[i]["frozen"])
                   for i in unique.values()]
        started = time.time()
        results = engine.train(
            model, members, data, cfg, device, progress,
            desc=f"{model_name} round {rnd}/{exp.pruning.rounds} ({len(members)} nets)")
        wall = time.time() - started
        by_slot = dict(zip(unique, results))
        for i in todo:
            arm, seed = runs[i]
            res = by_slot[slot[i]]
            record = _next_round(arm, seed, rnd, states[i], res, model.prune_rates)
            record.update(wall_s=wall / len(members), env=environment(device))
            store.save_round(keys[i], rnd, record)
    return list(zip(keys, runs))


def _alive(store: RunStore, key: str, rnd: int) -> bool:
    """A run continues while its previous round exists and did not diverge."""
    if rnd == 0:
        return True
    return store.has_round(key, rnd - 1) and store.load_round(key, rnd - 1)["failed_at"] is None


def _state_for(store: RunStore, key: str, rnd: int, model: torch.nn.Module, init: dict) -> dict:
    """The round's start (all parameters), mask and frozen values of one run."""
    if rnd == 0:
        params = dict(model.named_parameters())
        ones = {n: torch.ones(params[n].shape) for n in model.prune_rates}
        return {"start": init, "mask": ones, "frozen": None}
    prev = store.load_round(key, rnd - 1)
    # Biases are never pruned and restart from their init (0) under every action.
    start = {**init, **prev.get("next_start", {})}
    return {"start": start, "mask": {n: unpack_mask(p) for n, p in prev["next_mask"].items()},
            "frozen": prev.get("next_frozen")}


def _fingerprint(state: dict) -> str:
    h = hashlib.sha1()
    for part in ("mask", "start", "frozen"):
        for name, t in sorted((state[part] or {}).items()):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _next_round(arm: Arm, seed: int, rnd: int, state: dict, res: engine.MemberResult,
                rates: dict) -> dict:
    """The round's record, including everything the next round starts from."""
    gen = seeds.generator(seed, "tie-break", arm.criterion, rnd)
    mask = state["mask"]
    frozen = state["frozen"] or {}
    # Effective starting weights: pruned entries held their frozen values from step 0.
    w_s = {n: torch.where(mask[n].bool(), state["start"][n], frozen.get(n, 0.0)) for n in rates}
    w_e = {n: res.final[n] for n in rates}
    next_mask = masks.next_masks(arm.criterion, w_s, w_e, mask, rates, gen)
    next_frozen, next_start = {}, {}
    for n in rates:
        next_frozen[n], zero_kept = actions.mask0_action(
            arm.mask0_action, w_s[n], w_e[n], next_mask[n], gen)
        moved = actions.mask1_action(arm.mask1_action, state["start"][n], next_mask[n], gen)
        next_start[n] = torch.where(zero_kept, torch.zeros_like(moved), moved)
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
    }
    # Stored only when they differ from the defaults (rewind to init, freeze at zero).
    if arm.mask1_action != "rewind" or arm.mask0_action == "init_or_zero_all":
        record["next_start"] = next_start
    if arm.mask0_action != "zero":
        record["next_frozen"] = next_frozen
    if rnd == 0:  # the dense run's end-of-training weights: heuristic supermasks need them
        record["final"] = {n: t.clone() for n, t in res.final.items()}
    record["sample"] = weight_sample(w_s, w_e, next_mask)
    return record


SAMPLE_SIZE = 2000


def weight_sample(w_i: dict, w_f: dict, new_mask: dict) -> dict:
    """A fixed random subset of each layer's (w_i, w_f, kept) for the mask explorer's scatter:
    the same positions in every round and run, small enough to store with every round."""
    out = {}
    for name, w in w_i.items():
        n = w.numel()
        idx = torch.randperm(n, generator=seeds.generator(0, "explorer", name))[:SAMPLE_SIZE]
        out[name] = {"w_i": w.flatten()[idx].clone(), "w_f": w_f[name].flatten()[idx].clone(),
                     "kept": new_mask[name].flatten()[idx].bool()}
    return out


def dense_runs(result: Result, model: str) -> dict[int, tuple[dict, dict]]:
    """Per seed: (initial weights, end-of-training weights) of the dense round 0."""
    runs = result.runs[result.runs["model"] == model].drop_duplicates("seed")
    out = {}
    for _, row in runs.iterrows():
        net = models.build(model, result.data[model].input_shape)
        out[int(row["seed"])] = (models.initial_state(net, int(row["seed"])),
                                 result.record(row["key"], 0)["final"])
    return out

