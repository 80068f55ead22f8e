"""Comparisons between lines of a figure: significance stars and claimed orderings.

Pure functions on the tidy summaries (one row per run and round). A star marks a round where
one line beats every other line by a one-sided Welch t-test at p < 0.05 over seeds
(paper_specs.md decision 14).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

ALPHA = 0.05


def beats(a: np.ndarray, b: np.ndarray, alpha: float = ALPHA) -> bool:
    """Mean of ``a`` greater than mean of ``b``: one-sided Welch t-test, p < alpha.

    With fewer than two values on either side there is no variance to test: never.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2 or a.mean() <= b.mean():
        return False
    if a.std() == 0 and b.std() == 0:  # both exact: t is infinite
        return True
    with warnings.catch_warnings():  # scipy warns on near-identical samples; the test stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return bool(sps.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue < alpha)


def stars(summary: pd.DataFrame, metric: str = "test_acc_at_early_stop",
          higher_is_better: bool = True) -> pd.DataFrame:
    """Rounds where one member beats all others: columns round, percent_remaining, member,
    value (its mean)."""
    ok = summary[~summary["failed"]]
    out = []
    for rnd, g in ok.groupby("round"):
        values = {m: v[metric].to_numpy() * (1 if higher_is_better else -1)
                  for m, v in g.groupby("member")}
        if len(values) < 2:
            continue
        best = max(values, key=lambda m: values[m].mean())
        if all(beats(values[best], v) for m, v in values.items() if m != best):
            out.append({"round": rnd, "percent_remaining": g["percent_remaining"].mean(),
                        "member": best, "value": g[g["member"] == best][metric].mean()})
    return pd.DataFrame(out, columns=["round", "percent_remaining", "member", "value"])


def sparse_mean(summary: pd.DataFrame, metric: str = "test_acc_at_early_stop") -> pd.Series:
    """Per member: the mean of ``metric`` over the sparser half of the pruned rounds (where
    the papers' lines separate), all seeds pooled."""
    ok = summary[~summary["failed"] & (summary["round"] > 0)]
    if ok.empty:
        ok = summary[~summary["failed"]]
    if ok.empty:  # every run failed: no member has a value
        return pd.Series(dtype=float)
    last = int(ok["round"].max())
    sparse = ok[ok["round"] > last / 2] if last > 1 else ok
    return sparse.groupby("member")[metric].mean()


def ordering(values: pd.Series | dict, groups: list[list[str]]) -> bool:
    """True when every member of each group is above every member of the next group."""
    for upper, lower in zip(groups, groups[1:]):
        if min(values[m] for m in upper) <= max(values[m] for m in lower):
            return False
    return True


def describe_ordering(values: pd.Series | dict, groups: list[list[str]], unit: str = "%"
                      ) -> str:
    """One sentence: the claimed ordering, whether it holds, and the numbers behind it."""
    claim = " > ".join(" and ".join(f"`{m}`" for m in g) for g in groups)
    numbers = ", ".join(f"`{m}` {100 * values[m]:.2f}{unit}" for g in groups for m in g)
    verdict = "holds" if ordering(values, groups) else "does **not** hold"
    return f"The ordering {claim} {verdict} in this run ({numbers})."
