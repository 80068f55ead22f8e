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
  column at which settings.

The experiments are the notebooks' own (their params files): results come from the store, so
this costs no training after the notebooks ran. A notebook whose params file is missing from
the params folder is skipped (a folder may hold only the experiments of interest).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from . import claims, config, departures, lottery, paper, supermask

TOLERANCE_PP = 3.0
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
            rows.append({
                "claim": c["claim"], "network": c["network"], "source": c["source"],
                "paper": "holds", "this build": c["this build"], "statistic": c["statistic"],
                "checked at": _checked_at(scale, deps, blocking),
                "verdict": "reproduced" if c["holds"] else "not reproduced"})
    cfg = _load(folder, "04_supermasks", config.Supermasks, store)
    if cfg is not None:
        rows += _supermask_rows(cfg, scale, progress)
    return pd.DataFrame(rows, columns=COLUMNS)


def _supermask_rows(cfg: config.Supermasks, scale: str, progress: bool) -> list[dict]:
    heuristic, dense = supermask.heuristic(cfg, progress)
    learned = supermask.learned(cfg, progress)
    deps = supermask.departures(cfg, dense)
    best = supermask.best_heuristic(heuristic).set_index(["model", "criterion", "weights"])
    s2 = paper.table_s2()
    rows = []
    for model in cfg.models:
        same = {w: best.loc[(model, "large_final_same_sign", w)]
                for w in ("initial", "signed_constant")}
        lt = learned[(learned["model"] == model) & ~learned["failed"]]
        c_best = lt.groupby("c")["final_acc"].mean().idxmax()
        at_best = lt[lt["c"] == c_best]
        length = int(at_best["iterations"].iloc[0])
        d = dense.summary
        d = d[(d["model"] == model) & (d["round"] == 0)]["test_acc_at_early_stop"]
        heuristic_statistic = (f"max over prune powers of the mean over seeds "
                               f"({int(same['initial']['count'])})")
        numbers = [  # claim, Table S2 column, (mean, min, max), statistic, what it depends on
            ("supermask large_final_same_sign x initial weights", "mask_x_initial_weights",
             same["initial"][["mean", "min", "max"]], heuristic_statistic,
             ("dense.", "max_power")),
            ("supermask large_final_same_sign x signed constant", "mask_x_signed_constant",
             same["signed_constant"][["mean", "min", "max"]], heuristic_statistic,
             ("dense.", "max_power")),
            (f"learned supermask, {length:,} iterations"
             + ("" if cfg.learned.iterations else
                f" (Z19's lengths read as {cfg.learned.length_unit})")
             + f", best c = {c_best:g}",
             "learned_mask_x_initial_weights", _mean_min_max(at_best["final_acc"]),
             f"mean over seeds ({len(at_best)}) at the best c, "
             f"{cfg.learned.samples} mask samples each", ("learned.",)),
            ("trained dense network", "trained_dense_network", _mean_min_max(d),
             f"test accuracy at early stopping, mean over seeds ({len(d)})", ("dense.",)),
        ]
        for claim, column, (mean, lo, hi), statistic, prefixes in numbers:
            ref = float(s2.loc[model, column])
            blocking = departures.blocking(deps, model, prefixes)
            ok = abs(100 * mean - ref) <= TOLERANCE_PP
            rows.append({
                "claim": claim, "network": model, "source": "Z19 Table S2",
                "paper": f"{ref:.1f}",
                "this build": f"{100 * mean:.1f} [{100 * lo:.1f}-{100 * hi:.1f}]",
                "statistic": statistic, "checked at": _checked_at(scale, deps, blocking),
                "verdict": (f"not run at this scale ({scale})" if blocking
                            else "reproduced" if ok else "not reproduced")})
        holds = same["signed_constant"]["mean"] > same["initial"]["mean"]
        blocking = departures.blocking(deps, model, ("dense.", "max_power"))
        rows.append({
            "claim": "supermask: signed constant > initial weights", "network": model,
            "source": "Z19 §5, Table S2", "paper": "holds",
            "this build": f"{100 * same['signed_constant']['mean']:.1f} vs "
                          f"{100 * same['initial']['mean']:.1f}",
            "statistic": heuristic_statistic, "checked at": _checked_at(scale, deps, blocking),
            "verdict": "reproduced" if holds else "not reproduced"})
    return rows


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
        if "pruning" not in values and "learned" not in values:
            continue  # not an experiment (the scorecard's own params)
        is_supermask = "learned" in values
        cfg = _load(path.parent, path.stem,
                    config.Supermasks if is_supermask else config.Experiment, store)
        result = lottery.run_iterative(cfg.dense_experiment() if is_supermask else cfg,
                                       progress=False)
        deps = (supermask.departures(cfg, result) if is_supermask else result.departures())
        env = result.record(result.runs["key"].iloc[0], 0)["env"]
        rows.append({
            "notebook": path.stem, "scale": scale,
            "paper settings": "yes" if not deps else "no",
            "networks": ", ".join(result.data), "data": result.data_names,
            "seeds": len(result.runs["seed"].unique()), "device": env["device_name"] or env["device"],
            "torch": env["torch"], "lt_core": env["lt_core"]})
    return pd.DataFrame(rows)
