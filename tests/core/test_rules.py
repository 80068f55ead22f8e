"""Pruning rules beyond Z19's layerwise criteria: L23's importance measures, global selection
(exact counts and OpenLTH's threshold), a reference run's per-layer counts, and the loop that
runs them with rewinding to iteration k. Expectations worked out by hand."""

import math

import pytest
import torch

from lt_core import criteria, loop, masks, models
from lt_core.config import Arm, Train
from lt_core.data import synthetic
from lt_core.papers import l23
from lt_core.store import RunStore

W = torch.tensor([0.0, -1.0, 2.0, -2.0, 3.0])  # a layer with a tie (|-2| = |2|)
M = torch.tensor([0.0, 1.0, 1.0, 1.0, 1.0])  # the first entry is already pruned


def close(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal values; the measures are float64 whatever the weights' dtype."""
    torch.testing.assert_close(got, want.to(got.dtype))


def test_importance_measures_by_hand():
    got = {m: criteria.importance(m, W, M) for m in criteria.L23_MEASURES}
    # unpruned |w| = 1, 2, 2, 3; the pruned entry scores 0 in every measure
    assert got["magnitude"].tolist() == [0, 1, 2, 2, 3]
    close(got["l1"], torch.tensor([0, 1, 2, 2, 3]) / 8)
    close(got["l2"], torch.tensor([0, 1, 4, 4, 9]) / 18)
    e = torch.exp(torch.tensor([1.0, 2, 2, 3]) - 3)  # exp(0) of the pruned zero never enters
    close(got["softmax"], torch.cat([torch.zeros(1), e / e.sum()]))
    close(got["minmax"], torch.tensor([0, 0, 0.5, 0.5, 1]))
    # LAMP: ascending 1, 2 (index 2), 2 (index 3), 3; tail sums of squares 18, 17, 13, 9
    close(got["lamp"], torch.tensor([0, 1 / 18, 4 / 17, 4 / 13, 1.0]))


def test_importance_of_constant_and_single_entry_layers():
    const = torch.full((4,), -0.5)
    ones = torch.ones(4)
    assert criteria.importance("minmax", const, ones).tolist() == [1.0] * 4  # max = min: 1
    close(criteria.importance("softmax", const, ones), torch.full((4,), 0.25))
    single = torch.tensor([0.7])
    for m in criteria.L23_MEASURES:
        assert criteria.importance(m, single, torch.ones(1)).item() == pytest.approx(
            {"magnitude": 0.7}.get(m, 1.0))
    zeros = torch.zeros(3)  # every unpruned entry is 0: no division by 0
    assert criteria.importance("l1", zeros, torch.ones(3)).tolist() == [0.0] * 3


def test_importance_ignores_pruned_entries_whatever_they_hold():
    # A pruned entry may hold a non-zero (frozen) value: it enters no normaliser (sum, max,
    # min) and scores 0. Unpruned |w| = 1, 3.
    w, m = torch.tensor([5.0, -1.0, 3.0]), torch.tensor([0.0, 1.0, 1.0])
    got = {k: criteria.importance(k, w, m) for k in criteria.L23_MEASURES}
    assert got["magnitude"].tolist() == [0, 1, 3]
    close(got["l1"], torch.tensor([0, 0.25, 0.75]))
    close(got["l2"], torch.tensor([0, 0.1, 0.9]))
    e = math.exp(-2)  # exp(1 - 3) / (exp(1 - 3) + exp(0)); 5 is not the max
    close(got["softmax"], torch.tensor([0, e / (1 + e), 1 / (1 + e)]))
    close(got["minmax"], torch.tensor([0.0, 0.0, 1.0]))
    close(got["lamp"], torch.tensor([0, 1 / 10, 1.0]))  # tails 10, 9
    for k in criteria.L23_MEASURES:  # a fully pruned layer scores 0 everywhere
        assert criteria.importance(k, w, torch.zeros(3)).tolist() == [0.0] * 3


def test_importance_ties_and_large_weights():
    w, ones = torch.tensor([1.0, 1.0, 2.0]), torch.ones(3)
    assert criteria.importance("minmax", w, ones).tolist() == [0.0, 0.0, 1.0]  # both minima 0
    close(criteria.importance("l1", w, ones), torch.tensor([0.25, 0.25, 0.5]))
    # LAMP breaks the tie by index: ascending 1 (0), 1 (1), 2; tail sums of squares 6, 5, 4
    close(criteria.importance("lamp", w, ones), torch.tensor([1 / 6, 1 / 5, 1]))
    # softmax subtracts the max: no overflow at |w| = 1000
    big = criteria.importance("softmax", torch.tensor([1000.0, -1001.0]), torch.ones(2))
    e = math.exp(-1)
    close(big, torch.tensor([e / (1 + e), 1 / (1 + e)]))


# Two layers pooled: a = |1 2 3 4|, b = |10 40|; 6 remaining, n = ceil(0.2 * 6) = 2, and
# OpenLTH keeps the scores above tau = the 3rd smallest (sorted[2]).
POOLED = {"a": torch.tensor([1.0, -2.0, 3.0, 4.0]), "b": torch.tensor([-10.0, 40.0])}
KEPT = {  # worked by hand: the normalised measures prune b's 10 instead of a's 3
    # magnitude: 1 2 3 4 10 40, tau = 3
    "magnitude": ([0, 0, 0, 1], [1, 1]),
    # l1: a .1 .2 .3 .4, b .2 .8; tau = .2, and both .2s go (a tie across layers)
    "l1": ([0, 0, 1, 1], [0, 1]),
    # l2: a 1 4 9 16 / 30, b 100 1600 / 1700; sorted .033 .059 .133 ..., tau = .133
    "l2": ([0, 0, 1, 1], [0, 1]),
    # softmax: a e^-3 e^-2 e^-1 1 / 1.553 = .032 .087 .237 .644, b e^-30 1 / (1 + e^-30);
    # tau = .087
    "softmax": ([0, 0, 1, 1], [0, 1]),
    # minmax: a 0 1/3 2/3 1, b 0 1; tau = 1/3
    "minmax": ([0, 0, 1, 1], [0, 1]),
}


@pytest.mark.parametrize("measure", list(KEPT))
def test_measures_pooled_globally_with_openlths_threshold(measure):
    m = {n: torch.ones_like(t) for n, t in POOLED.items()}
    g = torch.Generator().manual_seed(0)
    got = masks.global_masks(measure, POOLED, POOLED, m, 0.2, "threshold", g)
    assert (got["a"].tolist(), got["b"].tolist()) == KEPT[measure]


def test_pooling_counts_only_the_remaining_weights():
    # a's 1 is already pruned: 5 remain, n = ceil(0.2 * 5) = 1, tau = sorted(2 3 4 10 40)[1] = 3
    m = {"a": torch.tensor([0.0, 1, 1, 1]), "b": torch.ones(2)}
    g = torch.Generator().manual_seed(0)
    got = masks.global_masks("magnitude", POOLED, POOLED, m, 0.2, "threshold", g)
    assert got["a"].tolist() == [0, 0, 0, 1] and got["b"].tolist() == [1, 1]


def test_global_selection_exact_and_threshold():
    w = {"a": torch.tensor([1.0, 2.0, 3.0, 4.0]), "b": torch.tensor([2.0, 2.0, 5.0, 6.0, 7.0])}
    m = {n: torch.ones_like(t) for n, t in w.items()}
    g = torch.Generator().manual_seed(0)
    # 9 remaining, ceil(0.2 * 9) = 2 pruned: 1.0 and one of the three 2.0s
    exact = masks.global_masks("magnitude", w, w, m, 0.2, "exact", g)
    assert sum(int(t.sum()) for t in exact.values()) == 7 and exact["a"][0] == 0
    # OpenLTH: tau = sorted[2] = 2.0, keep |w| > 2: all three 2.0s go as well
    thr = masks.global_masks("magnitude", w, w, m, 0.2, "threshold", g)
    assert thr["a"].tolist() == [0, 0, 1, 1] and thr["b"].tolist() == [0, 0, 1, 1, 1]
    assert masks.prune_count(0.2, 266_200) == 53_240  # not 53,241 from the float product


def test_ignored_output_layer_counts_but_is_not_pruned():
    """OpenLTH's rule with pruning_layers_to_ignore, by hand: a = |1 2 3 4 5|, the ignored
    output layer out = |0.1 0.2 0.3 0.4 0.5| (smaller than everything in a). n = ceil(0.2 x
    10 remaining, out included) = 2; tau = sorted(a)[2] = 3, keep a > 3: 1, 2, 3 go (n + 1)
    and out keeps all five. Exact counts: the n = 2 smallest of a."""
    w = {"a": torch.tensor([1.0, -2.0, 3.0, 4.0, 5.0]),
         "out": torch.tensor([0.1, -0.2, 0.3, 0.4, 0.5])}
    m = {n: torch.ones_like(t) for n, t in w.items()}
    g = torch.Generator().manual_seed(0)
    thr = masks.global_masks("magnitude", w, w, m, 0.2, "threshold", g, ignore=["out"])
    assert thr["a"].tolist() == [0, 0, 0, 1, 1] and thr["out"].tolist() == [1] * 5
    exact = masks.global_masks("magnitude", w, w, m, 0.2, "exact", g, ignore=["out"])
    assert exact["a"].tolist() == [0, 0, 1, 1, 1] and exact["out"].tolist() == [1] * 5
    # Pooled over a alone, as lt_core counted before: n = ceil(0.2 x 5) = 1, tau = 2.
    alone = masks.global_masks("magnitude", {"a": w["a"]}, {"a": w["a"]}, {"a": m["a"]}, 0.2,
                               "threshold", g)
    assert alone["a"].tolist() == [0, 0, 1, 1, 1]
    # Next level: a keeps 4, 5 (2 left) and out 5: 7 remain, n = ceil(1.4) = 2 >= a's 2
    # unpruned entries, so both go; out is still whole.
    nxt = masks.global_masks("magnitude", w, w, thr, 0.2, "threshold", g, ignore=["out"])
    assert nxt["a"].tolist() == [0] * 5 and nxt["out"].tolist() == [1] * 5


def test_keep_a_reference_total_exactly():
    """H21's global random: exactly as many kept in all as its ticket, in either count mode of
    the ticket (the threshold rule prunes n + 1 or more)."""
    w = {"a": torch.tensor([1.0, 2.0, 3.0, 4.0]), "b": torch.tensor([2.0, 2.0, 5.0, 6.0, 7.0])}
    m = {n: torch.ones_like(t) for n, t in w.items()}
    ticket = masks.global_masks("magnitude", w, w, m, 0.2, "threshold", torch.Generator())
    kept = sum(int(t.sum()) for t in ticket.values())
    assert kept == 5  # 1.0 and the three 2.0s go: n + 2
    for seed in range(5):
        rand = masks.global_masks("random", w, w, m, 0.2, "threshold",
                                  torch.Generator().manual_seed(seed), keep=kept)
        assert sum(int(t.sum()) for t in rand.values()) == kept
    with pytest.raises(ValueError, match="cannot keep 10"):
        masks.global_masks("random", w, w, m, 0.2, "exact", torch.Generator(), keep=10)


def test_importance_scores_are_ranked_in_float64():
    """SoftMax scores of a Kaiming-scale layer differ below float32 precision: rounded to
    float32 they tie, and the threshold rule prunes more than n + 1 (it did in 5-10% of
    fresh layers). Ranked in float64, every layer loses exactly n + 1."""
    rounded = 0
    for seed in range(40):
        w = torch.randn(300, 100, generator=torch.Generator().manual_seed(seed)) * 0.08
        m = {"w": torch.ones_like(w)}
        s = criteria.importance("softmax", w, m["w"])
        assert s.dtype == torch.float64
        n = masks.prune_count(0.2, w.numel())
        got = masks.global_masks("softmax", {"w": w}, {"w": w}, m, 0.2, "threshold",
                                 torch.Generator())
        assert w.numel() - int(got["w"].sum()) == n + 1
        s32 = s.float().flatten()
        rounded += int((s32 <= s32.sort().values[n]).sum()) > n + 1
    assert rounded > 0  # the float32 ranking would have pruned extra weights


def test_reference_counts_within_each_layer():
    w = {"a": torch.tensor([4.0, -3.0, 2.0, 1.0]), "b": torch.tensor([1.0, 2.0, 3.0])}
    m = {"a": torch.ones(4), "b": torch.tensor([1.0, 1.0, 0.0])}
    g = torch.Generator().manual_seed(0)
    lpr = masks.reference_masks("magnitude", w, w, m, {"a": 2, "b": 1}, g)
    assert lpr["a"].tolist() == [1, 1, 0, 0] and lpr["b"].tolist() == [0, 1, 0]  # nested
    rand = masks.reference_masks("random", w, w, m, {"a": 3, "b": 2}, g)
    assert int(rand["a"].sum()) == 3 and rand["b"].tolist() == [1, 1, 0]
    with pytest.raises(ValueError, match="keeps 3 weights but only 2 remain"):
        masks.reference_masks("random", w, w, m, {"a": 3, "b": 3}, g)


@pytest.fixture(scope="module")
def loop_store(tmp_path_factory):
    """Global magnitude (L23's threshold rule) and L2, rewound to iteration 6, plus a
    preserve-LPR run that follows the magnitude run: 2 levels, one population each."""
    toy = synthetic({"train": 64, "val": 0, "test": 32}, shape=(1, 6, 6)).with_options("none")
    model = models.build("lenet_300_100", toy.input_shape)
    train = Train(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, epochs=3,
                  last_batch="keep", eval_every=4)
    store = RunStore(tmp_path_factory.mktemp("runs"))
    arms = {"magnitude": Arm("magnitude", selection="global", count="threshold"),
            "l2": Arm("l2", selection="global", count="threshold")}
    runs = [loop.Run({"kind": "test", "model": "lenet_300_100", "arm": n, "seed": 0}, 0, arm,
                        train, rewind_iteration=6, keep_final=True) for n, arm in arms.items()]
    keys = loop.prune_loop(model, toy, runs, 2, store, torch.device("cpu"), progress=False)
    follower = loop.Run({"kind": "test", "model": "lenet_300_100", "arm": "lpr", "seed": 1}, 1,
                           Arm("random", selection="reference"), train, reference=keys[0])
    keys += loop.prune_loop(model, toy, [follower], 2, store, torch.device("cpu"),
                               progress=False)
    return store, keys, model


def test_global_levels_prune_ceil_fifth_of_what_remains(loop_store):
    store, keys, model = loop_store
    total = models.count_prunable(model)
    remaining = total
    mask = {n: torch.ones(p.shape) for n, p in model.named_parameters() if n in model.prune_rates}
    for level in range(3):
        final = store.tensors(keys[0], level)["final"]
        pooled = torch.cat([final[n].abs()[m.bool()] for n, m in mask.items()])
        n = masks.prune_count(0.2, remaining)
        expected = remaining - int((pooled <= pooled.sort().values[n]).sum())  # by hand
        mask = store.masks(keys[0], level)
        kept = sum(int(m.sum()) for m in mask.values())
        assert kept == expected and remaining - kept >= n + 1  # threshold: n + 1 or more go
        remaining = kept


def test_rewind_point_is_trained_once_and_every_level_starts_there(loop_store):
    store, keys, model = loop_store
    points = [k for k in store.keys() if store.config(k)["kind"] == "rewind_point"]
    assert len(points) == 1 and store.config(points[0])["iteration"] == 6  # shared by measures
    state_k = store.tensors(points[0], 0)["state"]
    for key in keys[:2]:
        level = store.level(key, 1)
        assert level.iterations[0] == 6 and "final" in level.tensors  # from k; weights kept
        # biases (never pruned) restart from the state at k at every level
        assert not torch.equal(store.tensors(key, 1)["final"]["fc.bias"], state_k["fc.bias"])
    # the measures share level 0 (same start, mask and data): identical results
    a, b = (store.level(k, 0).test_acc_at_end for k in keys[:2])
    assert a == b


def test_preserve_lpr_follows_the_reference_counts(loop_store):
    store, keys, _ = loop_store
    for level in range(3):
        ref, got = store.masks(keys[0], level), store.masks(keys[2], level)
        for name in ref:
            assert int(got[name].sum()) == int(ref[name].sum())


def test_an_impossible_rewind_point_fails_before_anything_is_written(tmp_path):
    toy = synthetic({"train": 64, "val": 0, "test": 32}, shape=(1, 6, 6)).with_options("none")
    model = models.build("lenet_300_100", toy.input_shape)
    train = Train(optimizer="sgd", lr=0.05, batch_size=16, epochs=2, eval_every=4)
    run = loop.Run({"kind": "test", "model": "lenet_300_100", "seed": 0}, 0,
                      Arm("magnitude", selection="global"), train, rewind_iteration=8)
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ValueError, match="rewind_iteration 8 must be >= 0 and before the end"):
        loop.prune_loop(model, toy, [run], 1, store, torch.device("cpu"), progress=False)
    assert not (tmp_path / "runs").exists()


def test_a_given_initial_state_keys_the_run_and_its_rewind_point(tmp_path):
    """``Run.init``: the state training starts from instead of the seed's init. Its content
    hash enters the run's key and the rewind point's: the seed's own init given explicitly
    trains exactly as the default (another key), a different init differently."""
    toy = synthetic({"train": 64, "val": 0, "test": 32}, shape=(1, 6, 6)).with_options("none")
    model = models.build("lenet_300_100", toy.input_shape)
    train = Train(optimizer="sgd", lr=0.05, batch_size=16, epochs=2, eval_every=4)
    own, other = models.initial_state(model, 0), models.initial_state(model, 7)
    runs = [loop.Run({"kind": "test", "model": "lenet_300_100", "seed": 0}, 0,
                        Arm("magnitude", selection="global", count="threshold"), train,
                        rewind_iteration=3, init=init) for init in (None, own, other)]
    store = RunStore(tmp_path / "runs")
    keys = loop.prune_loop(model, toy, runs, 0, store, torch.device("cpu"), progress=False)
    assert len(set(keys)) == 3 and store.config(keys[1])["init"] == loop.state_hash(own)
    points = [k for k in store.keys() if store.config(k)["kind"] == "rewind_point"]
    assert len(points) == 3  # one per initial state
    acc = [store.level(k, 0).metrics["test_loss"][-1] for k in keys]
    assert acc[0] == acc[1] != acc[2]


def test_layer_collapse_by_hand():
    ones = {"a": torch.ones(3, 4), "b": torch.ones(2, 3)}
    assert masks.collapsed(ones) == []
    assert masks.collapsed({**ones, "b": torch.zeros(2, 3)}) == ["b"]
    # a keeps weights into hidden unit 0 only, b reads hidden units 1 and 2 only: no path
    a = torch.zeros(3, 4)
    a[0] = 1
    b = torch.zeros(2, 3)
    b[:, 1:] = 1
    assert masks.collapsed({"a": a, "b": b}) == ["a", "b"]
    b[0, 0] = 1  # one path through unit 0
    assert masks.collapsed({"a": a, "b": b}) == []
    conv = {"c": torch.ones(4, 3, 3, 3), "d": torch.zeros(2, 4, 1, 1)}
    assert masks.collapsed(conv) == ["d"]


def test_l23_lenet_with_openlths_output_rule_at_tiny_scale(tmp_path):
    """ignore_output_layer on a tiny LeNet run: no output weight is ever pruned, and each
    level removes exactly what OpenLTH's rule removes from the same pool (n + 1 of the pooled
    layers, n = ceil(0.2 x remaining over the whole mask), magnitude has no ties here)."""
    from lt_core import config

    cfg = config.load({"train": {"iterations": 10, "eval_every": 10}, "levels": 3,
                       "seeds": [0], "measures": ["magnitude", "l1"], "store": str(tmp_path),
                       "overlap": {"measures": ["magnitude", "l1"], "level": 2,
                                   "reinit_seeds": []}, "ignore_output_layer": True},
                      l23.Layerwise)
    result = l23.run(cfg, progress=False)
    for key in result.runs["key"]:
        remaining = 266_200
        for level in range(3):
            nxt = result.store.masks(key, level)
            assert nxt["fc.weight"].all()
            kept = sum(int(m.sum()) for m in nxt.values())
            assert remaining - kept == masks.prune_count(0.2, remaining) + 1
            remaining = kept
    assert "never pruned but counted in the remaining weights" in result.describe("tiny")
    assert not [d for d in result.departures() if d.what == "output layer"]  # L23's, for LeNet
    pruned = config.load({"ignore_output_layer": False}, l23.Layerwise)
    info = {"lenet_300_100": result.data["lenet_300_100"]}
    other = l23.LayerwiseResult(pruned, result.runs, info, "cpu", result.store)
    assert ("lenet_300_100 output layer pruned instead of not pruned (OpenLTH's rule)"
            in map(str, other.network_departures("lenet_300_100")))
