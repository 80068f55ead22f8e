"""Z19's claims about how the lines of its iterative-pruning figures order, checked on this
build's results. One registry serves the notebooks and the scorecard.

Every claim compares lines by one statistic (``stats.sparse_mean``): the mean test accuracy at
early stopping over the sparser half of the pruned rounds, all seeds pooled. A line is
*above* another when its value is higher; *close to* it when they differ by at most
``CLOSE_PP`` percentage points (the paper's "fully recover", "perform similarly").
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import stats
from .lottery import failed_runs

CLOSE_PP = 1.0


@dataclass(frozen=True)
class Claim:
    lines: tuple[str, ...]  # figure lines (arm labels), in the claimed order
    source: str
    relation: str = "above"  # each line above the next, or "close" to it

    def holds(self, values: pd.Series) -> bool:
        pairs = zip(self.lines, self.lines[1:])
        if self.relation == "close":
            return all(abs(values[a] - values[b]) * 100 <= CLOSE_PP for a, b in pairs)
        return all(values[a] > values[b] for a, b in pairs)

    @property
    def text(self) -> str:
        joint = " ~ " if self.relation == "close" else " > "
        return joint.join(self.lines)


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
    """The statistic behind every verdict, with the rounds and seeds it pools."""
    rounds = stats.sparse_rounds(summary)
    span = f"round {rounds[0]}" if len(rounds) == 1 else f"rounds {rounds[0]}-{rounds[-1]}"
    return f"mean test acc. at early stop: {span}, {summary['seed'].nunique()} seeds"


def check(summary: pd.DataFrame, notebook: str) -> pd.DataFrame:
    """One row per network and claim whose lines all ran, indexed by the claim: network,
    source, this build's values (in %), the statistic and whether the claim holds."""
    rows = []
    for model, part in summary.groupby("model"):
        values = stats.sparse_mean(part)
        for claim in CLAIMS[notebook]:
            if not set(claim.lines) <= set(part["member"]):
                continue  # a line this experiment did not run
            # A failed run (engine.divergence) is named, never averaged over: no verdict.
            failed = failed_runs(part[part["member"].isin(claim.lines)])
            ran = not failed and set(claim.lines) <= set(values.index)
            rows.append({
                "claim": claim.text, "network": model, "source": claim.source,
                "this build": ", ".join(f"{100 * values[m]:.2f}" for m in claim.lines)
                if ran else "", "statistic": statistic(part),
                "holds": claim.holds(values) if ran else None, "failed": failed})
    return pd.DataFrame(rows, columns=["claim", "network", "source", "this build", "statistic",
                                       "holds", "failed"]).set_index("claim")
