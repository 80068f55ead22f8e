"""Z19's figures: accuracy and early-stopping iteration per pruning level (Figures 1-4, S1-S5), the supermask curves and the learned supermasks' lengths. x: percent of weights remaining, log, dense on the left."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ... import stats
from ...plots import (
    WIDTH,
    log_x,
    pct_axis,
    readable,
    series_styles,
)

PANELS = {  # metric -> (what it is, higher is better)
    "early_stop_iteration": ("early-stopping iteration", False),
    "test_acc_at_early_stop": ("test accuracy at early stopping", True),
}
AXIS_LABELS = {"early_stop_iteration": "iteration", "test_acc_at_early_stop": "test accuracy, %"}


def levels(summary: pd.DataFrame, title: str = "", panels: tuple[str, ...] = tuple(PANELS),
           dense_baseline: bool = False, stars: tuple[str, str] | None = None) -> plt.Figure:
    """One row per network, one panel per metric, one line per member; ``stars``: the pair of
    lines whose significant differences are starred. Failed levels are left out (a network
    whose runs all failed gets empty panels that say so)."""
    ok = summary[~summary["failed"]]
    members = list(dict.fromkeys(ok["line"]))
    styles = series_styles(members)
    nets = list(dict.fromkeys(summary["model"])) if "model" in summary else [None]
    fig, axes = plt.subplots(len(nets), len(panels), squeeze=False,
                             figsize=(WIDTH, 3.2 * len(nets)))
    for row, net in zip(axes, nets):
        part = ok if net is None else ok[ok["model"] == net]
        for ax, metric in zip(row, panels):
            label, higher = PANELS.get(metric, (metric, True))
            for member in members:
                g = part[part["line"] == member].groupby("level").agg(
                    x=("percent_remaining", "mean"), mean=(metric, "mean"),
                    lo=(metric, "min"), hi=(metric, "max"))
                ax.plot(g["x"], g["mean"], ms=3, label=member, **styles[member])
                ax.fill_between(g["x"], g["lo"], g["hi"], color=styles[member]["color"],
                                alpha=0.12, lw=0)
            if stars is not None:
                for _, s in stats.pairwise_stars(part, stars, metric, higher).iterrows():
                    ax.plot(s["percent_remaining"], s["value"], marker="*", ms=12, ls="none",
                            color=styles[s["line"]]["color"], markeredgecolor="black",
                            markeredgewidth=0.5)
            if dense_baseline and metric == "test_acc_at_early_stop":
                dense = part[part["level"] == 0][metric].mean()
                ax.axhline(dense, color="black", ls="--", lw=1, label="dense (level 0)")
            if metric == "test_acc_at_early_stop":
                pct_axis(ax)
            if part.empty:
                ax.text(0.5, 0.5, "every run failed", ha="center", transform=ax.transAxes)
            else:
                log_x(ax, part)
            ax.set_ylabel(AXIS_LABELS.get(metric, label))
            ax.set_title(f"{net}: {label}" if net else label)
    readable(fig, axes[0][-1], title)
    return fig


def supermask_curves(table: pd.DataFrame, learned: pd.DataFrame | None = None,
                     dense: pd.DataFrame | None = None, title: str = "",
                     highlight: str = "large_final_same_sign") -> plt.Figure:
    """Z19 Figure 4 / S8: untrained test accuracy of every criterion's one-shot supermask vs
    weights remaining; per network a panel on the initial weights above one on the signed
    constant, mean line with min-max band over seeds. Baselines: the untrained network with
    no mask (power 0) and the trained dense network (``dense``: the dense runs' summary); on
    the initial weights the learned supermasks, one point per c (mean over seeds, min-max).
    ``highlight``: the criterion drawn thicker (the supermask the chapter is about)."""
    nets = list(dict.fromkeys(table["model"]))
    criteria = list(dict.fromkeys(table["criterion"]))
    if highlight in criteria:  # first in the legend
        criteria = [highlight] + [c for c in criteria if c != highlight]
    styles = series_styles(criteria, highlight if highlight in criteria else None)
    panels = [(net, w) for net in nets for w in ("initial", "signed_constant")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH, 3.3 * len(panels)), squeeze=False)
    for ax, (net, weights) in zip(axes[:, 0], panels):
        part = table[(table["model"] == net) & (table["weights"] == weights)]
        for criterion in criteria:
            g = part[part["criterion"] == criterion].groupby("power").agg(
                x=("percent_remaining", "mean"), mean=("test_acc", "mean"),
                lo=("test_acc", "min"), hi=("test_acc", "max"))
            ax.plot(g["x"], g["mean"], ms=2.5, label=criterion,
                    **({"lw": 1.2} | styles[criterion]))
            ax.fill_between(g["x"], g["lo"], g["hi"], color=styles[criterion]["color"],
                            alpha=0.10, lw=0)
        untrained = part[part["power"] == 0]["test_acc"].mean()
        ax.axhline(untrained, color="grey", ls=":", lw=1.5, label="untrained_baseline")
        if dense is not None:
            d = dense[(dense["model"] == net) & (dense["level"] == 0)]
            ax.axhline(d["test_acc_at_early_stop"].mean(), color="dimgrey", ls="--", lw=1.2,
                       label="trained_baseline")
        if learned is not None and weights == "initial":
            _learned_points(ax, learned[(learned["model"] == net) & ~learned["failed"]])
        log_x(ax, part)
        pct_axis(ax)
        ax.set_ylabel("test accuracy, untrained, %")
        ax.set_title(f"{net}: mask x {weights.replace('_', ' ')}")
    readable(fig, axes[0][0], title)
    return fig


def _learned_points(ax: plt.Axes, learned: pd.DataFrame) -> None:
    g = learned.assign(x=100 - learned["pruned_pct"]).groupby("c").agg(
        x=("x", "mean"), mean=("final_acc", "mean"), lo=("final_acc", "min"),
        hi=("final_acc", "max"))
    if g.empty:
        return
    ax.errorbar(g["x"], g["mean"], yerr=[g["mean"] - g["lo"], g["hi"] - g["mean"]], fmt="D",
                ms=6, color="black", mfc="white", ecolor="black", capsize=3,
                label="learned_mask")


def learned_length(curves: pd.DataFrame, lengths: dict[str, dict[str, int]],
                   title: str = "") -> plt.Figure:
    """Learned-supermask test accuracy against training length, one panel per network: one
    line per c, mean over seeds of the evaluations during training (each a fresh mask sample
    per 2,500 test images), min-max band; the paper's Table S2 number as a horizontal line,
    ``lengths`` (label -> iterations, per network) as vertical ones."""
    from ... import paper

    nets = list(dict.fromkeys(curves["model"]))
    test = curves[(curves["split"] == "test") & (curves["metric"] == "acc")
                  & (curves["iteration"] > 0)]
    styles = series_styles(sorted(test["c"].unique()))
    fig, axes = plt.subplots(len(nets), 1, figsize=(WIDTH, 3.6 * len(nets)), squeeze=False)
    for ax, net in zip(axes[:, 0], nets):
        for c, g in test[test["model"] == net].groupby("c"):
            curve = g.groupby("iteration")["value"].agg(["mean", "min", "max"])
            ax.plot(curve.index, curve["mean"], lw=1.5, label=f"c = {c:g}",
                    **(styles[c] | {"marker": None}))
            ax.fill_between(curve.index, curve["min"], curve["max"], color=styles[c]["color"],
                            alpha=0.15, lw=0)
        ref = paper.table_s2().loc[net, "learned_mask_x_initial_weights"] / 100
        ax.axhline(ref, color="black", ls="--", lw=1.2, label=f"Z19: {100 * ref:.1f}%")
        for (label, it), ls in zip(lengths[net].items(), (":", "-.", "-")):
            ax.axvline(it, color="grey", ls=ls, lw=1.2, label=f"{label}: {it:,}")
        ax.set_xscale("log")
        pct_axis(ax)
        ax.set_xlabel("training iterations (batch 250, log scale)")
        ax.set_ylabel("test accuracy, %")
        ax.set_title(net)
        ax.grid(True, which="both", alpha=0.3)
    readable(fig, axes[0][0], title)
    return fig
