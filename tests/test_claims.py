"""Stars and claims on hand-built summaries (one row per run and round)."""

import pandas as pd

from lt_core import claims, stats


def summary(values: dict[str, dict[int, list[float]]]) -> pd.DataFrame:
    """member -> round -> one test accuracy per seed."""
    return pd.DataFrame([
        {"model": "fc", "member": m, "round": r, "seed": s, "percent_remaining": 100 * 0.8 ** r,
         "test_acc_at_early_stop": v, "early_stop_iteration": 100, "failed": False}
        for m, per_round in values.items() for r, vals in per_round.items()
        for s, v in enumerate(vals)])


def test_welch_needs_two_values_a_higher_mean_and_no_tie():
    assert not stats.beats([0.9], [0.1, 0.2])
    assert not stats.beats([0.1, 0.2], [0.5, 0.6])
    assert stats.beats([0.9, 0.91, 0.9], [0.1, 0.12, 0.11])
    assert stats.beats([0.9, 0.9], [0.5, 0.5])  # both exact, different: t is infinite
    assert not stats.beats([0.5, 0.5], [0.5, 0.5])  # an exact tie is never a win
    assert not stats.beats([0.1, 0.7, 0.2], [0.7, 0.2, 0.1])  # same values, other order


def test_pairwise_stars_mark_the_winner_of_the_pair_only():
    frame = summary({
        "a": {0: [0.5, 0.5, 0.5], 1: [0.9, 0.91, 0.92], 2: [0.5, 0.52, 0.51]},
        "b": {0: [0.5, 0.5, 0.5], 1: [0.5, 0.52, 0.51], 2: [0.9, 0.91, 0.92]},
        "c": {0: [0.5, 0.5, 0.5], 1: [0.99, 0.99, 0.99], 2: [0.99, 0.99, 0.99]},
    })
    star = stats.pairwise_stars(frame, ("a", "b"))
    # Round 0: an exact tie, no star; round 1: a beats b; round 2: b beats a. Line c, above
    # both, is not part of the pair and never starred.
    assert star[["round", "member"]].values.tolist() == [[1, "a"], [2, "b"]]
    assert star["value"].round(2).tolist() == [0.91, 0.91]
    # The early-stopping iteration panel: lower is better.
    lower = stats.pairwise_stars(frame, ("a", "b"), higher_is_better=False)
    assert lower[["round", "member"]].values.tolist() == [[1, "b"], [2, "a"]]


def test_claims_compare_the_mean_over_the_sparser_half_of_the_rounds():
    frame = summary({
        "large_final": {0: [0.9, 0.9], 1: [0.5, 0.5], 2: [0.9, 0.9], 3: [0.8, 0.8], 4: [0.8, 0.8]},
        "random": {0: [0.9, 0.9], 1: [0.9, 0.9], 2: [0.9, 0.9], 3: [0.7, 0.7], 4: [0.75, 0.75]},
        "small_final": {0: [0.9, 0.9], 1: [0.9, 0.9], 2: [0.9, 0.9], 3: [0.1, 0.1],
                        4: [0.1, 0.1]},
    })
    assert stats.sparse_rounds(frame) == [3, 4]  # above half of the last round (4)
    table = claims.check(frame, "01_mask_criteria")
    # magnitude_increase and the sign criteria did not run: their claims are left out.
    assert list(table.index) == ["large_final > random", "random > small_final"]
    assert table["holds"].tolist() == [True, True]  # 0.80 > 0.725 > 0.10; round 1 ignored
    assert table["this build"].tolist() == ["80.00, 72.50", "72.50, 10.00"]
    assert table["statistic"].iloc[0] == "mean test acc. at early stop: rounds 3-4, 2 seeds"


def test_close_claims_allow_one_percentage_point():
    close = claims.Claim(("a", "b"), "here", "close")
    assert close.holds(pd.Series({"a": 0.900, "b": 0.891}))
    assert not close.holds(pd.Series({"a": 0.900, "b": 0.889}))
    above = claims.Claim(("a", "b", "c"), "here")
    assert above.holds(pd.Series({"a": 0.9, "b": 0.8, "c": 0.7}))
    assert not above.holds(pd.Series({"a": 0.9, "b": 0.8, "c": 0.8}))
