"""Comparisons between lines of a figure: significance stars and the claims' statistic.

Pure functions on the tidy summaries (one row per run and level). A star marks a level where
one of a pair of lines beats the other by a one-sided Welch t-test at p < 0.05 over seeds
(NeurIPS supplement Figs. S1, S4; the test: paper_specs.md decision 14).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

ALPHA = 0.05


def beats(a: np.ndarray, b: np.ndarray, alpha: float = ALPHA) -> bool:
    """Mean of ``a`` greater than mean of ``b``: one-sided Welch t-test, p < alpha.

    With fewer than two values on either side there is no variance to test: never. An exact
    tie (the same values) is never a win, whatever rounding does to the two means.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or np.array_equal(np.sort(a), np.sort(b)):
        return False
    if a.mean() <= b.mean():
        return False
    if a.std() == 0 and b.std() == 0:  # both exact: t is infinite
        return True
    with warnings.catch_warnings():  # scipy warns on near-identical samples; the test stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return bool(sps.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue < alpha)


def pairwise_stars(summary: pd.DataFrame, pair: tuple[str, str],
                   metric: str = "test_acc_at_early_stop", higher_is_better: bool = True
                   ) -> pd.DataFrame:
    """Levels where one line of ``pair`` beats the other (the figures' stars): columns level,
    percent_remaining, member (the winner), value (its mean)."""
    ok = summary[~summary["failed"] & summary["line"].isin(pair)]
    sign = 1 if higher_is_better else -1
    out = []
    for level, g in ok.groupby("level"):
        values = {m: sign * v[metric].to_numpy() for m, v in g.groupby("line")}
        if len(values) < 2:
            continue
        for winner, loser in (pair, pair[::-1]):
            if beats(values[winner], values[loser]):
                out.append({"level": level, "percent_remaining": g["percent_remaining"].mean(),
                            "line": winner, "value": g[g["line"] == winner][metric].mean()})
    return pd.DataFrame(out, columns=["level", "percent_remaining", "line", "value"])


def sparse_levels(summary: pd.DataFrame) -> list[int]:
    """The sparser half of the pruned levels reached (where the papers' lines separate):
    levels above half the last one; all levels when there are at most two."""
    ok = summary[~summary["failed"] & (summary["level"] > 0)]
    if ok.empty:
        ok = summary[~summary["failed"]]
    if ok.empty:  # every run failed: no level has a value
        return []
    levels = sorted(ok["level"].unique())
    last = levels[-1]
    return [int(r) for r in levels if r > last / 2] if last > 1 else [int(r) for r in levels]


def sparse_mean(summary: pd.DataFrame, metric: str = "test_acc_at_early_stop") -> pd.Series:
    """Per member: the mean of ``metric`` over ``sparse_levels``, all seeds pooled."""
    ok = summary[~summary["failed"] & summary["level"].isin(sparse_levels(summary))]
    return ok.groupby("line")[metric].mean()


def sparse_mean_per_seed(summary: pd.DataFrame, metric: str = "test_acc_at_early_stop"
                         ) -> dict[str, dict[int, float]]:
    """Per member and seed: the mean of ``metric`` over ``sparse_levels`` (the values the
    claims pair over seeds)."""
    ok = summary[~summary["failed"] & summary["level"].isin(sparse_levels(summary))]
    means = ok.groupby(["line", "seed"])[metric].mean()
    out: dict[str, dict[int, float]] = {}
    for (member, seed), v in means.items():
        out.setdefault(member, {})[int(seed)] = float(v)
    return out
