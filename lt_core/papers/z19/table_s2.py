"""Z19 Table S2 and §5's ordering, judged on a supermask experiment's result
(``supermasks.SupermasksResult``): the scorecard's rows, and the page's sentences made from
them, so that the page cannot say otherwise than the scorecard."""

from __future__ import annotations

import pandas as pd

from ... import paper, verdicts
from ...loop import failed_runs
from . import departures as z19_departures
from .config import PAPER_DATASET, PAPER_TRAIN_SIZE
from .learned import failed_learned

TOLERANCE_PP = 3.0  # Table S2's numbers: within this many points of the paper's


def supermask_rows(result, scale: str) -> list[dict]:
    """Z19 Table S2's numbers and the §5 ordering as scorecard rows, from a
    ``supermasks.SupermasksResult``: a number within ``TOLERANCE_PP`` of the paper's is
    reproduced, judged only where nothing that changes it departs from the paper. Long: per
    network, Table S2's four columns and the ordering, each with the runs it depends on."""
    cfg, heuristic, learned, dense = (result.config, result.heuristic, result.learned,
                                      result.dense)
    best = best_heuristic(heuristic).set_index(["model", "criterion", "weights"])
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
        sample = {"data": dense.data[model].name, "seeds": result.seeds}
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
            settled = result.paper_settings(model, prefixes)
            row = {"paper": "Z19", "claim": claim, "network": model,
                   "source": "Z19 Table S2", "paper says": f"{ref:.1f}%",
                   "statistic": statistic, "checked at": result.checked_at(scale, settled),
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
                "verdict": (f"not comparable at {scale} scale" if not settled
                            else "reproduced" if ok else "not reproduced")})
        settled = result.paper_settings(model, ("dense.", "max_power"))
        row = {"paper": "Z19", "claim": "supermask: signed constant > initial weights",
               "network": model, "source": "Z19 §5, Table S2", "paper says": "holds",
               "checked at": result.checked_at(scale, settled), **sample}
        if dense_failed:
            rows.append(_not_judged(row, dense_failed))
            continue
        v = _signed_above_initial(heuristic[heuristic["model"] == model], same)
        rows.append({**row, "this build": (f"signed constant {100 * same['signed_constant']['mean']:.1f}%"
                                           f", initial {100 * same['initial']['mean']:.1f}%"),
                     "statistic": "each weights' best prune power (mean over seeds), per seed: "
                                  + (v.statistic or v.why),
                     "verdict": verdicts.word(v, settled, scale)})
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


def best_heuristic(table: pd.DataFrame) -> pd.DataFrame:
    """Per network, criterion and weights: the max over prune powers of the mean over seeds
    (Table S2 reports this for ``large_final_same_sign``), with the seeds' min and max there."""
    g = table.groupby(["model", "criterion", "weights", "power"])["test_acc"]
    per_power = g.agg(["mean", "min", "max", "count"]).reset_index()
    idx = per_power.groupby(["model", "criterion", "weights"])["mean"].idxmax()
    return per_power.loc[idx].reset_index(drop=True)




def conclusions(rows: list[dict], heuristic_table: pd.DataFrame,
                learned_table: pd.DataFrame) -> str:
    """Markdown: what this run shows. Each sentence that states a claim's outcome is its
    scorecard row (``rows``: ``SupermasksResult.scorecard_rows``), verdict included, so the
    page cannot say otherwise than the scorecard; the other sentences give numbers only."""
    out = []
    for model in heuristic_table["model"].unique():
        for row in (r for r in rows if r["network"] == model):
            seen = f"; this build {row['this build']}" if row["this build"] else ""
            out.append(f"**{model}, {row['claim']}** (Z19: {row['paper says']}{seen}): "
                       f"*{row['verdict']}*.")
        random_masks = heuristic_table[(heuristic_table["model"] == model)
                              & (heuristic_table["criterion"] == "random")
                              & (heuristic_table["power"] > 0)]
        if len(random_masks):
            worst = random_masks.groupby(["power", "weights"])["test_acc"].mean().max()
            out.append(f"Random masks (Z19: near chance) reach at most {100 * worst:.1f}% at "
                       "any prune power, mean over seeds.")
        lt = learned_table[(learned_table["model"] == model) & ~learned_table["failed"]]
        if len(lt):
            by_c = lt.groupby("c")["pruned_pct"].mean()
            out.append(f"Over all c the learned masks prune {by_c.min():.0f}%-{by_c.max():.0f}% "
                       "of the weights in expectation.")
    return "\n\n".join(out)
