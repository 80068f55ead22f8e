"""The reproduction scorecard and the build's metadata, read back from the run store.

Every number the papers report that this build can compare, next to this build's value and
a verdict computed here:

* a number is **reproduced** when this build's mean over seeds is within ``TOLERANCE_PP``
  percentage points of the paper's; it is judged only when it ran at the paper's settings,
  otherwise the verdict is "not run at this scale" and the value is shown for reference;
* an ordering the paper claims is **reproduced** when it holds in this build (mean test
  accuracy at early stopping over the sparser half of the rounds); the scale column says at
  which settings it was checked;
* a claim whose runs include a failed one (``engine.divergence``) is **not judged**: its row
  names the failed runs instead of averaging over the others.

The experiments are the notebooks' own (their params files): results come from the store,
so this costs no training after the notebooks ran.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from . import config, layerwise, lottery, paper, stats, supermask

TOLERANCE_PP = 3.0
NOT_JUDGED = "not judged: runs failed"
PARAMS = Path(__file__).resolve().parent.parent / "params"

ORDERINGS = {  # notebook -> claims (groups, where in the paper)
    "01_mask_criteria": [
        ([["large_final", "magnitude_increase"], ["random"], ["small_final"]], "Z19 §2, Fig. 1"),
    ],
    "03_mask0_actions": [
        ([["large_final"], ["large_final, mask0 init"]], "Z19 §4, Fig. 3"),
    ],
}


def _load(scale: str, name: str, cls: type, store: str | None):
    values = yaml.safe_load((PARAMS / scale / f"{name}.yaml").read_text()) or {}
    if store is not None:
        values["store"] = store
    return config.load(values, cls)


def _spread(values: pd.Series) -> str:
    v = 100 * values
    return f"{v.mean():.1f} [{v.min():.1f}-{v.max():.1f}]"


def build(scale: str, store: str | None = None, progress: bool = False) -> pd.DataFrame:
    """The scorecard: one row per comparable claim."""
    rows = []
    for name, claims in ORDERINGS.items():
        result = lottery.run_iterative(_load(scale, name, config.Experiment, store), progress)
        rows += ordering_rows(result.summary, claims, "paper" if not result.departures() else scale)

    cfg = _load(scale, "04_supermasks", config.Supermasks, store)
    heuristic, dense = supermask.heuristic(cfg, progress)
    learned = supermask.learned(cfg, progress)
    where = "paper" if not supermask.departures(cfg, dense) else scale
    best = supermask.best_heuristic(heuristic).set_index(["model", "criterion", "weights"])
    s2 = paper.table_s2()
    for model in cfg.models:
        d = dense.summary
        d = d[(d["model"] == model) & (d["round"] == 0)]
        lt = learned[learned["model"] == model]
        # The heuristic masks come from the dense runs: a failed dense run fails them too.
        dense_failed = lottery.failed_runs(d)
        learned_failed = supermask.failed_learned(lt)
        same = {} if dense_failed else {  # weights -> (mean, min, max) over seeds
            w: tuple(best.loc[(model, "large_final_same_sign", w), ["mean", "min", "max"]])
            for w in ("initial", "signed_constant")}
        c_best = None if learned_failed else lt.groupby("c")["final_acc"].mean().idxmax()
        numbers = [  # claim, Table S2 column, failed runs, (mean, min, max) unless failed
            ("supermask large_final_same_sign x initial weights", "mask_x_initial_weights",
             dense_failed, same.get("initial")),
            ("supermask large_final_same_sign x signed constant", "mask_x_signed_constant",
             dense_failed, same.get("signed_constant")),
            ("learned supermask" + (f" (best c = {c_best:g})" if c_best is not None else ""),
             "learned_mask_x_initial_weights", learned_failed,
             None if learned_failed else _mean_min_max(lt[lt["c"] == c_best]["final_acc"])),
            ("trained dense network", "trained_dense_network", dense_failed,
             _mean_min_max(d["test_acc_at_early_stop"])),
        ]
        for claim, column, failed, values in numbers:
            ref = float(s2.loc[model, column])
            row = {"claim": claim, "network": model, "source": "Z19 Table S2",
                   "paper": f"{ref:.1f}", "scale": where}
            if failed:
                rows.append(_not_judged(row, failed))
                continue
            mean, lo, hi = values
            ok = abs(100 * mean - ref) <= TOLERANCE_PP
            rows.append({
                **row, "this build": f"{100 * mean:.1f} [{100 * lo:.1f}-{100 * hi:.1f}]",
                "verdict": ("reproduced" if ok else "not reproduced") if where == "paper"
                else f"not run at this scale ({scale})"})
        row = {"claim": "supermask: signed constant > initial weights", "network": model,
               "source": "Z19 §5, Table S2", "paper": "holds", "scale": where}
        if dense_failed:
            rows.append(_not_judged(row, dense_failed))
            continue
        signed, initial = same["signed_constant"][0], same["initial"][0]  # means
        rows.append({
            **row, "verdict": "reproduced" if signed > initial else "not reproduced",
            "this build": f"{100 * signed:.1f} vs {100 * initial:.1f}"})
    l23 = layerwise.run(_load(scale, "06_layerwise", layerwise.Layerwise, store), progress)
    rows += layerwise.scorecard_rows(l23, scale)
    return pd.DataFrame(rows)


def ordering_rows(summary: pd.DataFrame, claims: list, where: str) -> list[dict]:
    """One row per network and claimed ordering (``ORDERINGS``) of one experiment's summary
    (``lottery.Result.summary``), checked at scale ``where``."""
    rows = []
    for model, part in summary.groupby("model"):
        values = stats.sparse_mean(part)
        for groups, source in claims:
            row = {"claim": " > ".join(" = ".join(g) for g in groups), "network": model,
                   "source": source, "paper": "holds", "scale": where}
            failed = lottery.failed_runs(part[part["member"].isin([m for g in groups for m in g])])
            if failed:
                rows.append(_not_judged(row, failed))
                continue
            holds = stats.ordering(values, groups)
            rows.append({
                **row, "verdict": "reproduced" if holds else "not reproduced",
                "this build": ", ".join(f"{m} {100 * values[m]:.2f}" for g in groups for m in g)})
    return rows


def _not_judged(row: dict, failed: list[str]) -> dict:
    """A claim's row when some of its runs failed: they are named, the others not averaged."""
    return {**row, "this build": "failed: " + ", ".join(failed), "verdict": NOT_JUDGED}


def _mean_min_max(values: pd.Series) -> tuple[float, float, float]:
    return float(values.mean()), float(values.min()), float(values.max())


def build_info(scale: str, store: str | None = None) -> pd.DataFrame:
    """Per notebook: the scale, data, device and library versions its results came from,
    read from the stored runs (the notebooks must have run)."""
    rows = []
    for path in sorted((PARAMS / scale).glob("[0-9][0-9]_*.yaml")):
        values = yaml.safe_load(path.read_text()) or {}
        if path.stem == "06_layerwise":  # L23's experiment
            result = layerwise.run(_load(scale, path.stem, layerwise.Layerwise, store), False)
            departures = result.departures()
        elif "pruning" not in values and "learned" not in values:
            continue  # not an experiment (the scorecard's own params)
        else:
            is_supermask = "learned" in values
            cfg = _load(scale, path.stem,
                        config.Supermasks if is_supermask else config.Experiment, store)
            result = lottery.run_iterative(cfg.dense_experiment() if is_supermask else cfg,
                                           progress=False)
            departures = (supermask.departures(cfg, result) if is_supermask
                          else result.departures())
        env = result.record(result.runs["key"].iloc[0], 0)["env"]
        rows.append({
            "notebook": path.stem, "scale": scale,
            "paper settings": "yes" if not departures else "no",
            "networks": ", ".join(result.data), "data": result.data_names,
            "seeds": len(result.runs["seed"].unique()), "device": env["device_name"] or env["device"],
            "torch": env["torch"], "lt_core": env["lt_core"]})
    return pd.DataFrame(rows)
