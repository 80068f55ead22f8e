"""The verdict model (lt_core.verdicts) on hand-built numbers."""

import numpy as np
import pytest

from lt_core import verdicts


def test_above_needs_the_paired_differences_beyond_their_spread():
    v = verdicts.above({0: 0.92, 1: 0.93, 2: 0.925}, {0: 0.90, 1: 0.91, 2: 0.905}, ("a", "b"))
    assert v.holds is True and "+2.00 pp ± 0.00 (n = 3 seeds)" in v.statistic
    # mean +0.09 pp but one seed +0.57 and two below: inside the spread
    v = verdicts.above({0: 0.9057, 1: 0.8982, 2: 0.8988}, {0: 0.9, 1: 0.9, 2: 0.9}, ("a", "b"))
    assert v.holds is False and "95% lower bound" in v.statistic
    # the other way round fails too
    assert verdicts.above({0: 0.8, 1: 0.81}, {0: 0.9, 1: 0.91}, ("a", "b")).holds is False


def test_lower_bound_by_hand():
    # d = 1, 2, 3: mean 2, sd 1, t_0.95,2 = 2.919986: 2 - 2.919986 / sqrt(3) = 0.31414
    assert verdicts.lower_bound(np.array([1.0, 2.0, 3.0])) \
        == pytest.approx(0.314143, abs=1e-5)


def test_one_seed_or_no_common_seed_is_not_judged():
    v = verdicts.above({0: 0.9}, {0: 0.8}, ("a", "b"))
    assert v.holds is None and "one seed" in v.why
    v = verdicts.above({0: 0.9}, {1: 0.8}, ("a", "b"))
    assert v.holds is None and "runs failed" in v.why
    v = verdicts.above({0: 0.9, 1: float("nan")}, {0: 0.8, 1: 0.7}, ("a", "b"))
    assert v.holds is None  # the failed seed is left out, one remains


def test_close_within_one_point():
    assert verdicts.close({0: 0.900, 1: 0.905}, {0: 0.895, 1: 0.897}, ("a", "b")).holds
    assert not verdicts.close({0: 0.92, 1: 0.93}, {0: 0.90, 1: 0.91}, ("a", "b")).holds


def test_parts_and_levels():
    yes, no = verdicts.Verdict(True, "x"), verdicts.Verdict(False, "y")
    maybe = verdicts.not_judged("why")
    assert verdicts.all_of([("p", yes), ("q", yes)]).holds is True
    assert verdicts.all_of([("p", yes), ("q", no)]).holds is False
    assert verdicts.all_of([("p", no), ("q", maybe)]).holds is False
    v = verdicts.all_of([("p", yes), ("q", maybe)])
    assert v.holds is None and v.why == "why"
    v = verdicts.all_of([("p", verdicts.not_judged("a")), ("q", maybe)])
    assert v.why == "p (a); q (why)"
    v = verdicts.all_of([])  # no part: no verdict (it would otherwise hold by default)
    assert v.holds is None and v.why == "none of its parts could be computed"
    v = verdicts.at_each_level({1: yes, 2: no, 3: maybe})
    assert v.holds is False and v.statistic.startswith("holds at 1 of 2 levels judged (1 not")
    assert verdicts.at_each_level({1: yes, 2: yes}).holds is True
    assert verdicts.at_each_level({1: maybe}).holds is None


def test_words_depend_on_the_scale():
    yes, no = verdicts.Verdict(True, ""), verdicts.Verdict(False, "")
    assert verdicts.word(yes, True, "paper") == "reproduced"
    assert verdicts.word(no, True, "paper") == "not reproduced"
    assert verdicts.word(yes, False, "quick") == "holds at quick scale"
    assert verdicts.word(no, False, "tiny") == "does not hold at tiny scale"
    assert verdicts.word(verdicts.not_judged("runs failed"), True, "p") == \
        "not judged: runs failed"
    assert verdicts.word(verdicts.not_testable("the paper's std is 47.6"), True, "p") == \
        "not testable: the paper's std is 47.6"


def test_split_seeds():
    assert verdicts.split_seeds([2, 0, 1]) == ([0], [1, 2])
    assert verdicts.split_seeds([0, 1, 2, 3]) == ([0, 1], [2, 3])
    assert verdicts.split_seeds([5]) == ([5], [])
