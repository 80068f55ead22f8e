"""Z19's claims about how the lines of its iterative-pruning figures order, checked on this
build's results. One registry serves the notebooks and the scorecard.

Every claim compares lines by one statistic per seed (``stats.sparse_mean``): the mean test
accuracy at early stopping over the sparser half of the pruned levels. A line is *above*
another when the paired differences over seeds are positive beyond their spread
(``verdicts.above``); *close to* it when the mean difference is within ``verdicts.CLOSE_PP``
points (the paper's "fully recover", "perform similarly").
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ... import stats, verdicts
from ...loop import failed_runs
from . import departures as z19_departures


@dataclass(frozen=True)
class Claim:
    lines: tuple[str, str]  # figure lines (arm labels), in the claimed order
    source: str
    relation: str = "above"  # the first line above the second, or "close" to it

    def judge(self, values: dict[str, dict[int, float]]) -> verdicts.Verdict:
        a, b = self.lines
        if self.relation == "close":
            return verdicts.close(values[a], values[b], self.lines)
        return verdicts.above(values[a], values[b], self.lines)

    @property
    def text(self) -> str:
        return (" ≈ " if self.relation == "close" else " > ").join(self.lines)


LT = "large_final"  # the lottery ticket: rewind, freeze at zero
CLAIMS: dict[str, list[Claim]] = {  # notebook -> its figure's claims
    "01_mask_criteria": [
        Claim(("large_final", "random"), "Z19 §2, Fig. 1"),
        Claim(("magnitude_increase", "random"), "Z19 §2, Fig. 1"),
        Claim(("random", "small_final"), "Z19 §2, Fig. 1, S3"),
        Claim((LT, "large_final_same_sign"), "NeurIPS supp. S5, Fig. S5"),
    ],
    "02_mask1_actions": [
        *[Claim((f"{LT}, {a}_init_sign", f"{LT}, {a}"), "Z19 §3, Fig. 2")
          for a in ("reinit", "reshuffle", "constant")],
        Claim((LT, f"{LT}, reshuffle_init_sign"), "NeurIPS supp. Fig. S4", "close"),
        Claim((LT, f"{LT}, constant_init_sign"), "NeurIPS supp. Fig. S4", "close"),
    ],
    "03_mask0_actions": [
        Claim((LT, f"{LT}, mask0 init"), "Z19 §4, Fig. 3"),
        Claim((f"{LT}, mask0 init_or_zero", LT), "Z19 §4, Fig. 3", "close"),
        Claim((f"{LT}, mask0 init_or_zero_all", LT), "Z19 §4, Fig. 3"),
        Claim((f"{LT}, mask0 init_or_zero", f"{LT}, mask0 random_zeros"),
              "NeurIPS supp. S3, Fig. S2"),
        Claim((f"{LT}, mask0 init_or_zero", f"{LT}, mask0 init_or_zero_reversed"),
              "NeurIPS supp. S3, Fig. S2"),
        Claim((f"{LT}, mask0 random_zeros", f"{LT}, mask0 init_or_zero_reversed"),
              "NeurIPS supp. S3, Fig. S2"),
        Claim((f"{LT}, mask0 init", f"{LT}, mask0 init_or_zero_reversed"),
              "NeurIPS supp. S3, Fig. S2"),
    ],
}


def statistic(summary: pd.DataFrame) -> str:
    """How each seed's value behind every verdict is computed: the levels it averages."""
    levels = stats.sparse_levels(summary)
    span = f"level {levels[0]}" if len(levels) == 1 else f"levels {levels[0]}-{levels[-1]}"
    return f"per seed, mean test acc. at early stop over {span}"


COLUMNS = ["id", "claim", "network", "source", "verdict", "this build", "statistic", "failed"]


def check(summary: pd.DataFrame, notebook: str) -> pd.DataFrame:
    """One row per network and claim whose lines all ran: its ``verdict``
    (``verdicts.Verdict``), this build's values of both lines (mean over seeds, in %), the
    statistic, and the runs that failed (named: a claim on a failed run is not judged, never
    averaged over the other seeds)."""
    rows = []
    for model, part in summary.groupby("model"):
        values = stats.sparse_mean_per_seed(part)
        for i, claim in enumerate(CLAIMS[notebook], 1):
            if not set(claim.lines) <= set(part["line"]):
                continue  # a line this experiment did not run
            failed = failed_runs(part[part["line"].isin(claim.lines)])
            ran = not failed and set(claim.lines) <= set(values)
            verdict = claim.judge(values) if ran else verdicts.not_judged(
                "runs failed: " + ", ".join(failed) if failed else "a line has no value")
            rows.append({
                "id": f"{notebook[:2]}.{i}", "claim": claim.text, "network": model,
                "source": claim.source, "verdict": verdict,
                "this build": ", ".join(
                    f"{m} {100 * sum(values[m].values()) / len(values[m]):.2f}%"
                    for m in claim.lines) if ran else "",
                "statistic": statistic(part) + "; " + (verdict.statistic or verdict.why),
                "failed": failed})
    return pd.DataFrame(rows, columns=COLUMNS)


def judged(result) -> pd.DataFrame:
    """``check`` of the claims of the paper figure this result's lines are
    (``departures.figure``)."""
    return check(result.summary, z19_departures.figure(result.config))


def scorecard_rows(result, scale: str) -> list[dict]:
    """Z19's orderings as scorecard rows (``scorecard.COLUMNS``): verdicts in words only
    where the network ran at the paper's settings (``Result.paper_settings``)."""
    rows = []
    for c in judged(result).to_dict("records"):
        net = c["network"]
        settled = result.paper_settings(net)
        rows.append({"paper": "Z19", "claim": c["claim"], "network": net,
                     "source": c["source"], "paper says": "holds",
                     "this build": c["this build"], "statistic": c["statistic"],
                     "checked at": result.checked_at(scale, settled),
                     "verdict": verdicts.word(c["verdict"], settled, scale),
                     "data": result.data[net].name, "seeds": result.seeds})
    return rows


def table(result, notebook: str, scale: str) -> pd.DataFrame:
    """The page's claims table: ``check`` with each verdict in words where it was reached
    (``z19.experiment.Result``: which networks ran at the paper's settings)."""
    return verdicts.display(check(result.summary, notebook), result.paper_settings, scale)
