"""Z19's tables as the book shows them (notebooks 01-04; ``lt_core.tables``' house style)."""

from __future__ import annotations

import pandas as pd

from ... import stats
from ...tables import pct, show, with_legend
from .figures import PANELS

# Z19 (notebooks 01-04)


def table_s1(frame: pd.DataFrame):
    """``z19.config.table_s1``: one row per setting, one column per network, wrapped to fit."""
    out = frame.rename_axis("setting").reset_index()
    return show(out, {"setting": 24}, font="0.8em")


def final_accuracy(frame: pd.DataFrame):
    """``z19.experiment.Result.final_level_accuracy``: accuracy in %, weights remaining in % with one
    decimal (Z19's axis)."""
    t = frame.reset_index()
    out = pd.DataFrame({
        "network": t["model"], "line": t["line"],
        "weights remaining, %": t["percent_remaining"].map(lambda v: f"{v:.1f}"),
        "test accuracy, % (mean)": t["mean"].map(pct),
        "min, %": t["min"].map(pct), "max, %": t["max"].map(pct), "seeds": t["seeds"]})
    return show(out)


def stars(summary: pd.DataFrame, pair: tuple[str, str]):
    """Markdown: how many stars a ``z19.figures.levels`` figure with these ``stars`` shows, per
    panel, or that none of its levels was significant."""
    from IPython.display import Markdown

    parts = []
    for metric, (label, higher) in PANELS.items():
        found = []
        for model, part in summary.groupby("model", sort=False):
            s = stats.pairwise_stars(part, pair, metric, higher)
            found += [f"{model} level {r.level} ({r.line})" for r in s.itertuples()]
        parts.append(f"{label}: " + (", ".join(found) if found else "none"))
    seeds = summary["seed"].nunique()
    return Markdown(f"**Stars** (one-sided Welch t-test over {seeds} seeds, p < 0.05, "
                    f"`{pair[0]}` against `{pair[1]}`): " + "; ".join(parts) + ".")


def claims(frame: pd.DataFrame):
    """``claims.table``: claim, network, verdict, this build's value of each line (named), the
    statistic behind the verdict and the source; a legend of the statuses shown."""
    out = frame[["claim", "network", "verdict", "this build", "statistic", "source"]]
    return with_legend(show(out, {"claim": 22, "network": 9, "verdict": 15, "this build": 19,
                                   "statistic": 25, "source": 10}, ("verdict",), font="0.8em"),
                        frame["verdict"])





def table_s2(claims: pd.DataFrame):
    """Table S2 and the §5 ordering from ``SupermasksResult.claims``: per network and claim
    the paper's value, this run's (mean over seeds, in %, [min-max]) and the verdict the
    scorecard gives it."""
    out = pd.DataFrame({
        "network": claims["network"], "claim": claims["claim"],
        "Z19": claims["paper says"], "this run": claims["this build"],
        "verdict": claims["verdict"]})
    return show(out, {"network": 10, "claim": 36, "verdict": 20}, verdicts=("verdict",))


def learned(frame: pd.DataFrame):
    """Learned supermasks per network and initial logit c, mean over seeds: accuracy in %,
    expected weights pruned in %, the iteration the accuracy was taken at."""
    g = frame.groupby(["model", "c"])[["final_acc", "pruned_pct", "iteration"]].mean()
    g = g.reset_index()
    out = pd.DataFrame({
        "network": g["model"], "initial logit c": g["c"].map(lambda v: f"{v:g}"),
        "test accuracy, %": g["final_acc"].map(pct),
        "weights pruned (expected), %": g["pruned_pct"].map(lambda v: f"{v:.1f}"),
        "at iteration": g["iteration"].map(lambda v: f"{v:,.0f}")})
    return show(out)


def round_trip(frame: pd.DataFrame):
    """``maskfile.round_trip``: the file's size against the network's, and the accuracy in
    the run against the rebuilt network's, in %."""
    t = frame.reset_index()
    out = pd.DataFrame({
        "network": t["network"], "seed": t["seed"], "prune power": t["prune power"],
        "file, KB (float32 network, KB)": [f"{a:g} ({b:g})" for a, b in
                                           zip(t["file (KB)"], t["float32 network (KB)"])],
        "test accuracy in the run, %": t["test acc. in the run"].map(pct),
        "rebuilt from the file, %": t["test acc. rebuilt from the file"].map(pct),
        "bit for bit": t["bit for bit"].map({True: "yes", False: "no"})})
    return show(out)


