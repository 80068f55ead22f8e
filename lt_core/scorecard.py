"""The reproduction scorecard and the build's metadata, read back from the run store.

Every claim of Z19 this build can check, next to this build's value and a verdict computed
here:

* a **number** (Table S2) is *reproduced* when this build's mean over seeds is within
  ``TOLERANCE_PP`` percentage points of the paper's. It is judged only when nothing that
  changes what is measured departs from the paper for that network (``departures.blocking``:
  training, data, lengths, evaluation); fewer seeds or c values are stated, not disqualifying.
  Otherwise the verdict is "not run at this scale" and the value is shown for reference;
* an **ordering** (``claims``) is *reproduced* when it holds in this build; the statistic
  column says which numbers it compares, over which rounds and seeds, and the "checked at"
  column at which settings;
* a claim whose runs include a failed one (``engine.divergence``) is **not judged**: its row
  names the failed runs instead of averaging over the others.

The experiments are the notebooks' own (their params files): results come from the store, so
this costs no training after the notebooks ran. A notebook whose params file is missing from
the params folder is skipped (a folder may hold only the experiments of interest).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from . import banner, claims, config, decoupling, departures, layerwise, lottery, paper, supermask

TOLERANCE_PP = 3.0
NOT_JUDGED = "not judged: runs failed"
PARAMS = Path(__file__).resolve().parent.parent / "params"
COLUMNS = ["claim", "network", "verdict", "paper", "this build", "statistic", "checked at",
           "source"]
VERDICT_COLOURS = {"reproduced": "#d4edda", "not reproduced": "#f8d7da"}  # else: grey


def _load(folder: Path, name: str, cls: type, store: str | None):
    path = folder / f"{name}.yaml"
    if not path.exists():
        return None
    values = yaml.safe_load(path.read_text()) or {}
    if store is not None:
        values["store"] = store
    return config.load(values, cls)


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


def build(scale: str, store: str | None = None, progress: bool = False,
          params: Path | None = None) -> pd.DataFrame:
    """The scorecard: one row per checked claim (``COLUMNS``)."""
    folder = (params or PARAMS) / scale
    rows = []
    for name in claims.CLAIMS:
        exp = _load(folder, name, config.Experiment, store)
        if exp is None:
            continue
        result = lottery.run_iterative(exp, progress)
        deps = result.departures()
        for _, c in claims.check(result.summary, name).reset_index().iterrows():
            blocking = departures.blocking(deps, c["network"], ("train.", "pruning.rounds"))
            row = {"claim": c["claim"], "network": c["network"], "source": c["source"],
                   "paper": "holds", "this build": c["this build"], "statistic": c["statistic"],
                   "checked at": _checked_at(scale, deps, blocking)}
            rows.append(_not_judged(row, c["failed"]) if c["failed"] else
                        {**row, "verdict": "reproduced" if c["holds"] else "not reproduced"})
    cfg = _load(folder, "04_supermasks", config.Supermasks, store)
    if cfg is not None:
        rows += _supermask_rows(cfg, scale, progress)
    rows += decoupling.scorecard_rows(scale, store, progress, folder)  # H21's orderings
    l23 = _load(folder, "06_layerwise", layerwise.Layerwise, store)
    if l23 is not None:  # L23's numbers and claims
        rows += layerwise.scorecard_rows(layerwise.run(l23, progress), scale)
    return pd.DataFrame(rows, columns=COLUMNS)


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
        heuristic_statistic = ("max over prune powers of the mean over seeds "
                               f"({d['seed'].nunique()})")
        heuristic = [  # claim, Table S2 column, weights
            ("supermask large_final_same_sign x initial weights", "mask_x_initial_weights",
             "initial"),
            ("supermask large_final_same_sign x signed constant", "mask_x_signed_constant",
             "signed_constant")]
        numbers = [  # claim, column, failed runs, (mean, min, max), statistic, depends on
            (claim, column, dense_failed,
             None if dense_failed else tuple(same[w][["mean", "min", "max"]]),
             heuristic_statistic, ("dense.", "max_power")) for claim, column, w in heuristic]
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
            row = {"claim": claim, "network": model, "source": "Z19 Table S2",
                   "paper": f"{ref:.1f}", "statistic": statistic,
                   "checked at": _checked_at(scale, deps, blocking)}
            if failed:
                rows.append(_not_judged(row, failed))
                continue
            mean, lo, hi = values
            ok = abs(100 * mean - ref) <= TOLERANCE_PP
            rows.append({
                **row, "this build": f"{100 * mean:.1f} [{100 * lo:.1f}-{100 * hi:.1f}]",
                "verdict": (f"not run at this scale ({scale})" if blocking
                            else "reproduced" if ok else "not reproduced")})
        blocking = departures.blocking(deps, model, ("dense.", "max_power"))
        row = {"claim": "supermask: signed constant > initial weights", "network": model,
               "source": "Z19 §5, Table S2", "paper": "holds", "statistic": heuristic_statistic,
               "checked at": _checked_at(scale, deps, blocking)}
        if dense_failed:
            rows.append(_not_judged(row, dense_failed))
            continue
        signed, initial = same["signed_constant"]["mean"], same["initial"]["mean"]
        rows.append({**row, "this build": f"{100 * signed:.1f} vs {100 * initial:.1f}",
                     "verdict": "reproduced" if signed > initial else "not reproduced"})
    return rows


def _not_judged(row: dict, failed: list[str]) -> dict:
    """A claim's row when some of its runs failed: they are named, the others not averaged."""
    return {**row, "this build": "failed: " + ", ".join(failed), "verdict": NOT_JUDGED}


def _mean_min_max(values: pd.Series) -> tuple[float, float, float]:
    return float(values.mean()), float(values.min()), float(values.max())


def styled(card: pd.DataFrame):
    """The scorecard as the book shows it: fits the page (fixed layout, wrapped text, the
    verdict third), each verdict cell coloured."""
    def colour(verdict: str) -> str:
        return f"background-color: {VERDICT_COLOURS.get(verdict, '#e2e3e5')}; font-weight: bold"

    widths = {"claim": 19, "network": 9, "verdict": 14, "paper": 6, "this build": 11,
              "statistic": 16, "checked at": 12, "source": 13}  # percent of the page width
    styles = [{"selector": "", "props": "table-layout: fixed; width: 100%; font-size: 0.75em"},
              {"selector": "td, th", "props": "white-space: normal; overflow-wrap: break-word; "
                                              "vertical-align: top; text-align: left"}]
    styles += [{"selector": f"th.col_heading.col{i}", "props": f"width: {widths[c]}%"}
               for i, c in enumerate(card.columns)]
    return (card.style.hide(axis="index").map(colour, subset=["verdict"])
            .set_table_styles(styles))


def build_info(scale: str, store: str | None = None, params: Path | None = None
               ) -> pd.DataFrame:
    """Per notebook: the scale, data, device and library versions its results came from,
    read from the stored runs (the notebooks must have run)."""
    rows = []
    for path in sorted(((params or PARAMS) / scale).glob("[0-9][0-9]_*.yaml")):
        values = yaml.safe_load(path.read_text()) or {}
        if "studies" in values:  # H21's decoupling experiment
            rows.append(decoupling.build_info(scale, store, path.parent))
            continue
        if path.stem == "06_layerwise":  # L23's experiment
            result = layerwise.run(_load(path.parent, path.stem, layerwise.Layerwise, store),
                                   False)
            deps = result.departures()
        elif "pruning" not in values and "learned" not in values:
            continue  # not an experiment (the scorecard's own params)
        else:
            is_supermask = "learned" in values
            cfg = _load(path.parent, path.stem,
                        config.Supermasks if is_supermask else config.Experiment, store)
            result = lottery.run_iterative(cfg.dense_experiment() if is_supermask else cfg,
                                           progress=False)
            deps = (supermask.departures(cfg, result) if is_supermask
                    else result.departures())
        env = result.record(result.runs["key"].iloc[0], 0)["env"]
        rows.append({
            "notebook": path.stem, "scale": scale,
            "paper settings": "yes" if not deps else "no",
            "networks": ", ".join(result.data), "data": result.data_names,
            "seeds": len(result.runs["seed"].unique()),
            "device": banner.device_label(env["device"], env["device_name"]),
            "torch": env["torch"], "lt_core": env["lt_core"]})
    return pd.DataFrame(rows)
