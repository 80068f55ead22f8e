"""L23's tables as the book shows them (notebook 06; ``lt_core.tables``' house style)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...tables import Html, legend, show
from .claims import table2_status


def table2(frame: pd.DataFrame, scale: str):
    """``LayerwiseResult.table2``: per network one table with a row per level and measure:
    this build and L23, both mean ± std in %, the difference with its tolerance in points,
    and the cell's verdict (``l23.claims.table2_status``)."""
    parts = []
    for model, t in frame.groupby("model", sort=False):
        verdicts = [table2_status(r, scale) for r in t.itertuples()]
        out = pd.DataFrame({
            "level (sparsity)": [f"{lv} ({s:.1f}%)" for lv, s in zip(t["level"],
                                                                     t["sparsity_pct"])],
            "measure": t["measure"],
            "this build, %": [f"{m:.2f} ± {0 if np.isnan(s) else s:.2f} (n = {n})"
                              for m, s, n in zip(t["mean"], t["std"], t["n"])],
            "L23, %": [f"{m:.2f} ± {s:.2f}" for m, s in zip(t["paper_mean"], t["paper_std"])],
            "difference (tolerance), points": [f"{d:+.2f} ({tol:.2f})"
                                               for d, tol in zip(t["diff"], t["tolerance"])],
            "verdict": verdicts})
        parts.append(show(out, {"level (sparsity)": 14, "measure": 11, "this build, %": 21,
                                "L23, %": 14, "verdict": 22}, ("verdict",), caption=model))
        parts.append(legend(verdicts))
    return Html(*parts)


def overlap(frame: pd.DataFrame):
    """Section 5's overlap per layer: for each measure, the % of its ticket in the overlap
    next to what chance would give."""
    t = frame.pivot_table(index="layer", columns="measure", sort=False,
                          values=["pct_of_ticket", "chance_pct_of_ticket"])
    measures = list(dict.fromkeys(frame["measure"]))
    out = pd.DataFrame({"layer": [str(i).replace(".weight", "") for i in t.index]})
    for m in measures:
        out[f"{m}: % of its ticket (chance)"] = [
            f"{a:.2f} ({b:.2f})" for a, b in zip(t[("pct_of_ticket", m)],
                                                 t[("chance_pct_of_ticket", m)])]
    return show(out, {"layer": 22})


def stability(frame: pd.DataFrame):
    """``analysis.stability_summary`` by measure: per layer and group, the connections, the
    mean and median std of their end-of-level values, and the sign flips (% and count)."""
    out = pd.DataFrame({
        "measure": frame["measure"], "layer": frame["layer"].str.replace(".weight", ""),
        "connections": ["in the overlap" if o else "not in it" for o in frame["in_overlap"]],
        "count": frame["connections"].map(lambda v: f"{v:,}"),
        "std of values, mean / median": [f"{a:.4f} / {b:.4f}" for a, b in
                                         zip(frame["mean_std"], frame["median_std"])],
        "sign flipped, % (count)": [f"{p:.1f} ({n:,})" for p, n in
                                    zip(frame["sign_flip_pct"], frame["sign_flips"])]})
    return show(out, {"measure": 13, "layer": 17, "connections": 17, "count": 11})


def reinit(frame: pd.DataFrame):
    """``analysis.reinit_summary``: per measure and layer, the overlap, what the new ticket
    keeps of it against chance, and the increase over chance (mean, range over seeds)."""
    out = pd.DataFrame({
        "measure": frame["measure"], "layer": frame["layer"].str.replace(".weight", ""),
        "overlap, connections": frame["overlap"].map(lambda v: f"{v:,.0f}"),
        "new ticket keeps of it: observed / chance": [
            f"{o:,.0f} / {e:,.1f}" for o, e in zip(frame["observed"], frame["expected"])],
        "beyond chance, % (range)": [f"{m:+.1f} ({lo:+.1f} .. {hi:+.1f})" for m, lo, hi in
                                     zip(frame["increase_pct"], frame["increase_min"],
                                         frame["increase_max"])],
        "re-inits": frame["reinits"]})
    return show(out, {"measure": 13, "layer": 15, "re-inits": 9})


