"""Pure analyses of stored runs: frames, masks and weights in (dicts of tensors, prunable
tensor name -> tensor), tensors, tidy frames and verdicts out. They know nothing of training,
files or notebooks; the experiment modules (``decoupling``, ``layerwise``) read the store and
call them. Grouped by paper.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from scipy import stats as sps

# ==============================================================================================
# H21: decoupling H_find from H_eval, and layerwise pruning ratios (lt_core.decoupling)
#
# Frames: ``accuracy`` (one row per figure point and seed: study, kind, find, eval, lpr_from,
# seed, level, fraction_pruned, test_acc, failed), ``find_accuracy`` (the find runs' own
# trainings) and ``masks_per_layer`` (kept weights per layer of every find run's masks).
# A group of seeds with a failed training has no mean: it is reported as failed, never
# averaged over the seeds that did not fail.

GROUP = ["study", "kind", "find", "eval", "lpr_from", "level"]
LOTTERY = "lottery"
KINDS = {"global_random": "global random", "preserve_lpr": "preserve-LPR"}


def _key(v) -> float:
    """Grid values as group keys: None/NaN (a phase's own value) become NaN, compared equal."""
    return float("nan") if v is None else float(v)


def same(a, b) -> bool:
    """Two grid values are the same (NaN, the phase default, equals NaN)."""
    a, b = _key(a), _key(b)
    return (math.isnan(a) and math.isnan(b)) or a == b


def curves(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of every line and level (a figure's points): columns GROUP +
    fraction_pruned, mean, std, seeds, failed (a seed's training failed: mean NaN)."""
    acc = accuracy.copy()
    for col in ("find", "eval", "lpr_from"):
        acc[col] = acc[col].map(_key)
    g = acc.groupby(GROUP, dropna=False)
    structured = {"filters_pruned": ("filters_pruned", "mean")} if "filters_pruned" in acc else {}
    out = g.agg(fraction_pruned=("fraction_pruned", "mean"), **structured,
                mean=("test_acc", "mean"), std=("test_acc", "std"), seeds=("seed", "count"),
                failed=("failed", "any"))
    out = out.reset_index()
    out.loc[out["failed"], ["mean", "std"]] = np.nan
    out["std"] = out["std"].fillna(0.0).where(~out["failed"])
    out["coupled"] = [same(f, e) for f, e in zip(out["find"], out["eval"])]
    return out


def select(frame: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows of ``frame`` where each column equals the value given (None/NaN match NaN)."""
    keep = np.ones(len(frame), dtype=bool)
    for col, value in where.items():
        if isinstance(value, str | bool):
            keep &= (frame[col] == value).to_numpy()
        else:
            keep &= np.array([same(v, value) for v in frame[col]], dtype=bool)
    return frame[keep]


def line(curves: pd.DataFrame, **where) -> pd.Series:
    """One line's mean accuracy per level (NaN where a seed failed)."""
    part = select(curves, **where)
    return part.set_index("level")["mean"].sort_index()


def best_coupled_vs_decoupled(curves: pd.DataFrame, study: str) -> pd.DataFrame:
    """Fig 3: per level, the (H_find, H_eval) pair with the best mean among coupled pairs and
    among decoupled pairs, with its std over seeds. Failed pairs are left out there."""
    part = select(curves, study=study, kind=LOTTERY)
    part = part[part["lpr_from"].isna() & ~part["failed"]]
    rows = []
    for level, g in part.groupby("level"):
        row = {"level": level, "fraction_pruned": g["fraction_pruned"].mean()}
        for name, sub in (("coupled", g[g["coupled"]]), ("decoupled", g[~g["coupled"]])):
            if sub.empty:
                row.update({f"{name}_{k}": np.nan for k in ("find", "eval", "mean", "std")})
                continue
            best = sub.loc[sub["mean"].idxmax()]
            row.update({f"{name}_find": best["find"], f"{name}_eval": best["eval"],
                        f"{name}_mean": best["mean"], f"{name}_std": best["std"]})
        rows.append(row)
    return pd.DataFrame(rows)


def layerwise_pruning_ratios(masks_per_layer: pd.DataFrame) -> pd.DataFrame:
    """LPR_l = 1 - kept_l / numel_l of every find run's mask per level and layer (Fig 6)."""
    out = masks_per_layer.copy()
    out["lpr"] = 1.0 - out["kept"] / out["numel"]
    mask = out.groupby(["study", "find", "lpr_from", "seed", "level"], dropna=False)
    out["fraction_pruned"] = 1.0 - mask["kept"].transform("sum") / mask["numel"].transform("sum")
    return out


def lpr_means(lpr: pd.DataFrame, study: str) -> pd.DataFrame:
    """Mean and std over seeds of each layer's LPR per find value and level (regular find
    runs of ``study``); ``global_random`` is a uniform mask's expected LPR: the level's
    overall fraction pruned, in every layer."""
    part = lpr[(lpr["study"] == study) & lpr["lpr_from"].isna()]
    g = part.groupby(["find", "level", "depth", "layer"], dropna=False)
    out = g.agg(lpr=("lpr", "mean"), std=("lpr", "std"),
                global_random=("fraction_pruned", "mean")).reset_index()
    return out.sort_values(["find", "level", "depth"])


def lpr_table(lpr: pd.DataFrame, study: str, levels: list[int]) -> pd.DataFrame:
    """LPR per layer (columns) for every find value at the given levels (rows), in %."""
    m = lpr_means(lpr, study)
    m = m[m["level"].isin(levels)]
    table = m.pivot_table(index=["level", "find"], columns="layer", values="lpr",
                          dropna=False, sort=False)
    order = list(dict.fromkeys(m.sort_values("depth")["layer"]))
    return (100 * table[order]).round(2)


# ---- verdicts ---------------------------------------------------------------------------------
# Each claim (h21_check_values.md Q1-Q16) becomes a dict: id, figure, claim, verdict, numbers.
# Orderings compare means over seeds at the pruned levels (level >= 1) where neither side
# failed; "A > B" holds when the mean over those levels is higher (the count of levels where
# A is ahead is reported next to it).

HOLDS, FAILS = "holds", "does not hold"
CONTRADICTED = "not judged: the captions contradict each other"
NOT_RUN = "not run at this scale"


def compare(a: pd.Series, b: pd.Series) -> dict:
    """A's and B's mean over the pruned levels both have (a failed group leaves its level
    out), how many of those A leads, and which levels were left out."""
    levels = sorted(set(a.index) | set(b.index))
    pruned = [lv for lv in levels if lv >= 1]
    both = [lv for lv in pruned if lv in a.index and lv in b.index
            and not (np.isnan(a[lv]) or np.isnan(b[lv]))]
    left_out = [lv for lv in pruned if lv not in both]
    if not both:
        return {"a": np.nan, "b": np.nan, "ahead": 0, "levels": 0, "left_out": left_out}
    return {"a": float(a[both].mean()), "b": float(b[both].mean()),
            "ahead": int(sum(a[lv] > b[lv] for lv in both)), "levels": len(both),
            "left_out": left_out}


def common_means(lines: dict) -> dict:
    """Each line's mean over the pruned levels where no line failed."""
    keys = list(lines)
    frame = pd.concat([lines[k] for k in keys], axis=1, keys=range(len(keys)))
    frame = frame[(frame.index >= 1)].dropna()
    return {k: float(frame[i].mean()) if len(frame) else np.nan for i, k in enumerate(keys)}


def _pct(v: float) -> str:
    return "n/a" if v is None or np.isnan(v) else f"{100 * v:.2f}%"


def _fmt(v) -> str:
    return "full" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:g}"


def _verdict(ok: bool, *values: float) -> str:
    if any(np.isnan(v) for v in values):
        return "not judged: runs failed"
    return HOLDS if ok else FAILS


def _claim(qid: str, figure: str, claim: str, verdict: str, numbers: str = "") -> dict:
    return {"id": qid, "figure": figure, "claim": claim, "verdict": verdict, "numbers": numbers}


def _ordering(qid: str, figure: str, claim: str, a: pd.Series, b: pd.Series, names: tuple
              ) -> dict:
    c = compare(a, b)
    if c["levels"] == 0:
        return _claim(qid, figure, claim, "not judged: no pruned level without failed runs",
                      _left_out(c))
    numbers = (f"{names[0]} {_pct(c['a'])} vs {names[1]} {_pct(c['b'])} (mean over "
               f"{c['levels']} pruned levels; {names[0]} ahead at {c['ahead']}/{c['levels']})"
               + _left_out(c))
    return _claim(qid, figure, claim, HOLDS if c["a"] > c["b"] else FAILS, numbers)


def _left_out(c: dict) -> str:
    return (f"; levels {c['left_out']} left out: a training failed (collapsed)"
            if c["left_out"] else "")


def _find_mean(curves: pd.DataFrame, study: str, find) -> pd.Series:
    """Masks found with ``find``, evaluated under every eval value: the mean per level."""
    part = select(curves, study=study, kind=LOTTERY, find=find)
    part = part[part["lpr_from"].isna()]
    return part.groupby("level")["mean"].apply(lambda s: s.mean(skipna=False))


def _eval_mean(curves: pd.DataFrame, study: str, eval_value) -> pd.Series:
    part = select(curves, study=study, kind=LOTTERY, eval=eval_value)
    part = part[part["lpr_from"].isna()]
    return part.groupby("level")["mean"].apply(lambda s: s.mean(skipna=False))


def _dense(find_accuracy: pd.DataFrame, study: str, find) -> float:
    """The dense network trained under H_find (the find runs' level 0), NaN if one failed."""
    part = select(find_accuracy, study=study, find=find, lpr_from=None, level=0)
    return np.nan if part.empty or part["failed"].any() else float(part["test_acc"].mean())


def best_eval_per_level(curves: pd.DataFrame, study: str) -> pd.Series:
    """The eval value with the best accuracy at each pruned level, averaged over find
    values (the bottom rows of H21's A2/A4/A6); a level where some find value failed
    under every eval value has no best (it is left out, not averaged over the rest)."""
    part = select(curves, study=study, kind=LOTTERY)
    part = part[part["lpr_from"].isna() & (part["level"] >= 1)]
    means = part.groupby(["level", "eval"], dropna=False)["mean"].apply(
        lambda s: s.mean(skipna=False)).unstack("eval")
    return means.dropna(how="all").idxmax(axis=1)


def claims(curves: pd.DataFrame, find_accuracy: pd.DataFrame, lpr: pd.DataFrame,
           studies: dict, constrained: list, lpr_levels: list[int]) -> list[dict]:
    """Every H21 ordering (h21_check_values.md) this result can check, with its verdict;
    those whose study did not run say so. ``studies``: name -> decoupling.Study."""
    out = []
    lr = studies.get("lr")
    coupled = sorted(v for v in (lr.find if lr else []) if v in lr.eval) if lr else []
    if len(coupled) >= 2:
        hi, lo = coupled[-1], coupled[-2]
        lottery_hi = line(curves, study="lr", kind=LOTTERY, find=hi, eval=hi, lpr_from=None)
        for kind in ("global_random", "preserve_lpr"):
            base = line(curves, study="lr", kind=kind, find=hi, eval=hi)
            claim = (f"coupled LR {hi:g} (the largest) falls below the {KINDS[kind]} "
                     "baseline (H21: LR 0.5; the caption does not say which baseline)")
            if base.empty:
                out.append(_claim("Q1", "Fig 1a", claim, NOT_RUN + " (no baselines)"))
            else:
                out.append(_ordering("Q1", "Fig 1a", claim, base, lottery_hi,
                                     (KINDS[kind], f"lottery LR {hi:g}")))
        lottery_lo = line(curves, study="lr", kind=LOTTERY, find=lo, eval=lo, lpr_from=None)
        out.append(_ordering("Q2", "Fig 1b", f"coupled LR {lo:g} prunes well above coupled LR "
                             f"{hi:g} (H21: 0.2 vs 0.5)", lottery_lo, lottery_hi,
                             (f"LR {lo:g}", f"LR {hi:g}")))
        d_hi, d_lo = _dense(find_accuracy, "lr", hi), _dense(find_accuracy, "lr", lo)
        out.append(_claim("Q3", "Fig 1", f"dense training: LR {hi:g} beats LR {lo:g} (H21: 0.5 "
                          "beats 0.2)", _verdict(d_hi > d_lo, d_hi, d_lo),
                          f"dense {_pct(d_hi)} vs {_pct(d_lo)}"))
    else:
        out += [_claim(q, f, c, NOT_RUN) for q, f, c in (
            ("Q1", "Fig 1a", "coupled LR 0.5 falls below a random baseline"),
            ("Q2", "Fig 1b", "coupled LR 0.2 prunes well above coupled LR 0.5"),
            ("Q3", "Fig 1", "dense training: LR 0.5 beats LR 0.2"))]

    for name in ("lr", "batch_size", "weight_decay"):  # Fig 3
        claim = f"{name}: the best decoupled pair beats the best coupled one at each level"
        if name not in studies:
            out.append(_claim("Q4", "Fig 3", claim, NOT_RUN))
            continue
        best = best_coupled_vs_decoupled(curves, name).set_index("level")
        out.append(_ordering("Q4", "Fig 3", claim, best["decoupled_mean"], best["coupled_mean"],
                             ("best decoupled", "best coupled")))
        evals = best_eval_per_level(curves, name)
        out.append(_claim("Q4", "Fig 3", f"{name}: the best H_eval changes with sparsity",
                          HOLDS if evals.nunique() > 1 else FAILS,
                          "best eval value per pruned level: "
                          + ", ".join(_fmt(v) for v in evals)))

    for name, figure in (("late_rewinding", "Fig 4a"), ("warmup", "Fig 4b"),
                         ("lr_rewinding", "Fig 4c")):
        s = studies.get(name)
        claim = (f"{name.replace('_', ' ')}: the smaller LR_find gives better pruned models "
                 "although it is worse dense")
        if s is None or len(s.find) < 2:
            out.append(_claim("Q5", figure, claim, NOT_RUN))
            continue
        small, large = min(s.find), max(s.find)
        r = _ordering("Q5", figure, claim, _find_mean(curves, name, small),
                      _find_mean(curves, name, large), (f"LR_find {small:g}", f"{large:g}"))
        d_s, d_l = _dense(find_accuracy, name, small), _dense(find_accuracy, name, large)
        r["numbers"] += f"; dense {_pct(d_s)} vs {_pct(d_l)}"
        if r["verdict"] == HOLDS:
            r["verdict"] = _verdict(d_s < d_l, d_s, d_l)
        out.append(r)
        out.append(_direction("Q5", figure, f"{name.replace('_', ' ')}: the best LR_eval moves "
                              "from the higher to the lower value as sparsity grows",
                              best_eval_per_level(curves, name), falling=True))

    for name, figure in (("structured_lr", "Fig 5a"), ("structured_batch_size", "Fig 5b"),
                         ("structured_weight_decay", "Fig 5c")):
        claim = f"{name.replace('_', ' ')}: the best configuration is decoupled"
        if name not in studies:
            out.append(_claim("Q6", figure, claim, NOT_RUN))
            continue
        best = best_coupled_vs_decoupled(curves, name).set_index("level")
        best = best[best.index >= 1]
        won = (best["decoupled_mean"] > best["coupled_mean"]).sum()
        out.append(_claim("Q6", figure, claim, HOLDS if won > len(best) / 2 else FAILS,
                          f"decoupled best at {won}/{len(best)} filter sparsities"))

    out += _lpr_claims(lpr, studies, lpr_levels)

    for c in constrained:  # Fig 7
        claim = (f"{c.study}: bad H_find with the good run's LPR (blue) beats good H_find with "
                 "the bad run's LPR (orange)")
        blue = line(curves, study=c.study, kind=LOTTERY, find=c.bad, eval=c.eval, lpr_from=c.good)
        orange = line(curves, study=c.study, kind=LOTTERY, find=c.good, eval=c.eval,
                      lpr_from=c.bad)
        green = line(curves, study=c.study, kind=LOTTERY, find=c.good, eval=c.eval,
                     lpr_from=None)
        r = _ordering("Q8", "Fig 7", claim, blue, orange,
                      (f"blue ({c.bad:g} with {c.good:g}'s LPR)",
                       f"orange ({c.good:g} with {c.bad:g}'s LPR)"))
        g = compare(green, blue)
        r["numbers"] += f"; green (regular {c.good:g}) {_pct(g['a'])}"
        out.append(r)
    if not constrained:
        out.append(_claim("Q8", "Fig 7", "a good H_find forced to a bad run's LPR is much worse; "
                          "a bad H_find given a good run's LPR does well", NOT_RUN))

    wd0 = studies.get("wd0")
    claim = "WD_find = 0: a larger LR_find no longer hurts (evaluated at one LR_eval)"
    if wd0 is None or len(wd0.find) < 2:
        out.append(_claim("Q9", "Fig 8c", claim, NOT_RUN))
    else:
        small, large = min(wd0.find), max(wd0.find)
        out.append(_ordering("Q9", "Fig 8c", claim, _find_mean(curves, "wd0", large),
                             _find_mean(curves, "wd0", small),
                             (f"LR_find {large:g}", f"LR_find {small:g}")))

    out += _early_pruning(curves, studies.get("early_pruning"))

    for name, qid, figure, claim_find, larger_better, falling in (
            ("lr", "Q11", "Fig A2", None, None, True),
            ("batch_size", "Q12", "Fig A4", "a larger BS_find is better", True, False),
            ("weight_decay", "Q13", "Fig A6", "a smaller WD_find is better", False, True)):
        s = studies.get(name)
        what = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD"}[name]
        direction = ("from the higher to the lower value" if falling
                     else "from the lower to the higher value")
        if s is None:
            out.append(_claim(qid, figure, f"{what}_find order and best {what}_eval", NOT_RUN))
            continue
        if name == "lr":
            out.append(_lr_order(curves, s))
        else:
            lo, hi = min(s.find), max(s.find)
            a, b = (hi, lo) if larger_better else (lo, hi)
            out.append(_ordering(qid, figure, claim_find, _find_mean(curves, name, a),
                                 _find_mean(curves, name, b),
                                 (f"{what}_find {a:g}", f"{b:g}")))
        out.append(_direction(qid, figure, f"the best {what}_eval moves {direction} as "
                              "sparsity grows", best_eval_per_level(curves, name), falling))

    out.append(_claim("Q14", "Fig A8", "MiniPlaces (ResNet-50): LR_find 0.1 best",
                      NOT_RUN + " (MiniPlaces is not in this build)"))
    out.append(_abstract(curves, find_accuracy, studies))
    return out


def _direction(qid: str, figure: str, claim: str, best: pd.Series, falling: bool) -> dict:
    """The best eval value at the first pruned level vs at the sparsest level."""
    if len(best) < 2:
        return _claim(qid, figure, claim, "not judged: fewer than two pruned levels")
    first, last = best.iloc[0], best.iloc[-1]
    ok = last < first if falling else last > first
    return _claim(qid, figure, claim, HOLDS if ok else FAILS,
                  "best eval value per pruned level: " + ", ".join(_fmt(v) for v in best))


def _lr_order(curves: pd.DataFrame, s) -> dict:
    """A2: LR_find 0.1 > 0.2 > 0.05 >> 0.5, i.e. on a sorted 4-value grid v0 < v1 < v2 < v3:
    v1 > v2 > v0 > v3 (the same ranks on another grid)."""
    values = sorted(s.find)
    claim = "LR_find order 0.1 > 0.2 > 0.05 > 0.5 (by rank on this grid: 2nd > 3rd > 1st > 4th)"
    if len(values) != 4:
        return _claim("Q11", "Fig A2", claim, f"not judged: the grid has {len(values)} values")
    expected = [values[1], values[2], values[0], values[3]]
    means = common_means({v: _find_mean(curves, "lr", v) for v in values})
    if any(np.isnan(m) for m in means.values()):
        return _claim("Q11", "Fig A2", claim, "not judged: runs failed at every level")
    got = sorted(values, key=lambda v: -means[v])
    numbers = "observed " + " > ".join(f"{v:g} ({_pct(means[v])})" for v in got)
    return _claim("Q11", "Fig A2", claim, HOLDS if got == expected else FAILS, numbers)


def _early_layers(layers: pd.DataFrame) -> list[str]:
    """The first third (at least one) of the prunable layers by depth."""
    order = list(dict.fromkeys(layers.sort_values("depth")["layer"]))
    return order[: max(1, len(order) // 3)]


def _lpr_claims(lpr: pd.DataFrame, studies: dict, levels: list[int]) -> list[dict]:
    """Fig 6/8: the LPR depends on H_find (the spread across find values exceeds twice the
    seeds' own spread in some layer), the direction of that change in the early layers (by
    more than twice the seeds' spread there), and the smaller effect of LR_find when
    WD_find = 0."""
    out, spread = [], {}
    for name, direction in (("lr", None), ("batch_size", "larger"), ("weight_decay", "smaller")):
        what = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD"}[name]
        if name not in studies or lpr.empty:
            out.append(_claim("Q7", "Fig 6", f"{what}_find changes the LPR", NOT_RUN))
            continue
        m = lpr_means(lpr, name)
        m = m[m["level"].isin(levels)]
        by_layer = m.groupby(["level", "layer"])
        between = (by_layer["lpr"].max() - by_layer["lpr"].min())
        within = float(m["std"].fillna(0).mean())
        spread[name] = float(between.max())
        out.append(_claim(
            "Q7", "Fig 6", f"{what}_find changes the LPR (levels {levels})",
            HOLDS if between.max() > 2 * within else FAILS,
            f"largest spread of a layer's LPR across {what}_find values "
            f"{100 * between.max():.2f} pp vs seed std {100 * within:.2f} pp"))
        early = m[m["layer"].isin(_early_layers(m))]
        e = early.groupby("find")["lpr"].mean()
        noise = 2 * float(early["std"].fillna(0).mean())  # a difference the seeds make alone
        lo, hi = min(e.index), max(e.index)
        numbers = (f"LPR of {', '.join(_early_layers(m))} at levels {levels}: {what}_find "
                   f"{lo:g} {100 * e[lo]:.2f}%, {hi:g} {100 * e[hi]:.2f}% (twice the seeds' "
                   f"std: {100 * noise:.2f} pp)")
        if direction is None:
            out.append(_claim("Q7", "Fig 6 vs Fig 8", "LR_find and the early layers' LPR "
                              "(Fig 6: a small LR_find prunes them more; Fig 8: a high one does)",
                              CONTRADICTED, numbers))
        else:
            diff = e[hi] - e[lo] if direction == "larger" else e[lo] - e[hi]
            ok = diff > noise
            out.append(_claim("Q7", "Fig 6", f"a {direction} {what}_find prunes the early "
                              "layers more", HOLDS if ok else FAILS, numbers))
    if "wd0" in studies and "lr" in spread and not lpr.empty:
        m = lpr_means(lpr, "wd0")
        m = m[m["level"].isin(levels)]
        g = m.groupby(["level", "layer"])["lpr"]
        s0 = float((g.max() - g.min()).max())
        out.append(_claim("Q9", "Fig 8a/b", "with WD_find = 0, LR_find changes the LPR less",
                          HOLDS if s0 < spread["lr"] else FAILS,
                          f"largest LPR spread across LR_find: {100 * s0:.2f} pp at WD 0 vs "
                          f"{100 * spread['lr']:.2f} pp with weight decay"))
    else:
        out.append(_claim("Q9", "Fig 8a/b", "with WD_find = 0, LR_find changes the LPR less",
                          NOT_RUN))
    return out


def _early_pruning(curves: pd.DataFrame, s) -> list[dict]:
    claim = ("early pruning: the earliest pruning epoch is worst; the intermediate ones beat "
             "pruning at convergence")
    if s is None or len(s.find) < 3:
        return [_claim("Q10", "Fig 9", claim, NOT_RUN)]
    means = common_means({v: _find_mean(curves, s.name, v) for v in s.find})
    epochs = sorted(v for v in s.find if v is not None)
    first, middle = epochs[0], epochs[1:]
    full = None if None in s.find else epochs[-1]
    middle = [v for v in middle if v != full]
    ok = all(means[first] < means[v] for v in s.find if v != first) and all(
        means[v] > means[full] for v in middle)
    numbers = ", ".join(f"epoch {_fmt(v)}: {_pct(means[v])}" for v in s.find)
    return [_claim("Q10", "Fig 9", claim, HOLDS if ok else FAILS, numbers)]


def _abstract(curves: pd.DataFrame, find_accuracy: pd.DataFrame, studies: dict) -> dict:
    """Q16: some H_find gives a worse dense network but masks that train better."""
    claim = "some H_find gives a worse dense network but masks that train to higher accuracy"
    found, checked = [], False
    for name in ("lr", "batch_size", "weight_decay"):
        s = studies.get(name)
        if s is None:
            continue
        checked = True
        for a in s.find:
            for b in s.find:
                da, db = _dense(find_accuracy, name, a), _dense(find_accuracy, name, b)
                pa = compare(_find_mean(curves, name, a), _find_mean(curves, name, b))
                if da < db and pa["a"] > pa["b"]:
                    found.append(f"{name} {a:g} (dense {_pct(da)}, pruned {_pct(pa['a'])}) vs "
                                 f"{b:g} (dense {_pct(db)}, pruned {_pct(pa['b'])})")
    if not checked:
        return _claim("Q16", "Abstract", claim, NOT_RUN)
    return _claim("Q16", "Abstract", claim, HOLDS if found else FAILS,
                  "; ".join(found) if found else "no such pair in this run")


def describe_claims(claims: pd.DataFrame, ids: list[str]) -> str:
    """Markdown bullets: each claim with ``id`` in ``ids``, its verdict and its numbers."""
    rows = claims[claims["id"].isin(ids)]
    return "\n".join(f"- **{r.id}** ({r.figure}): {r.claim}: **{r.verdict}**"
                     + (f" ({r.numbers})" if r.numbers else "") + "."
                     for r in rows.itertuples())


def a9_claims(curves: pd.DataFrame, find_accuracy: pd.DataFrame) -> list[dict]:
    """Q15 (Fig A9, ResNet-18 on Tiny ImageNet, study ``lr``): the two smaller LR_find beat
    the largest at every LR_eval; the largest trains the best dense network; its coupled
    lottery mask falls below a random baseline."""
    part = select(curves, study="lr", kind=LOTTERY)
    finds = sorted(part["find"].dropna().unique())
    if len(finds) < 2:
        return [_claim("Q15", "Fig A9", "Tiny ImageNet: LR_find orderings", NOT_RUN)]
    large, out = finds[-1], []
    for e in sorted(part["eval"].dropna().unique()):
        lines = {f: line(curves, study="lr", kind=LOTTERY, find=f, eval=e, lpr_from=None)
                 for f in finds}
        means = common_means(lines)
        ok = all(means[f] > means[large] for f in finds[:-1])
        out.append(_claim("Q15", "Fig A9", f"LR_eval {e:g}: every smaller LR_find beats "
                          f"LR_find {large:g}", HOLDS if ok else FAILS,
                          ", ".join(f"LR_find {f:g} {_pct(means[f])}" for f in finds)))
    dense = {f: _dense(find_accuracy, "lr", f) for f in finds}
    best = max(dense, key=lambda f: -np.inf if np.isnan(dense[f]) else dense[f])
    out.append(_claim("Q15", "Fig A9", f"LR {large:g} trains the best dense network",
                      HOLDS if best == large else FAILS,
                      ", ".join(f"{f:g}: {_pct(d)}" for f, d in dense.items())))
    lottery_large = line(curves, study="lr", kind=LOTTERY, find=large, eval=large,
                         lpr_from=None)
    for kind in ("global_random", "preserve_lpr"):
        base = line(curves, study="lr", kind=kind, find=large, eval=large)
        claim = f"coupled LR {large:g} falls below the {KINDS[kind]} baseline"
        out.append(_claim("Q15", "Fig A9", claim, NOT_RUN) if base.empty else _ordering(
            "Q15", "Fig A9", claim, base, lottery_large,
            (KINDS[kind], f"lottery {large:g}")))
    return out


Masks = dict[str, torch.Tensor]

# ==============================================================================================
# L23: layer sparsity, overlap between tickets, stability of overlapping connections, partial
# re-initialisation (paper_specs.md 6.4)


def layer_sparsity(masks: Masks) -> pd.DataFrame:
    """Per prunable tensor in network order (``depth`` 0..), and ``all``: its size, how many
    weights the mask keeps, and its layerwise pruning ratio LPR = 100 (1 - kept / numel)."""
    rows = [{"layer": n, "depth": d, "numel": m.numel(), "kept": int(m.sum())}
            for d, (n, m) in enumerate(masks.items())]
    rows.append({"layer": "all", "depth": len(rows), "numel": sum(r["numel"] for r in rows),
                 "kept": sum(r["kept"] for r in rows)})
    frame = pd.DataFrame(rows)
    frame["lpr_pct"] = 100.0 * (1.0 - frame["kept"] / frame["numel"])
    return frame


def overlap_mask(tickets: list[Masks]) -> Masks:
    """O: the connections every ticket keeps (per tensor, the logical and of the masks)."""
    first, *rest = tickets
    out = {n: m.bool().clone() for n, m in first.items()}
    for t in rest:
        for n in out:
            out[n] &= t[n].bool()
    return {n: m.to(torch.float32) for n, m in out.items()}


def overlap(tickets: dict[str, Masks]) -> pd.DataFrame:
    """The overlap O of several tickets (measure -> masks of one initialisation and level).

    One row per measure and tensor, and per measure ``all``: ``numel``, the ticket's
    ``kept`` = |M_c|, ``overlap`` = |O|, ``pct_of_connections`` = 100 |O| / numel (L23 §5:
    0.33% of all prunable connections) and ``pct_of_ticket`` = 100 |O| / |M_c| (9.34% of a
    ticket's connections; per layer, e.g. 68.78% in the first conv), and
    ``chance_pct_of_ticket``: what pct_of_ticket would be if the other tickets kept each
    connection independently at their density in that tensor."""
    o = overlap_mask(list(tickets.values()))
    rows = []
    for measure, masks in tickets.items():
        part = [{"measure": measure, "layer": n, "numel": m.numel(), "kept": int(m.sum()),
                 "overlap": int(o[n].sum())} for n, m in masks.items()]
        part.append({"measure": measure, "layer": "all", "numel": sum(r["numel"] for r in part),
                     "kept": sum(r["kept"] for r in part),
                     "overlap": sum(r["overlap"] for r in part)})
        rows += part
    frame = pd.DataFrame(rows)
    frame["pct_of_connections"] = 100.0 * frame["overlap"] / frame["numel"]
    frame["pct_of_ticket"] = 100.0 * frame["overlap"] / frame["kept"].where(frame["kept"] > 0)
    # Chance: the other tickets keeping each connection of this tensor independently, at
    # their densities in it (for "all", as if every tensor had the network's density).
    density = frame.pivot_table(index="layer", columns="measure", values="kept", sort=False)
    density = density.div(frame.groupby("layer", sort=False)["numel"].first(), axis=0)
    frame["chance_pct_of_ticket"] = [
        100.0 * density.loc[r.layer].drop(r.measure).prod() for r in frame.itertuples()]
    return frame


def stability(finals: list[Masks], ticket: Masks, overlap: Masks) -> pd.DataFrame:
    """L23 §5, Figure 2: for every connection of a ticket, the end-of-training values it had at
    each level that trained it (``finals``: one state per level 0..L; the masks nest, so a
    connection of the level-L ticket trained at every level), their population ``std``, and
    ``sign_flip``: its sign was not the same at every level (a value of exactly 0 counts as
    its own sign). One row per connection: layer, index, in_overlap, std, sign_flip."""
    frames = []
    for name, m in ticket.items():
        keep = m.flatten().bool()
        values = torch.stack([f[name].flatten()[keep] for f in finals]).double()  # [levels, n]
        signs = torch.sign(values)
        frames.append(pd.DataFrame({
            "layer": name, "index": keep.nonzero().squeeze(1).numpy(),
            "in_overlap": overlap[name].flatten()[keep].bool().numpy(),
            "std": values.std(0, unbiased=False).numpy(),
            "sign_flip": (signs != signs[0]).any(0).numpy()}))
    return pd.concat(frames, ignore_index=True)


def stability_summary(frame: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per ``by`` columns (e.g. measure), layer (and ``all``) and group (in the overlap or
    not): the number of connections, the mean and median std of their end-of-level values,
    how many flipped sign and the percentage that did."""
    both = pd.concat([frame, frame.assign(layer="all")], ignore_index=True)
    out = both.groupby([*by, "layer", "in_overlap"], sort=False).agg(
        connections=("std", "size"), mean_std=("std", "mean"), median_std=("std", "median"),
        sign_flips=("sign_flip", "sum")).reset_index()
    out["sign_flip_pct"] = 100.0 * out["sign_flips"] / out["connections"]
    return out


def movement(start: torch.Tensor, end: torch.Tensor, ticket: torch.Tensor,
             overlap: torch.Tensor) -> pd.DataFrame:
    """L23 Figure 3, for one tensor: each ticket connection's value at the start of training
    (the rewind point) and at the end of a level, and ``movement`` = |end - start|."""
    keep = ticket.flatten().bool()
    s, e = start.flatten()[keep].double(), end.flatten()[keep].double()
    return pd.DataFrame({"in_overlap": overlap.flatten()[keep].bool().numpy(),
                         "start": s.numpy(), "end": e.numpy(),
                         "movement": (e - s).abs().numpy()})


def partial_reinit(init: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor],
                   overlap: Masks) -> dict[str, torch.Tensor]:
    """theta_0' of L23 §5: every prunable tensor keeps ``init`` on the overlap and takes
    ``fresh`` (a new draw of the same initialiser) elsewhere; every other parameter and buffer
    (biases, BatchNorm) stays ``init`` (paper_specs.md decision 32)."""
    out = {n: t.clone() for n, t in init.items()}
    for n, o in overlap.items():
        out[n] = torch.where(o.bool(), init[n], fresh[n])
    return out


def reinit_overlap(overlap: Masks, ticket: Masks) -> pd.DataFrame:
    """Do the overlap's connections survive a partial re-initialisation (L23 §5)? Per tensor
    (and ``all``): ``observed`` = |O and M'| where M' is the new ticket, ``expected`` =
    |O| |M'| / numel if M' kept connections independently of O, and ``increase_pct`` =
    100 (observed / expected - 1) (the paper: +8.5..70% in the first convs, +440..480% in the
    FC, -3.2..20% in the 1x1 convs)."""
    rows = [{"layer": n, "numel": m.numel(), "overlap": int(overlap[n].sum()),
             "kept": int(m.sum()), "observed": int((overlap[n].bool() & m.bool()).sum())}
            for n, m in ticket.items()]
    frame = pd.DataFrame(rows)
    frame["expected"] = frame["overlap"] * frame["kept"] / frame["numel"]
    total = {"layer": "all", "numel": frame["numel"].sum(), "overlap": frame["overlap"].sum(),
             "kept": frame["kept"].sum(), "observed": frame["observed"].sum(),
             "expected": frame["expected"].sum()}  # the sum of the per-layer expectations
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    frame["increase_pct"] = 100.0 * (frame["observed"] / frame["expected"].where(
        frame["expected"] > 0) - 1.0)
    return frame


def extreme_range(std: float, n: int, q: float = 0.01) -> tuple[float, float]:
    """The central 1 - 2q interval of the largest of n independent N(0, std^2) draws (the
    smallest is its mirror image): P(max <= x) = Phi(x / std)^n, so x_p = std Phi^-1(p^(1/n)).
    Used to check that a paper's weight range at initialisation (L23 Table 1) is one our
    initialiser and layer size produce."""
    def quantile(p: float) -> float:
        return std * float(sps.norm.isf(-math.expm1(math.log(p) / n)))  # 1 - p^(1/n), exactly

    return quantile(q), quantile(1.0 - q)


def reinit_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """``reinit_overlap`` rows of several re-initialisations, per measure and tensor: the mean
    kept, observed and expected counts and the mean, min and max increase over chance."""
    return frame.groupby(["measure", "layer"], sort=False).agg(
        overlap=("overlap", "first"), kept=("kept", "mean"), observed=("observed", "mean"),
        expected=("expected", "mean"), increase_pct=("increase_pct", "mean"),
        increase_min=("increase_pct", "min"), increase_max=("increase_pct", "max"),
        reinits=("increase_pct", "size")).reset_index()
