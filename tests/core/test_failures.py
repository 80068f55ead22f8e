"""The failure model, one for the three papers: a run that diverges has no result from that
level on, and every run that needs its mask, weights or counts is not trained but named
(``FAILED`` lines, ``failures()``), never averaged, never a figure point."""

import subprocess
import sys
from pathlib import Path

import yaml
from conftest import h21_accuracy

from lt_core import config, engine, loop
from lt_core.papers import h21, l23
from lt_core.store import RunStore

REPO = Path(__file__).resolve().parents[2]
TINY_05 = yaml.safe_load((REPO / "params/tiny/05_decoupling.yaml").read_text())


def diverging_h21(store: Path) -> dict:
    """Tiny H21 whose find grid has a rate (500) that diverges at level 0."""
    v = {**TINY_05, "store": str(store)}
    v["studies"] = [{"name": "lr", "vary": "lr", "find": [0.05, 500.0], "eval": [0.05, 500.0]}]
    v["constrained"] = [{"study": "lr", "good": 0.05, "bad": 500.0, "eval": 0.05}]
    return v


def test_a_diverging_find_run_names_every_dependent_and_exits_1(tmp_path):
    params = tmp_path / "05.yaml"
    params.write_text(yaml.safe_dump(diverging_h21(tmp_path / "runs")))
    out = subprocess.run([sys.executable, "-m", "lt_core", "run", str(params)],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr and "unreadable" not in out.stderr
    failed = [line for line in out.stderr.splitlines() if line.startswith("FAILED")]
    assert all(line.startswith("FAILED ") for line in out.stderr.strip().splitlines()
               if "FAILED" in line)
    for seed in (0, 1):
        # the find run itself, and both its eval values at levels 1-2: not trained
        assert f"FAILED lr find lr 500 seed {seed}: diverged at level 0 (iteration 20)" in failed
        for ev in ("0.05", "500"):
            assert (f"FAILED lr eval lr {ev} <- find lr 500 seed {seed}, levels 1-2: not "
                    f"trained, the find run diverged at level 0 (iteration 20)") in failed
        # blue (0.05 held to 500's counts) trained level 0, then had no counts to prune by
        assert (f"FAILED lr find lr 0.05 with 500's LPR seed {seed}: stopped after level 0: "
                "the run it takes its counts from diverged at level 0") in failed
    # the lines are one per run, none twice
    assert len(failed) == len(set(failed))


def test_no_point_of_a_failed_find_run_after_its_divergence(tmp_path, monkeypatch):
    """Find LR 0.2 made to diverge at level 1: its eval runs at level 1 train (M^(1) came
    from level 0), none at level 2; its LPR stops at M^(1); the baselines that follow it
    train level 1 and stop; claims say "not judged" instead of averaging the rest."""
    real = loop._next_level

    def diverge_at_1(run, rnd, state, res, *args, **kwargs):
        record = real(run, rnd, state, res, *args, **kwargs)
        if run.config["kind"] == "h21_find" and run.lr == 0.2 and rnd == 1:
            record["failed_at"] = int(res.iterations[-1])
            record["test_acc_at_end"] = float("nan")
        return record

    monkeypatch.setattr(loop, "_next_level", diverge_at_1)
    cfg = h21.load({**TINY_05, "store": str(tmp_path)})
    result = h21.run(cfg, progress=False)
    acc = result.accuracy
    find02 = acc[(acc["find"] == 0.2) & acc["lpr_from"].isna()]
    assert find02[find02["level"] <= 1]["pruning"].size > 0
    assert find02[find02["level"] == 2]["test_acc"].isna().all()
    assert find02[find02["level"] == 2]["failed"].all()
    evals = find02[(find02["pruning"] == "lottery") & (find02["eval"] == 0.05)]
    assert evals[evals["level"] == 1]["test_acc"].notna().all()  # M^(1) is a real mask
    assert result.store.config(evals[evals["level"] == 1]["run"].iloc[0])["kind"] == "h21_eval"
    lpr = result.masks_per_layer
    assert sorted(lpr[lpr["find"] == 0.2]["level"].unique()) == [1]
    assert sorted(lpr[lpr["find"] == 0.05]["level"].unique()) == [1, 2]
    base = acc[(acc["pruning"] != "lottery") & (acc["find"] == 0.2)]
    assert base[base["level"] == 1]["test_acc"].notna().all()
    assert base[base["level"] == 2]["test_acc"].isna().all()
    lines = result.failures()
    for seed in (0, 1):
        assert f"lr find lr 0.2 seed {seed}: diverged at level 1 (iteration 20)" in lines
        assert (f"lr eval lr 0.05 <- find lr 0.2 seed {seed}, level 2: not trained, the find "
                f"run diverged at level 1 (iteration 20)") in lines
        assert (f"lr global random lr 0.2 <- find lr 0.2 seed {seed}: stopped after level 1: "
                "the run it takes its counts from diverged at level 1") in lines
    claims = result.claims()
    assert not claims.empty  # judged or "not judged", never a crash
    q2 = claims[claims["id"] == "Q2"].iloc[0]
    v = q2["verdict"]
    assert not v.judged or "left out" in v.statistic


def test_a_level_whose_find_value_failed_everywhere_is_not_judged():
    """One find value's masks fail under every H_eval at level 2: the claims that need that
    level say so instead of crashing (pandas' idxmax on an all-NaN row did)."""
    from lt_core.papers.h21 import claims as h21

    acc = h21_accuracy({("lottery", 0.1, 0.1): [[0.9, 0.9], [0.9, 0.91], [None, None]],
                    ("lottery", 0.1, 0.5): [[0.9, 0.9], [0.8, 0.82], [None, None]],
                    ("lottery", 0.5, 0.1): [[0.9, 0.9], [0.85, 0.86], [0.8, 0.8]],
                    ("lottery", 0.5, 0.5): [[0.9, 0.9], [0.81, 0.83], [0.8, 0.8]]})
    v = h21.best_eval_changes(acc, "lr")
    assert v.holds is None and "runs failed" in v.why
    per_level = {lv: h21.best_vs_best(acc, "lr", lv) for lv in (1, 2)}
    assert per_level[2].holds is None



def test_l23_names_the_partial_reinit_it_could_not_train(tmp_path, monkeypatch):
    real = loop._next_level

    def diverge_l1(run, rnd, state, res, *args, **kwargs):
        record = real(run, rnd, state, res, *args, **kwargs)
        if run.arm.criterion == "l1" and rnd == 1:
            record["failed_at"] = int(res.iterations[-1])
        return record

    monkeypatch.setattr(loop, "_next_level", diverge_l1)
    values = yaml.safe_load((REPO / "params/tiny/06_layerwise.yaml").read_text())
    cfg = config.load({**values, "store": str(tmp_path)}, l23.Layerwise)
    result = l23.run(cfg, progress=False)
    lines = result.failures()
    assert "lenet_300_100 l1 seed 0: diverged at level 1 (iteration 30)" in lines
    assert any(line.startswith("lenet_300_100 partial re-init of magnitude, l1, l2 seed 0 "
                               "(re-init seeds 0): not trained, the l1 ticket diverged at "
                               "level 1") for line in lines), lines
    assert (result.runs["role"] == "reinit").sum() == 0


def test_a_rewind_point_that_diverged_fails_its_runs_at_level_0(tmp_path):
    from lt_core import models
    from lt_core.config import Arm, Train
    from lt_core.data import synthetic

    toy = synthetic({"train": 64, "val": 0, "test": 32}, shape=(1, 6, 6)).with_options("none")
    net = models.build("lenet_300_100", toy.input_shape)
    train = Train(optimizer="sgd", lr=1e6, momentum=0.9, batch_size=16, epochs=3,
                  last_batch="keep", eval_every=2)
    store = RunStore(tmp_path)
    runs = [loop.Run({"kind": "test", "model": "lenet_300_100", "m": m}, 0, Arm(m, selection="global"), train,
                        rewind_iteration=2) for m in ("magnitude", "l1")]
    keys = loop.prune_loop(net, toy, runs, 2, store, "cpu", progress=False)
    for key in keys:
        assert store.levels(key) == [0]
        at, why = loop.stop_reason(store, key)
        assert at == 0 and why == "diverged before its rewind point (iteration 2)"
    assert engine.DIVERGENCE_FACTOR  # the rule that flagged it
