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

from ... import departures, paper, stats, verdicts
from ...loop import failed_runs
from . import departures as z19_departures
from .config import PAPER_DATASET, PAPER_TRAIN_SIZE
from .learned import failed_learned


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
    from .departures import figure

    return check(result.summary, figure(result.experiment))


def scorecard_rows(result, scale: str) -> list[dict]:
    """Z19's orderings as scorecard rows (``scorecard.COLUMNS``): verdicts in words only
    where the network ran at the paper's settings (``departures.blocking``)."""
    from .experiment import PAPER_FIELDS

    deps, rows = result.departures(), []
    for c in judged(result).to_dict("records"):
        net = c["network"]
        blocking = departures.blocking(deps, net, PAPER_FIELDS)
        rows.append({"paper": "Z19", "claim": c["claim"], "network": net,
                     "source": c["source"], "paper says": "holds",
                     "this build": c["this build"], "statistic": c["statistic"],
                     "checked at": departures.checked_at(scale, deps, blocking),
                     "verdict": verdicts.word(c["verdict"], not blocking, scale),
                     "data": result.data_name_by_model[net],
                     "seeds": len(result.experiment.seeds)})
    return rows


def table(result, notebook: str, scale: str) -> pd.DataFrame:
    """The page's claims table: ``check`` with each verdict in words where it was reached
    (``z19.experiment.Result``: which networks ran at the paper's settings)."""
    return verdicts.display(check(result.summary, notebook), result.paper_settings, scale)


TOLERANCE_PP = 3.0  # Table S2's numbers: within this many points of the paper's


def supermask_rows(result, scale: str) -> list[dict]:
    """Z19 Table S2's numbers and the §5 ordering as scorecard rows, from a
    ``supermasks.SupermasksResult``: a number within ``TOLERANCE_PP`` of the paper's is
    reproduced, judged only where nothing that changes it departs from the paper. Long: per
    network, Table S2's four columns and the ordering, each with the runs it depends on."""
    from . import supermasks

    cfg, heuristic, learned, dense = result.cfg, result.heuristic, result.learned, result.dense
    deps = result.departures()
    best = supermasks.best_heuristic(heuristic).set_index(["model", "criterion", "weights"])
    s2 = paper.table_s2()
    rows = []
    for model in cfg.models:
        d = dense.summary
        d = d[(d["model"] == model) & (d["level"] == 0)]
        lt = learned[learned["model"] == model]
        # The heuristic masks come from the dense runs: a failed dense run fails them too.
        dense_failed = failed_runs(d)
        learned_failed = failed_learned(lt)
        same = {w: best.loc[(model, "large_final_same_sign", w)]
                for w in ("initial", "signed_constant")} if not dense_failed else {}
        sample = {"data": dense.data_name_by_model[model], "seeds": len(cfg.seeds)}
        heuristic_statistic = ("max over prune powers of the mean over seeds "
                               f"({d['seed'].nunique()})")
        heuristic_rows = [  # claim, Table S2 column, weights
            ("supermask large_final_same_sign x initial weights", "mask_x_initial_weights",
             "initial"),
            ("supermask large_final_same_sign x signed constant", "mask_x_signed_constant",
             "signed_constant")]
        numbers = [  # claim, column, failed runs, (mean, min, max), statistic, depends on
            (claim, column, dense_failed,
             None if dense_failed else tuple(same[w][["mean", "min", "max"]]),
             heuristic_statistic, ("dense.", "max_power")) for claim, column, w in heuristic_rows]
        length = cfg.learned.train_for(model, dense.data[model].sizes["train"]).iterations
        learned_claim = f"learned supermask, {length:,} iterations" + (
            "" if cfg.learned.iterations else f" (Z19's lengths read as {cfg.learned.length_unit})")
        if learned_failed:
            numbers.append((learned_claim, "learned_mask_x_initial_weights", learned_failed,
                            None, "", ("learned.",)))
        elif lt.empty:  # learned.init_values: [] (none trained)
            numbers.append((learned_claim, "learned_mask_x_initial_weights", [], None,
                            "not computed", ("learned.",)))
        else:
            c_best = lt.groupby("c")["final_acc"].mean().idxmax()
            at_best = lt[lt["c"] == c_best]
            numbers.append((f"{learned_claim}, best c = {c_best:g}",
                            "learned_mask_x_initial_weights", [],
                            _mean_min_max(at_best["final_acc"]),
                            f"mean over seeds ({len(at_best)}) at the best c, "
                            f"{cfg.learned.samples} mask samples each", ("learned.",)))
        numbers.append(("trained dense network", "trained_dense_network", dense_failed,
                        None if dense_failed else _mean_min_max(d["test_acc_at_early_stop"]),
                        f"test accuracy at early stopping, mean over seeds ({len(d)})",
                        ("dense.",)))
        for claim, column, failed, values, statistic, prefixes in numbers:
            ref = float(s2.loc[model, column])
            blocking = departures.blocking(deps, model, prefixes)
            row = {"paper": "Z19", "claim": claim, "network": model,
                   "source": "Z19 Table S2", "paper says": f"{ref:.1f}%",
                   "statistic": statistic, "checked at": departures.checked_at(scale, deps, blocking),
                   **sample}
            if failed:
                rows.append(_not_judged(row, failed))
                continue
            if values is None:  # the learned column, with no learned supermask computed
                ref = z19_departures.paper_configs()["04_supermasks"]
                size = PAPER_TRAIN_SIZE[PAPER_DATASET[model]] if model in PAPER_DATASET else 0
                ref_train = ref.learned.train_for(model, size) if size else None
                cost = (f"; at the paper's settings {len(ref.learned.init_values)} values of c x "
                        f"{len(ref.seeds)} seeds x {ref_train.iterations:,} iterations at batch "
                        f"{ref_train.batch_size}") if ref_train else ""
                rows.append({**row, "this build": "",
                             "verdict": f"not run: no learned supermask computed{cost}"})
                continue
            mean, lo, hi = values
            ok = abs(100 * mean - ref) <= TOLERANCE_PP
            rows.append({
                **row, "this build": f"{100 * mean:.1f}% [{100 * lo:.1f}-{100 * hi:.1f}]",
                "statistic": f"{statistic}; within {TOLERANCE_PP:g} points of the paper",
                "verdict": (f"not comparable at {scale} scale" if blocking
                            else "reproduced" if ok else "not reproduced")})
        blocking = departures.blocking(deps, model, ("dense.", "max_power"))
        row = {"paper": "Z19", "claim": "supermask: signed constant > initial weights",
               "network": model, "source": "Z19 §5, Table S2", "paper says": "holds",
               "checked at": departures.checked_at(scale, deps, blocking), **sample}
        if dense_failed:
            rows.append(_not_judged(row, dense_failed))
            continue
        v = _signed_above_initial(heuristic[heuristic["model"] == model], same)
        rows.append({**row, "this build": (f"signed constant {100 * same['signed_constant']['mean']:.1f}%"
                                           f", initial {100 * same['initial']['mean']:.1f}%"),
                     "statistic": "each weights' best prune power (mean over seeds), per seed: "
                                  + (v.statistic or v.why),
                     "verdict": verdicts.word(v, not blocking, scale)})
    return rows


def _signed_above_initial(table: pd.DataFrame, best: dict) -> verdicts.Verdict:
    """Signed constant > initial weights for large_final_same_sign, paired over seeds, each
    at its best prune power."""
    t = table[table["criterion"] == "large_final_same_sign"]
    per_seed = {w: t[(t["weights"] == w) & (t["power"] == best[w]["power"])]
                .set_index("seed")["test_acc"].to_dict() for w in best}
    return verdicts.above(per_seed["signed_constant"], per_seed["initial"],
                          ("signed constant", "initial weights"))


def _not_judged(row: dict, failed: list[str]) -> dict:
    """A claim's row when some of its runs failed: they are named, the others not averaged."""
    return {**row, "this build": "", "verdict": "not judged: runs failed: " + ", ".join(failed)}


def _mean_min_max(values: pd.Series) -> tuple[float, float, float]:
    return float(values.mean()), float(values.min()), float(values.max())
