"""H21's analyses, pure functions on the experiment's frames: figure curves (mean and std over seeds), the best coupled vs decoupled pair, layerwise pruning ratios (LPR).

Frames: ``accuracy`` (one row per figure point and seed: study, pruning, find, eval, lpr_from,
seed, level, fraction_pruned, test_acc, failed), ``find_accuracy`` (the find runs' own
trainings) and ``masks_per_layer`` (kept weights per layer of every find run's masks).
A group of seeds with a failed training has no mean: it is reported as failed, never
averaged over the seeds that did not fail.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

GROUP = ["study", "pruning", "find", "eval", "lpr_from", "level"]
LOTTERY = "lottery"


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


def best_coupled_vs_decoupled(curves: pd.DataFrame, study: str) -> pd.DataFrame:
    """Fig 3: per level, the (H_find, H_eval) pair with the best mean among coupled pairs and
    among decoupled pairs, with its std over seeds. Failed pairs are left out there."""
    part = select(curves, study=study, pruning=LOTTERY)
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


Masks = dict[str, torch.Tensor]


ANY = object()  # a column not constrained


def points(acc: pd.DataFrame, study: str, pruning: str = LOTTERY, find=ANY, eval=ANY,
           lpr_from=None) -> pd.DataFrame:
    """One line's test accuracy, level x seed (NaN where a training failed or did not run);
    with several eval (or find) values, their mean per level and seed (NaN if any is)."""
    part = acc[(acc["study"] == study) & (acc["pruning"] == pruning)]
    for col, value in (("find", find), ("eval", eval), ("lpr_from", lpr_from)):
        if value is not ANY:
            part = part[np.array([same(v, value) for v in part[col]], dtype=bool)]
    if part.empty:
        return pd.DataFrame()
    return part.groupby(["level", "seed"])["test_acc"].apply(
        lambda s: s.mean(skipna=False)).unstack("seed")


def common_levels(*lines: pd.DataFrame) -> tuple[list[int], list[int]]:
    """(pruned levels where every seed of every line has a result, pruned levels left out)."""
    levels = sorted(set.union(*(set(x.index) for x in lines)))
    pruned = [lv for lv in levels if lv >= 1]
    ok = [lv for lv in pruned if all(lv in x.index and x.loc[lv].notna().all() for x in lines)]
    return ok, [lv for lv in pruned if lv not in ok]


def seed_means(line: pd.DataFrame, levels: list[int]) -> dict[int, float]:
    return {int(s): float(v) for s, v in line.loc[levels].mean().items()}


def dense(find_acc: pd.DataFrame, study: str, find) -> dict[int, float]:
    """The dense network trained under H_find (the find runs' level 0), per seed."""
    part = find_acc[(find_acc["study"] == study) & find_acc["lpr_from"].isna()
                    & (find_acc["level"] == 0)]
    part = part[np.array([same(v, find) for v in part["find"]], dtype=bool)]
    return {int(r.seed): (np.nan if r.failed else float(r.test_acc)) for r in part.itertuples()}


def pair_lines(acc: pd.DataFrame, study: str) -> dict[tuple, pd.DataFrame]:
    """Every (find, eval) pair's line of a study (regular find runs)."""
    part = acc[(acc["study"] == study) & (acc["pruning"] == LOTTERY) & acc["lpr_from"].isna()]
    keys = {(f, e) for f, e in zip(part["find"], part["eval"])}
    return {k: points(acc, study, find=k[0], eval=k[1]) for k in keys}


def pruned_levels(acc: pd.DataFrame, study: str) -> list[int]:
    return sorted(lv for lv in acc[acc["study"] == study]["level"].unique() if lv >= 1)


def early_lpr(lpr: pd.DataFrame, study: str, levels: list[int], find) -> dict[int, float]:
    """Per seed: the mean LPR of the early layers (the first third) at ``levels``."""
    part = lpr[(lpr["study"] == study) & lpr["lpr_from"].isna() & lpr["level"].isin(levels)]
    part = part[np.array([same(v, find) for v in part["find"]], dtype=bool)]
    order_ = list(dict.fromkeys(part.sort_values("depth")["layer"]))
    early = order_[: max(1, len(order_) // 3)]
    part = part[part["layer"].isin(early)]
    return {int(k): float(v) for k, v in part.groupby("seed")["lpr"].mean().items()}


def lpr_spread(lpr: pd.DataFrame, study: str, levels: list[int], finds=None) -> tuple[float, float]:
    """(largest spread of a layer's mean LPR across find values, mean seed std of the LPR)."""
    m = lpr_means(lpr, study)
    m = m[m["level"].isin(levels)]
    if finds is not None:
        m = m[m["find"].isin(finds)]
    g = m.groupby(["level", "layer"])["lpr"]
    return float((g.max() - g.min()).max()), float(m["std"].fillna(0).mean())
