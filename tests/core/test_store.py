import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lt_core import config, experiments
from lt_core.papers import z19
from lt_core.record import pack_mask, unpack_mask
from lt_core.store import TIDY_COLUMNS, RunStore


def test_run_key_is_pinned():
    # The key of a known run config. If this changes, every stored result is orphaned:
    # bump config.SCHEMA_VERSION deliberately instead.
    exp = experiments.config("params/tiny/01_mask_criteria.yaml")
    cfg = z19.experiment.run_config(exp, "fc", "mnist-embedded-5k", config.Arm("large_final"), 0)
    assert config.content_hash(cfg) == (
        "7edbc2b2f0fc264589e980a5c6fbdc66da83127788d3318602af8e88cbc12567")
    assert RunStore.key(cfg) == "7edbc2b2f0fc264589e9"


def test_learned_supermask_key_is_pinned():
    # Z19's FC learned supermask at the paper's length (c = 0, seed 0): the engine's newer
    # training fields (epochs, milestones, ...) at their defaults must not change its key.
    train = z19.config.Learned().train_for("fc", 55_000)
    cfg = z19.learned.learned_config("fc", "mnist", 0.0, 0, train, 10, False)
    assert RunStore.key(cfg) == "f565e7a9d8ec9e94733e"


def test_mask_packing_roundtrip():
    m = (torch.rand(7, 13) > 0.5).float()
    assert torch.equal(unpack_mask(pack_mask(m)), m)


def test_save_level_is_atomic_and_tidy(tmp_path):
    store = RunStore(tmp_path)
    key = store.prepare({"label": "large_final", "seed": 3})
    assert store.prepare({"seed": 3, "label": "large_final"}) == key  # canonical
    store.save_level(key, 0, {
        "percent_remaining": 100.0, "iterations": [0, 10],
        "metrics": {"val_loss": [2.0, 1.0], "test_acc": [0.1, 0.5]},
        "early_stop_iteration": 10, "test_acc_at_early_stop": 0.5, "failed_at": None})
    assert sorted(p.name for p in (tmp_path / key).iterdir()) == ["config.json", "level_000.json"]
    df = store.metrics()
    assert list(df.columns) == TIDY_COLUMNS and len(df) == 4
    row = df[(df.split == "test") & (df.iteration == 10)].iloc[0]
    assert (row.line, row.seed, row.metric, row.value) == ("large_final", 3, "acc", 0.5)
    assert store.summary().iloc[0].test_acc_at_early_stop == 0.5


def test_stores_of_one_pickled_file_per_level_are_read_as_they_are(tmp_path):
    # Stores written before the split held one pickled dict per level: level_NNN.pt, and
    # before the word was "level", round_NNN.pt (with a "round" field).
    store = RunStore(tmp_path, packs=[])
    key = store.prepare({"label": "random", "seed": 0})
    mask = {"fc1.weight": (torch.arange(12.0).view(3, 4) % 3 == 0).float()}
    for level, name in ((0, "round_000.pt"), (1, "level_001.pt")):
        torch.save({"round" if level == 0 else "level": level,
                    "percent_remaining": 100.0 * 0.8 ** level,
                    "iterations": [10], "metrics": {"test_acc": [0.5]},
                    "early_stop_iteration": 10, "test_acc_at_early_stop": 0.5 + level / 10,
                    "failed_at": None, "next_mask": {n: pack_mask(m) for n, m in mask.items()},
                    "final": {"fc1.weight": torch.full((3, 4), float(level))}},
                   tmp_path / key / name)
    assert store.levels(key) == [0, 1] and store.has_level(key, 1) and not store.has_level(key, 2)
    assert list(store.summary()["level"]) == [0, 1]
    assert store.level(key, 1).test_acc_at_early_stop == 0.6
    assert store.level(key, 0).level == 0 and store.level(key, 1).continues
    assert torch.equal(store.masks(key, 1)["fc1.weight"], mask["fc1.weight"])
    assert torch.equal(store.tensors(key, 1)["final"]["fc1.weight"], torch.ones(3, 4))
    store.save_level(key, 2, {"percent_remaining": 64.0, "iterations": [10], "metrics": {},
                              "early_stop_iteration": 10, "test_acc_at_early_stop": 0.7,
                              "failed_at": None})  # a resumed run writes new levels split
    assert sorted(p.name for p in (tmp_path / key).glob("*_*")) == [
        "level_001.pt", "level_002.json", "round_000.pt"]
    assert store.levels(key) == [0, 1, 2]


def test_a_level_reads_its_metrics_without_loading_a_tensor(tmp_path, monkeypatch):
    store = RunStore(tmp_path, packs=[])
    key = store.prepare({"label": "large_final", "seed": 0})
    metrics = {"test_acc": np.array([0.25, 0.5], dtype=np.float32)}
    store.save_level(key, 0, {
        "level": 0, "iterations": np.array([5, 10]), "metrics": metrics,
        "test_acc_at_end": 0.5, "next_mask": {"w": pack_mask(torch.ones(300, 100))},
        "final": {"w": torch.randn(300, 100)}, "sample": {"w": {"w_i": torch.zeros(3)}}})
    loaded = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loaded.append(a) or {})
    monkeypatch.setattr(np, "load", lambda *a, **k: loaded.append(a))
    rec = store.level(key, 0)
    assert store.summary([key]).iloc[0].level == 0 and len(store.metrics([key])) == 2
    assert loaded == []  # no weights, no masks read
    assert rec.metrics["test_acc"].dtype == np.float32  # the same numbers, the same dtype
    assert rec.metrics["test_acc"].tolist() == [0.25, 0.5] and rec.iterations.tolist() == [5, 10]
    assert rec.continues and rec.tensors == ["final", "sample"]
    assert sorted(p.name for p in (tmp_path / key).iterdir()) == [
        "config.json", "level_000.json", "level_000.masks.npz", "level_000.tensors.pt"]


def test_a_level_with_an_unknown_field_is_refused(tmp_path):
    store = RunStore(tmp_path, packs=[])
    key = store.prepare({"seed": 0})
    with pytest.raises(ValueError, match="a level record has no field weights"):
        store.save_level(key, 0, {"level": 0, "weights": {}})
    assert not store.has_level(key, 0)


SCRIPT = """
import sys
from lt_core import config, experiments
from lt_core.papers import z19
exp = experiments.config({"train": {"iterations": 60, "eval_every": 30}, "pruning": {"levels": 8,
    "arms": [{"criterion": "large_final"}, {"criterion": "random"}]}, "seeds": [0],
    "store": sys.argv[1]})
z19.experiment.run_iterative(exp, progress=False)
"""


def test_kill_9_mid_run_resumes_from_last_finished_level(tmp_path):
    store_root = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, str(store_root)])
    store = RunStore(store_root)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until level 2 is on disk for some run
        if any(store.has_level(k, 2) for k in store.keys()):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    keys = store.keys()
    assert len(keys) == 2
    done_before = {k: store.levels(k) for k in keys}
    assert max(len(r) for r in done_before.values()) < 9  # it really was interrupted
    for k, levels in done_before.items():  # every file that exists is complete and loadable
        for r in levels:
            store.level(k, r), store.masks(k, r), store.tensors(k, r)
    mtimes = {(k, r): os.stat(store_root / k / f"level_{r:03d}.json").st_mtime_ns
              for k, levels in done_before.items() for r in levels}

    subprocess.run([sys.executable, "-c", SCRIPT, str(store_root)], check=True)
    for k in keys:
        assert store.levels(k) == list(range(9))
    for (k, r), mtime in mtimes.items():  # finished levels were not recomputed
        assert os.stat(store_root / k / f"level_{r:03d}.json").st_mtime_ns == mtime
    leftovers = [p for p in store_root.rglob("*") if p.name.endswith(".part")]
    assert leftovers == []


# A tiny experiment (2 runs, 2 levels: 3 member trainings, level 0 shared) that prints how many
# members this process trained. "first" holds its first save open until "second" has prepared
# its runs; "second" says when it has.
WORKER = """
import sys, time
from pathlib import Path
import numpy as np
import pytest
import torch
from lt_core import config, engine, experiments, store
from lt_core.papers import z19
root, role = Path(sys.argv[1]), sys.argv[2]
trained = 0
train = engine.train
def counting(model, members, *args, **kw):
    global trained
    trained += len(members)
    return train(model, members, *args, **kw)
engine.train = counting
if role == "first":
    save = torch.save
    def held_open(obj, path):
        save(obj, path)  # the temp file is on disk, not yet renamed
        if not Path(f"{root}.saving").exists():
            Path(f"{root}.saving").touch()
            deadline = time.time() + 120
            while not Path(f"{root}.prepared").exists() and time.time() < deadline:
                time.sleep(0.05)
    torch.save = held_open
if role == "second":
    prepare = store.RunStore.prepare
    def announcing(self, config):
        key = prepare(self, config)
        Path(f"{root}.prepared").touch()
        return key
    store.RunStore.prepare = announcing
exp = experiments.config({"train": {"iterations": 20, "eval_every": 10}, "seeds": [0],
                   "pruning": {"levels": 1, "arms": [{"criterion": "large_final"},
                                                     {"criterion": "random"}]},
                   "store": str(root)})
z19.experiment.run_iterative(exp, progress=False)
print(trained)
"""


def worker(root, role):
    return subprocess.Popen([sys.executable, "-c", WORKER, str(root), role], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(*procs):
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), [err for _, err in outs]
    return [int(out) for out, _ in outs]


def assert_complete(root):
    store = RunStore(root)
    assert len(store.keys()) == 2
    for key in store.keys():
        assert store.levels(key) == [0, 1]
        store.level(key, 1), store.masks(key, 1), store.tensors(key, 1)
    assert [p for p in root.rglob("*") if p.name.endswith(".part")] == []


def test_two_processes_started_together_train_everything_once(tmp_path):
    root = tmp_path / "runs"
    counts = finish(worker(root, "plain"), worker(root, "plain"))
    assert sorted(counts) == [0, 3]  # one trained all 3 members, the other reused them
    assert_complete(root)


def test_a_process_started_during_a_save_waits_and_loses_nothing(tmp_path):
    root = tmp_path / "runs"
    first = worker(root, "first")
    deadline = time.time() + 120
    while not (tmp_path / "runs.saving").exists() and first.poll() is None:
        assert time.time() < deadline
        time.sleep(0.05)
    second = worker(root, "second")  # the first one's level-0 temp file is on disk now
    assert finish(first, second) == [3, 0]
    assert_complete(root)


def test_a_store_that_cannot_be_written_fails_before_any_training(tmp_path, monkeypatch,
                                                                  read_only, capsys):
    from lt_core import engine
    from lt_core.__main__ import main

    params = tmp_path / "p.yaml"
    params.write_text(f"train: {{iterations: 10, eval_every: 10}}\npruning: {{levels: 1}}\n"
                      f"store: {tmp_path / 'runs'}\n")
    exp = experiments.config(params)
    for arm in exp.pruning.arms:  # registered by an earlier process, no level finished yet
        RunStore(exp.store).prepare(z19.experiment.run_config(exp, "fc", "mnist-embedded-5k", arm, 0))

    def train(*args, **kwargs):
        raise AssertionError("training started on a store that cannot be written")

    monkeypatch.setattr(engine, "train", train)
    read_only(tmp_path / "runs")
    assert main(["run", str(params)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: run store {tmp_path / 'runs'} cannot be written (Read-only")
