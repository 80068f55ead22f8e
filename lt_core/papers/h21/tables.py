"""H21's tables as the book shows them (notebook 05; ``lt_core.tables``' house style)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...tables import fixed, show, with_legend


def _value(v) -> str:
    return "full" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:g}"


def best_pairs(frame: pd.DataFrame, what: str = "LR"):
    """``analysis.best_coupled_vs_decoupled``: per level the best coupled pair and the best
    decoupled pair (H_find → H_eval), each with its accuracy in % (mean ± std over seeds)."""
    def pair(name: str, r) -> str:
        return f"{_value(r[f'{name}_find'])} → {_value(r[f'{name}_eval'])}"

    def acc(name: str, r) -> str:
        m, s = r[f"{name}_mean"], r[f"{name}_std"]
        return "" if np.isnan(m) else f"{100 * m:.2f} ± {100 * (0 if np.isnan(s) else s):.2f}"

    rows = [{"level": int(r["level"]), "fraction pruned": f"{r['fraction_pruned']:.3f}",
             f"best coupled {what}_find → {what}_eval": pair("coupled", r),
             "its accuracy, %": acc("coupled", r),
             f"best decoupled {what}_find → {what}_eval": pair("decoupled", r),
             "its accuracy, % ": acc("decoupled", r)} for _, r in frame.iterrows()]
    return show(pd.DataFrame(rows), {"level": 8, "fraction pruned": 12})


def lpr(frame: pd.DataFrame, what: str = "LR", max_columns: int = 7):
    """``analysis.lpr_table`` (LPR per layer, %, by level and H_find): layers as columns
    when they are few, else as rows."""
    t = frame.copy()
    t.columns = [str(c).replace(".weight", "") for c in t.columns]
    t.index = [f"level {lv}, {what}_find {_value(f)}" for lv, f in t.index]
    if len(t.columns) > max_columns:
        t = t.T
        t.index.name = "layer"
        label = "layer"
    else:
        t.index.name = "level and mask"
        label = "level and mask"
    t = t.reset_index().rename(columns={"index": label})
    return show(t, {label: 30}, formats={c: fixed(1) for c in t.columns if c != label})


def claims(claims_frame: pd.DataFrame):
    """``Result.claims_table``: id and figure, the claim, its verdict, the statistic behind
    it, each cell whole; a legend of the statuses."""
    t = claims_frame
    out = pd.DataFrame({"id": t["id"] + ", " + t["figure"], "claim": t["claim"],
                        "verdict": t["verdict"], "statistic": t["statistic"]})
    return with_legend(show(out, {"id": 11, "claim": 33, "verdict": 16, "statistic": 40},
                             ("verdict",), font="0.8em"), t["verdict"])


