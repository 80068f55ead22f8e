"""Run packs made, checked, joined and recomputed: ``python -m lt_core pack ...``.

A pack (``lt_core.packfile``) holds the finished runs of one experiment (a params file at a
scale, restricted to some networks and seeds), each with its provenance, and the view of its
result that the book's pages read (the experiment's runs frame and data, ``to_pack``), so
that a machine without the data or the time shows the same tables and verdicts.

- ``create``: the runs an experiment has finished in a store, into one file named by its
  content hash; nothing trains (a run that is not finished is named, and nothing written).
- ``verify``: every entry's sha256, and every run's config against its key.
- ``merge``: the union of packs made on different machines; a run with the same key and
  other numbers is named with both provenances, and nothing is written.
- ``ls``: what a pack holds.
- ``recompute``: retrain sampled runs' level 0 from their configs and compare.
"""

from __future__ import annotations

import io
import json
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from . import experiments, packfile, record
from . import store as store_mod
from .files import atomic_path, write_problem
from .packfile import PackError, PackFile
from .provenance import environment, git_state
from .store import NotComputed, RunStore

PARTS = ("json", "masks.npz")  # what a level ships; its tensors only --with-weights
# Level 0 recomputed on another kind of device: the float sums run in another order, so the
# training is another sample of the same process; its test accuracy must be within this many
# points of the pack's (a few times the seed-to-seed std of a dense network's accuracy).
TOLERANCE_PP = 1.0


def create(params: dict, scale: str, notebook: str, store: str | Path, out_dir: str | Path,
           with_weights: bool = False,
           packs: list[packfile.PackFile] | None = None) -> tuple[Path, int]:
    """Pack the runs the experiment ``params`` describes (``notebook``'s, at ``scale``) from
    ``store`` over ``packs`` (default: the shipped ones), so that a run the store went on with
    from a pack of its first levels is packed whole; returns (path, number of runs). Raises
    PackError, naming them, if any run is not finished."""
    params = {**params, "store": str(store)}
    if not Path(store).is_dir():
        raise PackError(f"no run store at {store}; pass --store with the folder the runs "
                        "were computed in")
    with store_mod.reading(packs=packs) as keys:  # None: the shipped packs, as every store
        cfg = experiments.config(params)
        try:
            result = experiments.run(cfg, progress=False)
        except NotComputed as err:
            raise PackError(f"{err} in {store}: compute them first (python -m lt_core run), or "
                            "restrict the pack to what finished (--models, --seeds)") from None
    runs = RunStore(store, packs=packs)
    # An experiment of fewer levels than its runs reached packs those levels alone.
    top = params.get("levels", params.get("pruning", {}).get("levels"))
    entries: dict[str, bytes] = {}
    for key in keys:
        entries[f"runs/{key}/config.json"] = _json(runs.config(key))
        packed = runs.levels(key)[: None if top is None else top + 1]
        for level in packed:
            for part in PARTS + (("tensors.pt",) if with_weights else ()):
                raw = runs.part_bytes(key, level, part)
                if raw is not None:
                    entries[f"runs/{key}/level_{level:03d}.{part}"] = raw
        entries[f"runs/{key}/provenance.json"] = _json(provenance(runs, key, packed))
    view = result.to_pack()
    # "kind": the experiment (the word the pack format was written with)
    meta = {"experiments": [{"kind": cfg.EXPERIMENT, "notebook": notebook, "scale": scale,
                             "params": {k: v for k, v in params.items() if k != "store"},
                             "runs": list(keys), "view": view}],
            "with_weights": with_weights}
    return _write(out_dir, entries, meta), len(keys)


def provenance(runs: RunStore, key: str, levels: list[int] | None = None) -> dict:
    """Who computed a run, where and when, from its levels' environments (a run computed from
    another with no record of its own, as a heuristic supermask from its dense run: that
    run's, named in ``derived_from``). ``levels``: those packed (default: all)."""
    config = runs.config(key)
    levels = [runs.level(key, n) for n in (runs.levels(key) if levels is None else levels)]
    if not any(lv.env for lv in levels) and config.get("dense_run"):
        return {**provenance(runs, config["dense_run"]), "wall_s": None,
                "derived_from": config["dense_run"]}
    env = next((lv.env for lv in levels if lv.env), {})
    dates = sorted(lv.env["date"] for lv in levels if lv.env.get("date"))
    walls = [lv.wall_s for lv in levels if lv.wall_s is not None]
    # A run that went on from a pack of its first levels: the code of both parts, in order.
    commits = list(dict.fromkeys(lv.env["git_commit"] for lv in levels
                                 if lv.env.get("git_commit")))
    return {
        "lt_core": env.get("lt_core"), "commit": env.get("git_commit"),
        "commits": commits, "dirty": any(lv.env.get("git_dirty") for lv in levels),
        "torch": env.get("torch"), "cuda": env.get("cuda"),
        "device": env.get("device"), "device_name": env.get("device_name"),
        "cpu": env.get("cpu", env.get("device_name") if env.get("device") == "cpu" else None),
        "cpu_kind": env.get("cpu_kind"),  # None: computed before it was recorded
        "threads": env.get("threads"), "data": config.get("data"),
        "computed": [dates[0], dates[-1]] if dates else None,
        "wall_s": round(sum(walls), 3) if walls else None, "levels": len(levels),
        # The code that packed it (no date: the same runs packed twice make the same file).
        "packed_by": git_state(),
    }


def verify(paths: Iterable[str | Path]) -> list[str]:
    """Every problem of the packs, one line each: unreadable files, entries that do not match
    their hash, runs whose config does not hash to their key."""
    problems = []
    for path in paths:
        try:
            pack = PackFile(path)
        except PackError as err:
            problems.append(str(err))
            continue
        mine = pack.verify()
        for key in pack.keys():
            try:
                if RunStore.key(pack.config(key)) != key:
                    mine.append(f"{path}: run {key}'s config hashes to another key")
            except (PackError, ValueError) as err:
                if not any(f"runs/{key}/config.json" in p for p in mine):
                    mine.append(str(err))
        name = packfile.content_name(Path(path).read_bytes())
        if not mine and len(Path(path).stem) == 16 and Path(path).name != name:
            mine.append(f"{path}: its bytes hash to {name}, not to its name")
        problems += mine
    return problems


def merge(paths: list[str | Path], out_dir: str | Path) -> tuple[Path, int]:
    """One pack of the union of ``paths``' runs; (path, runs). A run in several packs is
    taken once, with the union of their levels (and weights) where every file both hold is
    the same, and the provenance of the copy with most levels; a run with other numbers in
    two packs makes PackError name it with both provenances, and nothing is written."""
    packs = [PackFile(p) for p in paths]
    entries: dict[str, bytes] = {}
    owner: dict[str, PackFile] = {}  # whose provenance a run keeps
    conflicts = []
    for pack in packs:
        for key in pack.keys():
            mine = {n: h for n, h in pack.entries.items()
                    if n.startswith(f"runs/{key}/") and not n.endswith("provenance.json")}
            if key in owner:
                theirs = {n: packfile.sha256(entries[n]) for n in entries
                          if n.startswith(f"runs/{key}/") and not n.endswith("provenance.json")}
                if any(theirs[n] != h for n, h in mine.items() if n in theirs):
                    conflicts.append(
                        f"run {key} differs between {owner[key].path} "
                        f"({_said(owner[key].provenance(key))}) and {pack.path} "
                        f"({_said(pack.provenance(key))})")
                    continue
            if key not in owner or len(pack.levels(key)) > len(owner[key].levels(key)):
                owner[key] = pack
            entries.update((n, pack.read(n)) for n in mine if n not in entries)
            entries[f"runs/{key}/provenance.json"] = owner[key].read(
                f"runs/{key}/provenance.json")
    if conflicts:
        raise PackError("; ".join(conflicts) + ": nothing merged")
    seen, views = set(), []
    for pack in packs:
        for exp in pack.manifest.get("experiments", []):
            ident = json.dumps(exp, sort_keys=True)
            if ident not in seen:
                seen.add(ident)
                views.append(exp)
    meta = {"experiments": views,
            "with_weights": any(p.manifest.get("with_weights") for p in packs)}
    return _write(out_dir, entries, meta), len(owner)


def _said(prov: dict) -> str:
    on_cpu = prov.get("device") == "cpu"  # a CPU by its generation (``cpu_kind``)
    where = ((on_cpu and prov.get("cpu_kind")) or prov.get("device_name") or prov.get("device")
             or "unknown device")
    return (f"{where}, torch {prov.get('torch')}, commit {', '.join(commits(prov))}, "
            f"{(prov.get('computed') or ['?'])[0]}")


def commits(prov: dict) -> list[str]:
    """The commits a run's levels were computed at, short (packs before ``commits``: one)."""
    return [c[:10] for c in prov.get("commits") or [prov.get("commit") or "?"]]


def ls(path: str | Path) -> str:
    """What a pack holds, as text: per experiment its networks, seeds, runs and levels, then
    the provenance of its runs and the file's size."""
    pack = PackFile(path)
    lines = [f"{pack.path} ({pack.path.stat().st_size:,} bytes, {len(pack.keys())} runs, "
             f"{'with' if pack.manifest.get('with_weights') else 'without'} weights)"]
    for exp in pack.manifest.get("experiments", []):
        configs = [pack.config(k) for k in exp["runs"] if k in pack.keys()]
        networks = sorted({c["model"] for c in configs if "model" in c})
        seeds = sorted({c["seed"] for c in configs if isinstance(c.get("seed"), int)})
        levels = sum(len(pack.levels(k)) for k in exp["runs"])
        lines.append(f"  {exp['kind']} at {exp['scale']} scale: networks {', '.join(networks)}; "
                     f"seeds {', '.join(map(str, seeds))}; {len(exp['runs'])} runs, "
                     f"{levels} levels")
    described = {}
    for key in pack.keys():
        p = pack.provenance(key)
        line = (f"{_said(p)}{' (dirty tree)' if p.get('dirty') else ''}, {p.get('threads')} "
                f"threads, data {p.get('data')}")
        described.setdefault(line, []).append(p.get("wall_s") or 0.0)
    for line, walls in described.items():
        lines.append(f"  computed on {line}: {len(walls)} runs, {sum(walls) / 3600:.2f} h of "
                     "training (each run's levels, a level shared by runs in each)")
    return "\n".join(lines)


def recompute(path: str | Path, sample: int, data_root: str | None = None,
              seed: int = 0, epochs: float | None = None) -> tuple[list[str], bool]:
    """Retrain ``sample`` runs of the pack (drawn with ``seed``) to the end of their level 0
    (``epochs``: its first epochs only, the same schedule truncated), from the pack's params,
    in a fresh store, and compare level 0's metrics at the evaluations both have with the
    pack's: bit-identical on the same kind of CPU and threads as the pack's, else within
    ``TOLERANCE_PP`` points of test accuracy. Returns (one line per run, all matched)."""
    pack = PackFile(path)
    candidates = [(exp, key) for exp in pack.manifest.get("experiments", [])
                  for key in exp["runs"] if _level0_trains(pack.config(key))]
    chosen = random.Random(seed).sample(candidates, min(sample, len(candidates)))
    lines, ok = [], True
    for exp, key in chosen:
        cfg = pack.config(key)
        prov = pack.provenance(key)
        params = level0_params(exp, cfg, epochs)
        if data_root is not None:
            params["data"] = {**params.get("data", {}), "root": data_root}
        threads = torch.get_num_threads()
        if prov.get("threads"):
            torch.set_num_threads(int(prov["threads"]))  # the pack's reduction order
        try:
            with tempfile.TemporaryDirectory() as tmp, store_mod.layered([]):  # no pack's runs
                params["store"] = tmp
                experiments.run(experiments.config(params), progress=False)
                mine = RunStore(tmp, packs=[]).level(_truncated_key(cfg, params), 0)
        finally:
            torch.set_num_threads(threads)
        theirs = record.Level.from_json(pack.read(f"runs/{key}/level_000.json"))
        line, good = _compare(key, cfg, prov, theirs, mine)
        lines.append(line)
        ok &= good
    if not chosen:
        lines.append(f"{path}: no run whose level 0 trains from its config")
    return lines, ok and bool(chosen)


def _truncated_key(config: dict, params: dict) -> str:
    """The run's key, or its truncated copy's (``train.stop_epoch`` is part of a key)."""
    stop = params.get("train", {}).get("stop_epoch")
    if stop is None:
        return RunStore.key(config)
    return RunStore.key({**config, "train": {**config["train"], "stop_epoch": float(stop)}})


def _level0_trains(config: dict) -> bool:
    return config.get("kind") in ("iterative_pruning", "l23_ticket") and "init" not in config


def level0_params(exp: dict, config: dict, epochs: float | None = None) -> dict:
    """The pack's params restricted to one run's network and seed, and to its level 0
    (``epochs``: its schedule's first epochs, where shorter than the whole)."""
    params = json.loads(json.dumps(exp["params"]))
    params["seeds"] = [config["seed"]]
    if exp["kind"] == "l23_layerwise":
        # Every measure: their level 0 is one training (the same start, mask and data).
        params.update(models=[config["model"]], levels=0,
                      overlap={**params.get("overlap", {}), "seed": config["seed"],
                               "reinit_seeds": []})
    elif exp["kind"] == "z19_iterative":  # every arm: their level 0 is one training too
        params.update(models=[config["model"]])
        params["pruning"] = {**params.get("pruning", {}), "levels": 0}
    elif exp["kind"] == "z19_supermasks":  # its dense run alone (Supermasks.dense_experiment)
        params = {"experiment": "z19_iterative", "models": [config["model"]],
                  "seeds": [config["seed"]], "train": params.get("dense", {}),
                  "pruning": {"levels": 0, "arms": [{"criterion": "large_final"}]},
                  **({"data": params["data"]} if "data" in params else {})}
    length = config.get("train", {}).get("epochs")
    if epochs is not None and (length is None or epochs < length):
        params["train"] = {**params.get("train", {}), "stop_epoch": epochs}
    return params


def _compare(key: str, config: dict, prov: dict, theirs: record.Level,
             mine: record.Level) -> tuple[str, bool]:
    """Their metrics and mine at the evaluations both have (all of theirs, or the first ones
    where mine trained a prefix)."""
    here = environment("cpu")
    # The same kind of CPU: its generation and instruction sets, not only its name (two AMD
    # EPYCs of other generations both say "AMD EPYC" and sum in other orders); a pack made
    # before the kind was recorded is compared as from another kind.
    same_kind = (prov.get("device") == "cpu" and prov.get("cpu_kind") == here["cpu_kind"]
                 and prov.get("torch") == here["torch"])
    what = f"run {key} ({config.get('model')} seed {config.get('seed')}) level 0"
    steps, at_theirs, at_mine = np.intersect1d(theirs.iterations, mine.iterations,
                                               return_indices=True)
    if not (steps > 0).any():
        return (f"{what}: no evaluation after the start in common with the pack's "
                "(train more epochs)"), False
    what += f" at its first {len(steps)} evaluations (to iteration {steps[-1]:,})"
    names = sorted(theirs.metrics)
    identical = names == sorted(mine.metrics) and all(
        np.array_equal(np.asarray(theirs.metrics[n])[at_theirs],
                       np.asarray(mine.metrics[n])[at_mine], equal_nan=True) for n in names)
    if same_kind:
        return (f"{what}: {'bit-identical' if identical else 'DIFFERENT'} on the pack's kind "
                f"of device ({here['cpu_kind']}, torch {here['torch']})"), identical
    a = 100 * float(np.asarray(theirs.metrics["test_acc"])[at_theirs[-1]])
    b = 100 * float(np.asarray(mine.metrics["test_acc"])[at_mine[-1]])
    good = identical or abs(a - b) <= TOLERANCE_PP
    return (f"{what}: computed on {_said(prov)}, here {here['cpu_kind']}: test accuracy "
            f"{b:.2f}% vs the pack's {a:.2f}% "
            f"({'bit-identical' if identical else 'within' if good else 'OUTSIDE'} "
            f"{TOLERANCE_PP:g} points)"), good


def _json(value: dict) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()


def _write(out_dir: str | Path, entries: dict[str, bytes], meta: dict) -> Path:
    """The pack's bytes, then the file named by their hash in ``out_dir``, atomically (a
    pack already there with that name is the same pack)."""
    buffer = io.BytesIO()
    packfile.write(buffer, entries, meta)
    raw = buffer.getvalue()
    dest = Path(out_dir) / packfile.content_name(raw)
    if dest.exists():
        return dest
    try:
        with atomic_path(dest) as tmp:
            tmp.write_bytes(raw)
    except OSError as err:
        raise PackError(write_problem(err, dest)) from None
    return dest
