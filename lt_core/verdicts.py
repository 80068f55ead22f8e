"""One verdict model for the three papers' claims.

A claim is a small function from a result to a ``Verdict``: whether it holds, the statistic
behind it in words, and, when it cannot be judged, why. Orderings are judged with their
seeds, by one rule (``RULE``, printed on the scorecard page):

* **A > B** holds when the paired differences A - B over seeds (each seed's mean over the
  levels both have) are positive beyond the seeds' spread: a one-sided paired t-test at 5%
  (``ALPHA``), i.e. the lower end of the one-sided 95% confidence interval of the mean
  difference is above 0. One seed has no spread: not judged.
* **A ≈ B** holds when the mean paired difference is within ``CLOSE_PP`` points.
* A claim with parts holds only if every part holds (each part's statistic is shown).
* A claim about the best of a grid chooses the best on the first half of the seeds and
  judges it on the others (``split_seeds``), so that the maximum of more noisy numbers does
  not win by being a maximum.

A verdict becomes a word only with the scale it was reached at (``word``): *reproduced* or
*not reproduced* at the papers' settings, *holds at quick scale* or *does not hold at quick
scale* elsewhere; *not judged: why* and *not testable: why* anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

ALPHA = 0.05
CLOSE_PP = 1.0
RULE = ("An ordering “A > B” holds when, over seeds, the paired differences A − B (each "
        "seed's mean over the levels both sides have) are positive beyond the seeds' spread: "
        "a one-sided paired t-test at 5%, equivalently the lower end of the one-sided 95% "
        "confidence interval of the mean difference above 0; with one seed there is no "
        "spread and the ordering is not judged. “A ≈ B” holds when the mean difference is "
        f"within {CLOSE_PP:g} percentage point. A claim with several parts holds only if "
        "every part does. “Best of a grid” comparisons choose the best pair on the first "
        "half of the seeds and judge it on the others, so that a maximum over more noisy "
        "numbers does not win for being a maximum. “At each level” claims are judged at "
        "each level and say at how many they hold. Only a claim checked at the papers' "
        "settings can be reproduced; elsewhere it holds or does not hold at the scale named.")

Seeds = Mapping[int, float]  # seed -> value (a fraction: accuracy 0..1, or a ratio)


@dataclass(frozen=True)
class Verdict:
    holds: bool | None  # None: no verdict (``status`` says which kind, ``why`` why)
    statistic: str  # the numbers behind the verdict, both sides labelled
    why: str = ""
    # For holds None: "not judged" (runs failed, too few seeds), "not testable" (the claim
    # cannot fail here, e.g. a tolerance of 0-100%) or "not run" (not in this build).
    status: str = "not judged"

    @property
    def judged(self) -> bool:
        return self.holds is not None

    @property
    def testable(self) -> bool:
        return self.status != "not testable"


def not_judged(why: str, statistic: str = "") -> Verdict:
    return Verdict(None, statistic, why)


def not_testable(why: str, statistic: str = "") -> Verdict:
    return Verdict(None, statistic, why, "not testable")


def not_run(why: str) -> Verdict:
    return Verdict(None, "", why, "not run")


def word(v: Verdict, paper_settings: bool, scale: str) -> str:
    """The verdict in the book's one vocabulary."""
    if v.holds is None:
        return f"{v.status}: {v.why}"
    if paper_settings:
        return "reproduced" if v.holds else "not reproduced"
    return f"{'holds' if v.holds else 'does not hold'} at {scale} scale"


def paired(a: Seeds, b: Seeds) -> tuple[np.ndarray, list[int]]:
    """The differences a - b over the seeds both sides have (finite), and those seeds."""
    seeds = sorted(s for s in set(a) & set(b)
                   if np.isfinite(a[s]) and np.isfinite(b[s]))
    return np.array([a[s] - b[s] for s in seeds], dtype=float), seeds


def _pp(x: float) -> str:
    return f"{100 * x:+.2f} pp"


def _summary(d: np.ndarray) -> str:
    if len(d) == 1:
        return f"{_pp(d[0])} (1 seed)"
    return f"{_pp(d.mean())} ± {100 * d.std(ddof=1):.2f} (n = {len(d)} seeds)"


def above(a: Seeds, b: Seeds, names: tuple[str, str], alpha: float = ALPHA,
          min_pp: float = 0.0) -> Verdict:
    """A > B beyond the seeds' spread: a one-sided paired t-test at ``alpha`` (a family of
    m comparisons passes alpha / m); ``min_pp``: and by at least that many points on
    average (a claim of a substantial difference)."""
    d, _ = paired(a, b)
    stat = (f"{names[0]} − {names[1]}: " + _summary(d)) if len(d) else ""
    if len(d) == 0:
        return not_judged("no seed has both sides (runs failed)", stat)
    if len(d) == 1:
        return not_judged("one seed: no spread to judge the difference against", stat)
    level = f"{100 * (1 - alpha):.4g}%"
    lower = lower_bound(d, alpha)
    stat += f"; {level} lower bound {_pp(lower)}"
    if min_pp:
        stat += f"; at least {min_pp:g} pp needed"
    return Verdict(bool(lower > 0 and 100 * d.mean() >= min_pp), stat)


def mean_of(values: Seeds) -> float:
    finite = [v for v in values.values() if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def lower_bound(d: np.ndarray, alpha: float = ALPHA) -> float:
    """The one-sided (1 - alpha) lower confidence bound of the mean of ``d`` (Student t)."""
    n = len(d)
    sd = d.std(ddof=1)
    if sd == 0:
        return float(d.mean())
    return float(d.mean() - sps.t.ppf(1 - alpha, n - 1) * sd / math.sqrt(n))


def close(a: Seeds, b: Seeds, names: tuple[str, str], tolerance_pp: float = CLOSE_PP
          ) -> Verdict:
    """A ≈ B: the mean paired difference within ``tolerance_pp`` points."""
    d, _ = paired(a, b)
    if len(d) == 0:
        return not_judged("no seed has both sides (runs failed)")
    stat = f"{names[0]} − {names[1]}: {_summary(d)}; tolerance ±{tolerance_pp:g} pp"
    return Verdict(bool(abs(100 * d.mean()) <= tolerance_pp), stat)


def all_of(parts: Iterable[tuple[str, Verdict]]) -> Verdict:
    """A claim of several parts: holds if every part holds; not judged if a part is not
    judged and none fails; the statistic names each part."""
    parts = list(parts)
    if not parts:  # nothing to judge is no verdict, not one that holds
        return not_judged("none of its parts could be computed")
    stat = "; ".join(f"{name}: {v.statistic or v.why}"
                     + ("" if v.holds is None else f" ({'holds' if v.holds else 'fails'})")
                     for name, v in parts)
    if any(v.holds is False for _, v in parts):
        return Verdict(False, stat)
    missing = [(name, v) for name, v in parts if v.holds is None]
    if missing:
        statuses = {v.status for _, v in missing}
        whys = list(dict.fromkeys(v.why for _, v in missing))
        why = whys[0] if len(whys) == 1 else "; ".join(
            f"{name} ({v.why})" for name, v in missing)
        return Verdict(None, stat, why, statuses.pop() if len(statuses) == 1 else "not judged")
    return Verdict(True, stat)


def at_each_level(per_level: Mapping[int, Verdict]) -> Verdict:
    """A claim made at each level: judged at each; holds when it holds at every level judged
    (and some level was judged); the statistic says at how many it holds."""
    judged = {lv: v for lv, v in per_level.items() if v.judged}
    if not judged:
        whys = sorted({v.why for v in per_level.values()})
        return not_judged("at no level: " + "; ".join(whys))
    ok = [lv for lv, v in judged.items() if v.holds]
    stat = (f"holds at {len(ok)} of {len(judged)} levels judged"
            + (f" ({len(per_level) - len(judged)} not judged)"
               if len(judged) < len(per_level) else "")
            + "; " + "; ".join(f"level {lv}: {v.statistic}" for lv, v in sorted(judged.items())))
    return Verdict(len(ok) == len(judged), stat)


def split_seeds(seeds: Iterable[int]) -> tuple[list[int], list[int]]:
    """(choose, judge): the first half of the seeds (rounded down, at least one) chooses the
    best of a grid, the others judge it."""
    seeds = sorted(seeds)
    k = max(1, len(seeds) // 2)
    return seeds[:k], seeds[k:]


def display(claims, paper_settings, scale: str):
    """A claims frame (a ``verdict`` column of Verdicts) as the book shows it: the verdict in
    words (``word``) where it was reached, the statistic behind it. ``paper_settings``: a
    bool, or a function of the row's network (which networks ran at the papers' settings)."""
    out = claims.copy()
    settled = paper_settings if callable(paper_settings) else (lambda _net: paper_settings)
    networks = claims["network"] if "network" in claims else [None] * len(claims)
    out["verdict"] = [word(v, settled(net), scale) for v, net in zip(claims["verdict"], networks)]
    return out.drop(columns=[c for c in ("failed",) if c in out])
