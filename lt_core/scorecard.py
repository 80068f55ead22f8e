"""The reproduction scorecard and the build's metadata, read back from the run store.

Every claim of the three papers this build can check, next to this build's value and a
verdict computed here, in one vocabulary (``verdicts.word``):

* an **ordering** (Z19's ``claims``, H21's and L23's claims) is judged with its seeds by one
  rule (``verdicts.RULE``); at the papers' settings it is *reproduced* or *not reproduced*,
  elsewhere it *holds* or *does not hold at <scale> scale*;
* a **number** (Z19 Table S2, L23 Table 2 and section 5) is *reproduced* when this build's
  value is within its tolerance of the paper's, judged only where nothing that changes what is
  measured departs from the paper for that network (``departures.blocking``); elsewhere it is
  *not comparable at <scale> scale* and shown for reference; a cell whose tolerance covers
  every possible accuracy is *not testable*;
* a claim whose runs include a failed one (``engine.divergence``) is *not judged*: the row
  names the failed runs instead of averaging over the others.

The rows are data (``build``; ``python -m lt_core scorecard --format csv``): paper, claim,
network, verdict, what the paper says, this build's numbers, the statistic, where it was
checked, the data and seeds. The experiments are the notebooks' own (their params at that
scale): results come from the store, so this costs no training after the notebooks ran.
"""

from __future__ import annotations

import pandas as pd

from . import (
    banner,
    claims,
    config,
    decoupling,
    departures,
    experiments,
    layerwise,
    lottery,
    paper,
    scales,
    supermask,
    verdicts,
)

TOLERANCE_PP = 3.0
COLUMNS = ["paper", "claim", "network", "verdict", "paper says", "this build", "statistic",
           "scale", "checked at", "data", "seeds", "source"]
def _load(scale: str, name: str, store: str | None):
    """The config of notebook ``name`` at ``scale`` (None if that scale has none)."""
    values = scales.params(scale, name)
    if values is None:
        return None
    if store is not None:
        values["store"] = store
    return experiments.load(values)[1]


def _short(value: object) -> str:
    return str(len(value)) if isinstance(value, frozenset | tuple | list) else str(value)


def _checked_at(scale: str, deps: list[departures.Departure], blocking: list) -> str:
    """Where a verdict was reached: this scale, or the paper's settings (with what it ran
    fewer of)."""
    if blocking:
        return f"{scale} scale"
    fewer = [f"{d.what} {_short(d.this)} of {_short(d.paper)}" for d in deps
             if d.kind == "sample"]
    return "paper settings" + (f" ({'; '.join(fewer)})" if fewer else "")


def build(scale: str, store: str | None = None, progress: bool = False) -> pd.DataFrame:
    """The scorecard: one row per checked claim (``COLUMNS``), grouped by paper."""
    rows = []
    for name in claims.CLAIMS:
        exp = _load(scale, name, store)
        if exp is None:
            continue
        result = lottery.run_iterative(exp, progress)
        deps = result.departures()
        for c in claims.check(result.summary, name).to_dict("records"):
            net = c["network"]
            blocking = departures.blocking(deps, net, lottery.PAPER_FIELDS)
            rows.append({"paper": "Z19", "claim": c["claim"], "network": net,
                         "source": c["source"], "paper says": "holds",
                         "this build": c["this build"], "statistic": c["statistic"],
                         "checked at": _checked_at(scale, deps, blocking),
                         "verdict": verdicts.word(c["verdict"], not blocking, scale),
                         **_sample(result.data_name_by_model[net], exp.seeds)})
    cfg = _load(scale, "04_supermasks", store)
    if cfg is not None:
        rows += _supermask_rows(cfg, scale, progress)
    rows += decoupling.scorecard_rows(scale, store, progress)  # H21's orderings
    l23 = _load(scale, "06_layerwise", store)
    if l23 is not None:  # L23's numbers and claims
        rows += layerwise.scorecard_rows(layerwise.run(l23, progress), scale)
    return pd.DataFrame([{**r, "scale": scale} for r in rows], columns=COLUMNS)


def _sample(data: str, seeds: list[int]) -> dict:
    return {"data": data, "seeds": len(seeds)}


def headline(card: pd.DataFrame) -> str:
    """Markdown: the counts that matter first (verdicts at the papers' settings), then what
    was checked only at stand-in settings, and what could not be judged."""
    v = card["verdict"]
    paper = {w: int((v == w).sum()) for w in ("reproduced", "not reproduced")}
    stand = {w: int(v.str.startswith(w + " at ").sum()) for w in ("holds", "does not hold")}
    other = int((~v.isin(list(paper)) & ~v.str.match(r"(holds|does not hold) at ")).sum())
    return (f"**At the papers' settings: {paper['reproduced']} reproduced, "
            f"{paper['not reproduced']} not reproduced.** At stand-in scales (not "
            f"reproductions): {stand['holds']} hold, {stand['does not hold']} do not hold. "
            f"{other} not judged, not testable or not comparable.")


def _supermask_rows(cfg: config.Supermasks, scale: str, progress: bool) -> list[dict]:
    heuristic, dense = supermask.heuristic(cfg, progress)
    learned = supermask.learned(cfg, progress)
    deps = supermask.departures(cfg, dense)
    best = supermask.best_heuristic(heuristic).set_index(["model", "criterion", "weights"])
    s2 = paper.table_s2()
    rows = []
    for model in cfg.models:
        d = dense.summary
        d = d[(d["model"] == model) & (d["round"] == 0)]
        lt = learned[learned["model"] == model]
        # The heuristic masks come from the dense runs: a failed dense run fails them too.
        dense_failed = lottery.failed_runs(d)
        learned_failed = supermask.failed_learned(lt)
        same = {w: best.loc[(model, "large_final_same_sign", w)]
                for w in ("initial", "signed_constant")} if not dense_failed else {}
        sample = _sample(dense.data_name_by_model[model], cfg.seeds)
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
                   "statistic": statistic, "checked at": _checked_at(scale, deps, blocking),
                   **sample}
            if failed:
                rows.append(_not_judged(row, failed))
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
               "checked at": _checked_at(scale, deps, blocking), **sample}
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


def build_info(scale: str, store: str | None = None) -> pd.DataFrame:
    """Per notebook: the scale, data, device and library versions its results came from,
    read from the stored runs (the notebooks must have run)."""
    rows = []
    for name in scales.notebooks(scale):
        values = scales.params(scale, name)
        kind = experiments.kind_of(values)
        if kind in experiments.READERS:
            continue  # not an experiment (the scorecard's own params)
        if kind == "h21_decoupling":
            rows.append(decoupling.build_info(scale, store))
            continue
        cfg = _load(scale, name, store)
        if kind == "l23_layerwise":
            result = layerwise.run(cfg, False)
            deps = result.departures()
        elif kind == "z19_supermasks":
            result = lottery.run_iterative(cfg.dense_experiment(), progress=False)
            deps = supermask.departures(cfg, result)
        else:
            result = lottery.run_iterative(cfg, progress=False)
            deps = result.departures()
        env = result.record(result.runs["key"].iloc[0], 0)["env"]
        rows.append({
            "notebook": name, "scale": scale,
            "paper settings": "yes" if not deps else "no",
            "networks": ", ".join(result.data), "data": result.data_names,
            "seeds": len(result.runs["seed"].unique()),
            "device": banner.device_label(env["device"], env["device_name"]),
            "torch": env["torch"], "lt_core": env["lt_core"]})
    return pd.DataFrame(rows)
