"""L23's analyses (lt_core.papers.l23.analysis) on hand-built masks and weights, expectations worked out
by hand."""

import math

import pandas as pd
import pytest
import torch

from lt_core.papers import l23


def t(*values):
    return torch.tensor(values, dtype=torch.float32)


def test_layer_sparsity_per_tensor_and_overall():
    f = l23.analysis.layer_sparsity({"a": t(1, 0, 0, 0), "b": t(1, 1, 1, 0)}).set_index("layer")
    assert f["kept"].tolist() == [1, 3, 4] and f["depth"].tolist() == [0, 1, 2]
    assert f["lpr_pct"].tolist() == [75.0, 25.0, 50.0]  # all: 4 of 8 kept


M1 = {"a": t(1, 1, 0, 0), "b": t(1, 0)}
M2 = {"a": t(1, 0, 1, 0), "b": t(1, 1)}


def test_overlap_of_two_tickets_and_chance():
    o = l23.analysis.overlap_mask([M1, M2])
    assert o["a"].tolist() == [1, 0, 0, 0] and o["b"].tolist() == [1, 0]
    f = l23.analysis.overlap({"m1": M1, "m2": M2}).set_index(["measure", "layer"])
    assert f.loc[("m1", "all"), ["numel", "kept", "overlap"]].tolist() == [6, 3, 2]
    assert f.loc[("m1", "all"), "pct_of_connections"] == pytest.approx(100 * 2 / 6)
    # % of each ticket: m1 keeps 2 + 1, m2 2 + 2; the overlap is 1 + 1
    assert f["pct_of_ticket"].tolist() == pytest.approx([50, 100, 200 / 3, 50, 50, 50])
    # chance: the other ticket's density in the tensor (a: 2/4, b: m2 2/2 and m1 1/2; all:
    # m2 4/6, m1 3/6)
    assert f["chance_pct_of_ticket"].tolist() == pytest.approx([50, 100, 200 / 3, 50, 50, 50])


def test_stability_std_and_sign_flips_over_levels():
    finals = [{"a": t(1, 1, 0.5, 9)}, {"a": t(1, -1, 0.0, 9)}, {"a": t(1, 1, 0.5, -9)}]
    ticket, overlap = {"a": t(1, 1, 1, 0)}, {"a": t(1, 0, 0, 0)}
    f = l23.analysis.stability(finals, ticket, overlap)  # the pruned 4th entry is not in it
    assert f["index"].tolist() == [0, 1, 2] and f["in_overlap"].tolist() == [True, False, False]
    # population std: [1,1,1] 0; [1,-1,1] sqrt(8/9); [.5,0,.5] sqrt(1/18)
    assert f["std"].tolist() == pytest.approx([0, math.sqrt(8 / 9), math.sqrt(1 / 18)])
    assert f["sign_flip"].tolist() == [False, True, True]  # 0 is a sign of its own
    s = l23.analysis.stability_summary(f).set_index(["layer", "in_overlap"])
    assert s.loc[("all", False), "connections"] == 2
    assert s.loc[("all", False), "mean_std"] == pytest.approx((math.sqrt(8 / 9)
                                                              + math.sqrt(1 / 18)) / 2)
    assert s.loc[("all", False), "sign_flip_pct"] == 100.0
    assert s.loc[("a", True), "sign_flips"] == 0


def test_movement_of_ticket_connections():
    f = l23.analysis.movement(t(1, -1, 2), t(1.5, -3, 2), ticket=t(1, 1, 0), overlap=t(1, 0, 0))
    assert f.values.tolist() == [[True, 1.0, 1.5, 0.5], [False, -1.0, -3.0, 2.0]]


def test_partial_reinit_keeps_the_overlap_and_every_unprunable_tensor():
    init = {"w": t(1, 2, 3), "bias": t(9)}
    fresh = {"w": t(7, 8, 9), "bias": t(0)}
    got = l23.analysis.partial_reinit(init, fresh, {"w": t(1, 0, 1)})
    assert got["w"].tolist() == [1, 8, 3] and got["bias"].tolist() == [9]


def test_reinit_overlap_observed_vs_expected():
    overlap = {"a": t(1, 1, 0, 0), "c": t(1, 1, 0, 0, 0, 0, 0, 0, 0, 0)}
    ticket = {"a": t(1, 0, 1, 0), "c": t(1, 1, 1, 1, 1, 0, 0, 0, 0, 0)}
    f = l23.analysis.reinit_overlap(overlap, ticket).set_index("layer")
    # a: 1 observed, 2 * 2 / 4 = 1 expected: +0%; c: both kept, 2 * 5 / 10 = 1: +100%
    assert f["observed"].tolist() == [1, 2, 3] and f["expected"].tolist() == [1, 1, 2]
    assert f["increase_pct"].tolist() == pytest.approx([0, 100, 50])
    two = f.reset_index().assign(measure="m", reinit_seed=0)
    s = l23.analysis.reinit_summary(pd.concat(
        [two, two.assign(reinit_seed=1, increase_pct=two["increase_pct"] + 10)]))
    assert s["increase_pct"].tolist() == pytest.approx([5, 105, 55])
    assert s["increase_min"].tolist() == pytest.approx([0, 100, 50]) and s["reinits"].eq(2).all()


def test_extreme_range_of_normal_draws():
    # one draw: its own quantiles, +-2.326 std at 1% / 99%
    lo, hi = l23.analysis.extreme_range(2.0, 1)
    assert (lo, hi) == pytest.approx((-2 * 2.3263479, 2 * 2.3263479))
    # the larger of two draws is below 0 with probability 1/4
    assert l23.analysis.extreme_range(1.0, 2, q=0.25)[0] == pytest.approx(0.0, abs=1e-12)
    # the maximum of many draws grows like sqrt(2 ln n)
    lo, hi = l23.analysis.extreme_range(1.0, 9408)
    assert 3.2 < lo < hi < 4.8
