"""THE pruning loop (``prune_loop``), which every experiment uses: train -> rule -> mask ->
actions -> rewind -> repeat.

A run is one line of an experiment (a network, an arm: the pruning rule with its mask-1 and
mask-0 actions, a seed, its training) and one entry in the store; a level is one training of
it. Experiments differ only in their runs: Z19's per-layer criteria, H21's global magnitude
pruning with its random and LPR baselines and its grids of learning rates and weight decays,
L23's importance measures pooled globally with rewinding to iteration k, and one-level runs
that train a given mask (H21's eval runs).

Level mechanics (paper_specs.md 0.4), per run, from level n to n+1:
``w_s`` = the level's effective starting weights, ``w_e`` = its end-of-training weights,
next mask = criterion(w_s, w_e), frozen values = mask-0 action, and the next start of the
kept weights = mask-1 action applied to this level's start (the original init under rewind,
or the state at iteration k when rewinding there: all parameters and buffers).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass

import pandas as pd
import torch

from . import actions, criteria, engine, masks, models, schedule, seeds
from . import data as data_mod
from .config import Arm, Train, key_dict, run_config
from .executor import LocalExecutor, Population, RayExecutor
from .provenance import environment
from .record import Level, pack_mask
from .store import RunStore


@dataclass(frozen=True)
class DataInfo:
    name: str  # identity of the data loaded (part of every run key)
    description: str
    sizes: dict[str, int]
    input_shape: tuple[int, ...]


@dataclass
class Run:
    """One run of the pruning loop: what it trains, how it prunes, where each level starts."""

    config: dict  # canonical: its hash is the run's key
    seed: int  # initialisation, data order, augmentation, tie-breaks
    arm: Arm  # the pruning rule and the mask-1 and mask-0 actions
    train: Train  # resolved; runs with equal training configs share a population
    lr: float | None = None  # per-run overrides within a population (H21's grids)
    weight_decay: float | None = None
    rewind_iteration: int = 0  # every level trains from this global step, from the state there
    start_mask: dict[str, torch.Tensor] | None = None  # level 0's mask (default: all ones)
    reference: str | None = None  # selection "reference": the run key whose masks give counts
    keep_final: bool = False  # store every level's end-of-training state, not only level 0's
    # state_0 instead of the seed's initial state (L23's partial re-initialisation); its
    # content hash enters the run's config (its key) and its rewind point's key.
    init: dict[str, torch.Tensor] | None = None
    # The state at the rewind iteration itself (all parameters and buffers), instead of
    # training there from the initial state: an H21 eval run starts where its find run
    # rewinds (late rewinding) or stopped (LR rewinding); its find run is in its config.
    start: dict[str, torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if self.init is not None:
            self.config = {**self.config, "init": state_hash(self.init)}


def prune_loop(model: torch.nn.Module, data: data_mod.Dataset, runs: list[Run], levels: int,
               store: RunStore, device: torch.device, progress: bool = True, name: str = "",
               prunable: dict[str, float] | None = None,
               executor: LocalExecutor | RayExecutor | None = None,
               after_level: Callable[[int], None] | None = None) -> list[str]:
    """Train, prune, act, repeat: levels 0..``levels`` of every run; returns the run keys.

    All runs advance level by level in lockstep. At each level the unfinished runs train as
    populations, one per training config and rewind point (members may differ in learning
    rate and weight decay); members that would train identically (same seed, mask, start,
    frozen values and hyperparameters: all of level 0 of a shared init) train once. Then each
    run applies its rule (runs that follow a reference run after it) and its actions, and
    its level is saved. A finished level is never recomputed; a run whose training diverged
    stops. ``prunable`` (default: the model's) maps prunable tensors to their layerwise rates.
    ``executor`` is where populations train (``lt_core.executor``; default: here, in turn).
    ``after_level(level)`` runs once every run has finished ``level`` (H21 trains the masks
    of that level under other hyperparameters there).
    """
    rates = prunable if prunable is not None else model.prune_rates
    n_train = len(data.splits["train"][1])
    for run in runs:  # impossible schedules fail here, before anything is written
        plan = schedule.plan(run.train, n_train, data.name)
        schedule.check_rewind(run.rewind_iteration, plan)
    keys = [store.prepare(run.config) for run in runs]
    # One process at a time computes a run; a second one waits here, then finds its levels done.
    unfinished = [k for k in keys if (n := len(store.levels(k))) <= levels and _alive(store, k, n)]
    ex = executor or LocalExecutor()
    with store.claim(unfinished):
        todo = {i for i, k in enumerate(keys) if k in unfinished}  # finished runs need no start
        starts, diverged = _rewind_points(model, data, runs, todo, store, device, progress,
                                          name, ex)
        for i, point in diverged.items():  # a rewind point that diverged is no start
            run = runs[i]
            if not store.has_level(keys[i], 0):
                store.save_level(keys[i], 0, {
                    "level": 0, "seed": run.seed, "percent_remaining": 100.0,
                    "iterations": point.iterations, "metrics": point.metrics,
                    "early_stop_iteration": None, "test_acc_at_early_stop": float("nan"),
                    "test_acc_at_end": float("nan"), "failed_at": point.failed_at,
                    "stopped": f"diverged before its rewind point (iteration "
                               f"{run.rewind_iteration})", "env": environment(device)})
        for level in range(levels + 1):
            _train_level(model, data, runs, keys, level, levels, starts, store, device, progress,
                         name, rates, ex)
            if after_level is not None:
                after_level(level)
    return keys


def _train_level(model: torch.nn.Module, data: data_mod.Dataset, runs: list[Run],
                 keys: list[str], level: int, levels: int, starts: list[dict], store: RunStore,
                 device: torch.device, progress: bool, name: str, rates: dict, ex) -> None:
    """One level of every unfinished run: train the populations, then prune and save."""
    todo = [i for i, key in enumerate(keys)
            if not store.has_level(key, level) and _alive(store, key, level)]
    if not todo:
        return
    # Each run's state for this level was computed at the end of the previous one.
    states = {i: _state_for(store, keys[i], level, starts[i], runs[i].start_mask, rates)
              for i in todo}
    groups, populations = [], []
    for group in _populations(runs, todo).values():
        slot = {i: (runs[i].seed, runs[i].lr, runs[i].weight_decay, _fingerprint(states[i]))
                for i in group}
        unique: dict[tuple, int] = {}
        for i in group:
            unique.setdefault(slot[i], i)
        members = [engine.Member(seed=runs[i].seed, init=states[i]["start"],
                                 mask=states[i]["mask"], frozen=states[i]["frozen"],
                                 lr=runs[i].lr, weight_decay=runs[i].weight_decay)
                   for i in unique.values()]
        groups.append((group, slot, unique))
        populations.append(Population(model, members, data, runs[group[0]].train, device, {
            "progress": progress, "desc": f"{name} level {level}/{levels} ({len(members)} nets)",
            "start": runs[group[0]].rewind_iteration}))
    started = time.time()
    results = ex.map(populations)  # independent populations: at once where the executor can
    wall = (time.time() - started) / sum(len(p.members) for p in populations)
    trained = {}
    for (group, slot, unique), res in zip(groups, results):
        by_slot = dict(zip(unique, res))
        trained.update({i: by_slot[slot[i]] for i in group})
    for i in sorted(todo, key=lambda i: runs[i].reference is not None):
        counts, stopped = _reference_counts(store, runs[i].reference, level)
        run, res = runs[i], trained[i]
        grads = batch_gradients(model, res.final, data, run.train.batch_size, rates,
                                seeds.generator(run.seed, "gradient batch", level), device) \
            if criteria.get(run.arm.criterion).gradients and not res.failed else None
        record = _next_level(run, level, states[i], res, rates, counts,
                             getattr(model, "output_layer", None), stopped, grads)
        record.update(wall_s=wall, env=environment(device))
        store.save_level(keys[i], level, record)


def _population_key(run: Run) -> tuple[str, int]:
    """Runs with equal keys can train as one population: the same training config and rewind
    point."""
    return json.dumps(key_dict(run.train), sort_keys=True), run.rewind_iteration


def _populations(runs: list[Run], todo: list[int]) -> dict[tuple, list[int]]:
    """The runs ``todo`` grouped into populations (``_population_key``)."""
    groups: dict[tuple, list[int]] = {}
    for i in todo:
        groups.setdefault(_population_key(runs[i]), []).append(i)
    return groups


def _rewind_points(model: torch.nn.Module, data: data_mod.Dataset, runs: list[Run],
                   todo: set[int], store: RunStore, device: torch.device, progress: bool,
                   name: str, ex) -> tuple[list[dict | None], dict[int, Level]]:
    """Each run's state_0 (of the runs ``todo``; None for the others): its initial state, or
    the state of all parameters and buffers at global step k (rewinding to iteration k),
    trained once per (training, seed, k) and stored, so every run that rewinds there shares
    it; and the level of each run's rewind point whose training diverged (by run index)."""
    starts: list[dict | None] = [None] * len(runs)
    by_seed: dict[int, dict] = {}  # one initial state per seed, made only where needed

    def init_of(run: Run) -> dict:
        if run.init is not None:
            return run.init
        if run.seed not in by_seed:
            by_seed[run.seed] = models.initial_state(model, run.seed)
        return by_seed[run.seed]

    pending: dict[tuple, list[tuple[int, str]]] = {}
    for i, run in enumerate(runs):
        if run.start is not None:
            starts[i] = run.start if i in todo else None
            continue
        if run.rewind_iteration == 0:
            starts[i] = init_of(run) if i in todo else None
            continue
        key = store.prepare(rewind_point_config(run, data.name))  # a part of every run's result
        if i not in todo:
            continue
        if not store.has_level(key, 0):
            pending.setdefault(_population_key(run), []).append((i, key))
        starts[i] = key
    populations, points = [], []
    for group in pending.values():
        group = list(dict((key, i) for i, key in group).items())  # each point once
        first = runs[group[0][1]]
        members = [engine.Member(seed=runs[i].seed, init=init_of(runs[i]), lr=runs[i].lr,
                                 weight_decay=runs[i].weight_decay) for _, i in group]
        populations.append(Population(model, members, data, first.train, device, {
            "progress": progress, "stop": first.rewind_iteration,
            "desc": f"{name} to iteration {first.rewind_iteration} ({len(members)} nets)"}))
        points.append([key for key, _ in group])
    for keys, results in zip(points, ex.map(populations)):
        for key, res in zip(keys, results):
            store.save_level(key, 0, {"level": 0, "state": res.final, "metrics": res.metrics,
                                      "iterations": res.iterations, "failed_at": res.failed_at,
                                      "percent_remaining": 100.0})
    points = {i: store.level(s, 0) for i, s in enumerate(starts) if isinstance(s, str)}
    diverged = {i: p for i, p in points.items() if p.failed}
    return [store.tensors(s, 0)["state"] if i in points and i not in diverged else s
            for i, s in enumerate(starts)], diverged


def rewind_point_config(run: Run, data_name: str) -> dict:
    """The canonical config (the store key) of the state at iteration k a run rewinds to:
    shared by every run with the same training, seed, k and initial state."""
    given = {"init": run.config["init"]} if run.init is not None else {}
    return run_config("rewind_point", run.config["model"], data_name, run.train, run.seed,
                      lr=run.lr, weight_decay=run.weight_decay,
                      iteration=run.rewind_iteration, **given)


def _reference_counts(store: RunStore, reference: str | None, level: int
                      ) -> tuple[dict[str, int] | None, str | None]:
    """Per layer, how many weights the reference run keeps after ``level``; or, where the
    reference has no such mask (it diverged at that level), why not: the follower trained
    this level (its mask came from the level before) but cannot prune after it."""
    if reference is None:
        return None, None
    if not store.has_level(reference, level):
        raise RuntimeError(f"reference run {reference} has no level {level} in {store.root}; "
                           "run the reference experiment first")
    rec = store.level(reference, level)
    if not rec.continues:
        why = "diverged" if rec.failed else "stopped"
        return None, f"the run it takes its counts from {why} at level {level}"
    return {n: int(m.sum()) for n, m in store.masks(reference, level).items()}, None


def _alive(store: RunStore, key: str, level: int) -> bool:
    """A run continues while its previous level exists, did not diverge and could choose
    the next mask."""
    if level == 0:
        return True
    return store.has_level(key, level - 1) and store.level(key, level - 1).continues


def stop_reason(store: RunStore, key: str) -> tuple[int, str] | None:
    """(level, why) where a run stopped before its last level: it diverged there (or before
    its rewind point), or its reference run had no mask to give it; None if it never
    stopped."""
    for level in store.levels(key):
        rec = store.level(key, level)
        if rec.failed:
            return level, rec.stopped or f"diverged at level {level} (iteration {rec.failed_at})"
        if not rec.has_next_mask:
            return level, f"stopped after level {level}: {rec.stopped or 'no next mask'}"
    return None


def _state_for(store: RunStore, key: str, level: int, state_0: dict,
               start_mask: dict | None, rates: dict) -> dict:
    """The level's start (all parameters and buffers), mask and frozen values of one run."""
    if level == 0:
        ones = {n: torch.ones(state_0[n].shape) for n in rates}
        return {"start": state_0, "mask": start_mask or ones, "frozen": None}
    # Its tensors only where they hold a start or frozen values (a shipped pack keeps none).
    needed = {"next_start", "next_frozen"} & set(store.level(key, level - 1).tensors)
    prev = store.tensors(key, level - 1) if needed else {}
    # Everything but the kept prunable weights restarts from state_0 (biases: their init; with
    # rewinding to iteration k, every parameter and buffer at k).
    start = {**state_0, **prev.get("next_start", {})}
    return {"start": start, "mask": store.masks(key, level - 1), "frozen": prev.get("next_frozen")}


def _fingerprint(state: dict) -> str:
    h = hashlib.sha1()
    for part in ("mask", "start", "frozen"):
        _hash_tensors(h, state[part] or {})
    return h.hexdigest()


def state_hash(tensors: dict[str, torch.Tensor]) -> str:
    """The identity of a given state: sha1 of its tensors' names and bytes."""
    h = hashlib.sha1()
    _hash_tensors(h, tensors)
    return h.hexdigest()


def _hash_tensors(h: hashlib._Hash, tensors: dict[str, torch.Tensor]) -> None:
    for name, t in sorted(tensors.items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())


def _next_level(run: Run, level: int, state: dict, res: engine.MemberResult, rates: dict,
                counts: dict[str, int] | None, output_layer: str | None = None,
                stopped: str | None = None, grads: dict[str, torch.Tensor] | None = None
                ) -> dict:
    """The level's record, including everything the next level starts from; without a next
    mask where the training diverged or ``stopped`` says why there is no next level. Long: the
    level mechanics (score, select, mask-0 and mask-1 actions) in the order paper_specs.md 0.4
    states them. ``grads``: for a criterion that needs them (``batch_gradients``)."""
    if stopped is not None or res.failed:  # a diverged training chooses no mask
        return {"level": level, "seed": run.seed, **_outcome(res),
                "collapsed": masks.collapsed({n: state["mask"][n] for n in rates}),
                **({"stopped": stopped} if stopped is not None and not res.failed else {}),
                "percent_remaining": 100.0 * masks.density(
                    {n: state["mask"][n] for n in rates})}
    arm, seed = run.arm, run.seed
    # Random draws of different selections are independent streams (H21's global-random and
    # preserve-LPR baselines must not share one); the others keep their original stream.
    purpose = (arm.selection,) if criteria.get(arm.criterion).all_tie and \
        arm.selection.startswith("reference") else ()
    gen = seeds.generator(seed, "tie-break", arm.criterion, *purpose, level)
    # Masks of tensors that are not prunable (H21 Fig 5: the BatchNorm of removed filters)
    # are carried over as they are; the rule sees the prunable tensors only.
    mask = {n: state["mask"][n] for n in rates}
    held = {n: m for n, m in state["mask"].items() if n not in rates}
    ignore = [output_layer] if arm.ignore_output_layer and output_layer else []
    frozen = state["frozen"] or {}
    # Effective starting weights: pruned entries held their frozen values from step 0.
    w_s = {n: torch.where(mask[n].bool(), state["start"][n], frozen.get(n, 0.0)) for n in rates}
    w_e = {n: res.final[n] for n in rates}
    if arm.selection == "layerwise":
        layer_rates = {n: 0.0 if n in ignore else q for n, q in rates.items()}
        next_mask = masks.next_masks(arm.criterion, w_s, w_e, mask, layer_rates, gen,
                                     grads=grads)
    elif arm.selection == "global":
        next_mask = masks.global_masks(arm.criterion, w_s, w_e, mask, arm.fraction, arm.count,
                                       gen, ignore, grads=grads)
    elif arm.selection == "reference_total":
        next_mask = masks.global_masks(arm.criterion, w_s, w_e, mask, arm.fraction, "exact",
                                       gen, ignore, keep=sum(counts.values()), grads=grads)
    else:
        next_mask = masks.reference_masks(arm.criterion, w_s, w_e, mask, counts, gen, grads)
    next_frozen, next_start = {}, {}
    for n in rates:
        next_frozen[n], zero_kept = actions.mask0_action(
            arm.mask0_action, w_s[n], w_e[n], next_mask[n], gen)
        moved = actions.mask1_action(arm.mask1_action, state["start"][n], next_mask[n], gen,
                                     w_e[n])
        next_start[n] = torch.where(zero_kept, torch.zeros_like(moved), moved)
    if arm.mask1_action == "continue":  # LR rewinding: biases and BatchNorm go on as well
        next_start = {**res.final, **next_start}
    record = {
        "level": level,
        "seed": seed,
        "percent_remaining": 100.0 * masks.density(mask),
        # Layers the mask this level trained left with no weight: information no longer
        # flows from input to output (layer collapse), whatever the accuracy says.
        "collapsed": masks.collapsed(mask),
        **_outcome(res),
        "next_mask": {n: pack_mask(m) for n, m in {**held, **next_mask}.items()},
    }
    # Stored only when they differ from the defaults (rewind to init, freeze at zero).
    if arm.mask1_action != "rewind" or arm.mask0_action == "init_or_zero_all":
        record["next_start"] = next_start
    if arm.mask0_action != "zero":
        record["next_frozen"] = next_frozen
    if level == 0 or run.keep_final:  # level 0's: heuristic supermasks need the dense weights
        record["final"] = {n: t.clone() for n, t in res.final.items()}
    record["sample"] = weight_sample(w_s, w_e, next_mask)
    return record


def batch_gradients(model: torch.nn.Module, state: dict[str, torch.Tensor],
                    data: data_mod.Dataset, batch_size: int, names: Collection[str],
                    generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    """The gradient of the training loss (cross-entropy, mean over ``batch_size`` training
    examples drawn by ``generator``, no augmentation) with respect to the tensors ``names``
    at ``state`` (parameters and buffers; pruned weights hold their frozen values there):
    what a criterion that needs gradients scores with. The model is called in training mode,
    as it trains, on a copy of ``state``: BatchNorm's running statistics in ``state`` (the
    level's stored result) stay as training left them."""
    x, y = data.splits["train"]
    pick = torch.randperm(len(y), generator=generator)[:batch_size].to(x.device)
    params = {n: t.detach().to(device, copy=True).requires_grad_(n in names)
              for n, t in state.items()}
    was_training = model.training
    model.train()
    try:
        logits = torch.func.functional_call(model, params, (data.inputs(x[pick]).to(device),))
    finally:
        model.train(was_training)
    loss = torch.nn.functional.cross_entropy(logits, y[pick].to(device))
    grads = torch.autograd.grad(loss, [params[n] for n in names])
    return {n: g.cpu() for n, g in zip(names, grads)}


def _outcome(res: engine.MemberResult) -> dict:
    """What a level's training gave: its evaluations, accuracies and failure."""
    return {"iterations": res.iterations, "metrics": res.metrics,
            "early_stop_iteration": res.early_stop_iteration,
            "test_acc_at_early_stop": res.test_acc_at_early_stop,
            "test_acc_at_end": res.test_acc_at_end, "failed_at": res.failed_at}


SAMPLE_SIZE = 2000


def weight_sample(w_i: dict, w_f: dict, new_mask: dict) -> dict:
    """A fixed random subset of each layer's (w_i, w_f, kept) for the mask explorer's scatter:
    the same positions in every level and run, small enough to store with every level."""
    out = {}
    for name, w in w_i.items():
        idx = _sample_positions(name, w.numel())
        out[name] = {"w_i": w.flatten()[idx].clone(), "w_f": w_f[name].flatten()[idx].clone(),
                     "kept": new_mask[name].flatten()[idx].bool()}
    return out


@functools.cache
def _sample_positions(name: str, n: int) -> torch.Tensor:
    """The explorer's positions in a layer: one random draw per layer name and size."""
    return torch.randperm(n, generator=seeds.generator(0, "explorer", name))[:SAMPLE_SIZE]


def failed_runs(summary: pd.DataFrame) -> list[str]:
    """Each failed level of a summary (``Result.summary``), named in one line."""
    failed = summary[summary["failed"]]
    return [f"{r.model} {r.line} seed {r.seed}: diverged in level {r.level} at iteration "
            f"{int(r.failed_at)}" for r in failed.itertuples()]  # int: NaN made the column float
