"""Iterative pruning at tiny scale on the embedded real digits: counts, nesting, actions."""

import math

import pytest
import torch

from lt_core import config, experiments, models
from lt_core.papers import z19

ARMS = [
    {"criterion": "large_final"},
    {"criterion": "large_final", "mask1_action": "reinit"},
    {"criterion": "large_final", "mask1_action": "constant_init_sign"},
    {"criterion": "large_final", "mask0_action": "init"},
    {"criterion": "large_final", "mask0_action": "init_or_zero_all"},
    {"criterion": "small_init_small_final"},
]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    exp = experiments.config({"train": {"iterations": 30, "eval_every": 15}, "seeds": [0],
                       "pruning": {"levels": 3, "arms": ARMS},
                       "store": str(tmp_path_factory.mktemp("runs"))})
    return z19.experiment.run_iterative(exp, progress=False)


def masks_of(result, key, level):
    return result.store.masks(key, level)


def test_pruned_counts_are_exact_per_layer_per_level_and_masks_nest(result):
    rates = models.FC().prune_rates
    for key in result.runs["key"]:
        prev = {n: torch.ones(p.shape) for n, p in models.FC().named_parameters() if n in rates}
        for rnd in range(4):
            new = masks_of(result, key, rnd)
            for n, q in rates.items():
                remaining = int(prev[n].sum())
                assert int(new[n].sum()) == remaining - math.floor(q * remaining), (key, rnd, n)
                assert not (new[n].bool() & ~prev[n].bool()).any()  # nested
            prev = new


def test_level_zero_is_trained_once_and_shared(result):
    # Every arm starts from the same init and mask: identical level-0 results.
    accs = {result.store.level(k, 0).test_acc_at_early_stop for k in result.runs["key"]}
    assert len(accs) == 1


def test_actions_set_the_next_start_and_frozen_values(result):
    init = models.initial_state(models.FC(), 0)
    key = dict(zip(result.runs["label"], result.runs["key"]))
    # constant with init sign: +-sigma of the layer's init, signs of the init.
    start = result.store.tensors(key["large_final, constant_init_sign"], 0)["next_start"]["fc1.weight"]
    sigma = init["fc1.weight"].std(unbiased=False)
    assert torch.allclose(start, sigma * torch.sign(init["fc1.weight"]))
    # reinit: a permutation of the layer's init values, different each level.
    rec = [result.store.tensors(key["large_final, reinit"], r)["next_start"]["fc1.weight"] for r in (0, 1)]
    assert torch.equal(rec[0].flatten().sort().values, init["fc1.weight"].flatten().sort().values)
    assert not torch.equal(rec[0], rec[1])
    # freeze at init: every pruned weight holds its initial value, persistently.
    for rnd in range(3):
        frozen = result.store.tensors(key["large_final, mask0 init"], rnd)["next_frozen"]["fc1.weight"]
        pruned = ~masks_of(result, key["large_final, mask0 init"], rnd)["fc1.weight"].bool()
        assert torch.equal(frozen[pruned], init["fc1.weight"][pruned])
    # apply to all: kept weights zeroed once stay zero in every later start.
    k = key["large_final, mask0 init_or_zero_all"]
    zero0 = result.store.tensors(k, 0)["next_start"]["fc1.weight"] == 0
    zero2 = result.store.tensors(k, 2)["next_start"]["fc1.weight"] == 0
    assert zero0.any() and not (zero0 & ~zero2).any()


def test_rerun_loads_everything_from_the_store(result):
    again = z19.experiment.run_iterative(result.config, progress=False)
    assert again.summary.equals(result.summary)
    assert set(result.summary["line"]) == {config.Arm(**a).label for a in ARMS}


def test_signed_constant_uses_the_layer_population_std():
    w = torch.tensor([1.0, -3.0, 0.0, 2.0])
    sigma = w.std(unbiased=False)
    assert torch.allclose(z19.supermasks.signed_constant(w), sigma * torch.tensor([1.0, -1.0, 0.0, 1.0]))


def test_a_diverged_network_is_never_reported_as_a_result(tmp_path, capsys):
    from lt_core.__main__ import main

    params = tmp_path / "p.yaml"
    params.write_text(f"""
train: {{iterations: 20, eval_every: 10, lr: 1.0e+6, optimizer: adam}}
pruning: {{levels: 2, arms: [{{criterion: large_final}}, {{criterion: random}}]}}
seeds: [0, 1]
store: {tmp_path / "runs"}
""")
    assert main(["run", str(params)]) == 1
    err = capsys.readouterr().err.replace("\r", "\n").splitlines()  # \r: progress bars
    assert sorted(ln for ln in err if ln.startswith("FAILED")) == [
        f"FAILED fc {arm} seed {s}: diverged in level 0 at iteration 10"
        for arm in ("large_final", "random") for s in (0, 1)]
    result = z19.experiment.run_iterative(experiments.config(params), progress=False)
    s = result.summary
    assert len(s) == 4 and s["failed"].all() and s["test_acc_at_early_stop"].isna().all()
    assert s["early_stop_iteration"].isna().all() and s["level"].eq(0).all()  # pruning stopped
    assert result.final_level_accuracy().empty
    assert "**Failed runs, left out of every table and figure**" in result.describe("tiny")
    fig = z19.figures.levels(s)
    assert all(len(ax.lines) == 0 for ax in fig.axes)
    # `metrics` shows the failed evaluations (NaN) instead of dropping them, and says why.
    assert main(["metrics", result.runs["key"][0], "--store", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert "\nlevel 0 diverged at iteration 10: no result from it" in out
    table = out.split("\nlevel 0 diverged")[0]
    assert table.count("NaN") == 2 * 4  # iterations 10 and 20, 4 values each


def test_a_claim_with_a_failed_run_is_not_judged_and_names_it(monkeypatch):
    import pandas as pd


    rows = [{"model": "fc", "level": r, "percent_remaining": 100 * 0.8 ** r, "line": m,
             "seed": s, "test_acc_at_early_stop": v + 0.01 * s, "failed": False,
             "failed_at": float("nan")}
            for m, v in {"a": 0.9, "b": 0.5}.items() for s in (0, 1) for r in (0, 1, 2)]
    monkeypatch.setitem(z19.claims.CLAIMS, "test", [z19.claims.Claim(("a", "b"), "here")])
    frame = pd.DataFrame(rows)
    row = z19.claims.check(frame, "test").iloc[0]
    assert row["verdict"].holds and row["this build"] == "a 90.50%, b 50.50%"
    assert row["failed"] == []
    frame.loc[(frame["line"] == "a") & (frame["seed"] == 1) & (frame["level"] == 2),
              ["failed", "failed_at", "test_acc_at_early_stop"]] = [True, 10, float("nan")]
    row = z19.claims.check(frame, "test").iloc[0]
    assert row["verdict"].holds is None and row["this build"] == ""
    assert row["failed"] == ["fc a seed 1: diverged in level 2 at iteration 10"]
