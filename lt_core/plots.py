"""Figures in the papers' style: mean line with a min-max band over seeds, x = percent of
weights remaining on a log axis running from dense (left) to sparse (right), stars where one of
a pair of lines beats the other (``stats.pairwise_stars``, as in the NeurIPS supplement's
Figs. S1 and S4), the dense network as a horizontal line.

Sized for the book's text column (about 700 px at a 1280 px window): 7.6 inches wide at most
two panels side by side, fonts set on the figure (``_readable``), the legend below.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

from . import stats

PANELS = {  # metric -> (axis label, higher is better)
    "early_stop_iteration": ("early-stopping iteration", False),
    "test_acc_at_early_stop": ("test accuracy at early stopping", True),
}
WIDTH = 7.6  # inches: the book's text column at matplotlib's inline 100 dpi
FONT = 11


def rounds(summary: pd.DataFrame, title: str = "", panels: tuple[str, ...] = tuple(PANELS),
           dense_baseline: bool = False, stars: tuple[str, str] | None = None) -> plt.Figure:
    """One row per network, one panel per metric, one line per member; ``stars``: the pair of
    lines whose significant differences are starred. Failed rounds are left out (a network
    whose runs all failed gets empty panels that say so)."""
    ok = summary[~summary["failed"]]
    members = list(dict.fromkeys(ok["member"]))
    colors = dict(zip(members, sns.color_palette("tab10" if len(members) <= 10 else "tab20",
                                                 len(members))))
    nets = list(dict.fromkeys(summary["model"])) if "model" in summary else [None]
    fig, axes = plt.subplots(len(nets), len(panels), squeeze=False,
                             figsize=(WIDTH, 3.6 * len(nets)))
    for row, net in zip(axes, nets):
        part = ok if net is None else ok[ok["model"] == net]
        for ax, metric in zip(row, panels):
            label, higher = PANELS.get(metric, (metric, True))
            for member in members:
                g = part[part["member"] == member].groupby("round").agg(
                    x=("percent_remaining", "mean"), mean=(metric, "mean"),
                    lo=(metric, "min"), hi=(metric, "max"))
                ax.plot(g["x"], g["mean"], marker="o", ms=3, color=colors[member], label=member)
                ax.fill_between(g["x"], g["lo"], g["hi"], color=colors[member], alpha=0.15,
                                lw=0)
            if stars is not None:
                for _, s in stats.pairwise_stars(part, stars, metric, higher).iterrows():
                    ax.plot(s["percent_remaining"], s["value"], marker="*", ms=13, ls="none",
                            color=colors[s["member"]], markeredgecolor="black",
                            markeredgewidth=0.5)
            if dense_baseline and metric == "test_acc_at_early_stop":
                dense = part[part["round"] == 0][metric].mean()
                ax.axhline(dense, color="black", ls="--", lw=1, label="dense (round 0)")
            if part.empty:
                ax.text(0.5, 0.5, "every run failed", ha="center", transform=ax.transAxes)
            else:
                _log_x(ax, part)
            ax.set_ylabel(label)
            ax.set_title(net or "")
    _readable(fig, axes[0][-1], title)
    return fig


def supermask_curves(table: pd.DataFrame, learned: pd.DataFrame | None = None,
                     dense: pd.DataFrame | None = None, title: str = "") -> plt.Figure:
    """Z19 Figure 4 / S8: untrained test accuracy of every criterion's one-shot supermask vs
    weights remaining; per network a panel on the initial weights above one on the signed
    constant, mean line with min-max band over seeds. Baselines: the untrained network with
    no mask (power 0) and the trained dense network (``dense``: the dense runs' summary); on
    the initial weights the learned supermasks, one point per c (mean over seeds, min-max)."""
    nets = list(dict.fromkeys(table["model"]))
    criteria = list(dict.fromkeys(table["criterion"]))
    colors = dict(zip(criteria, sns.color_palette("tab20", len(criteria))))
    panels = [(net, w) for net in nets for w in ("initial", "signed_constant")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(WIDTH, 3.4 * len(panels)), squeeze=False)
    for ax, (net, weights) in zip(axes[:, 0], panels):
        part = table[(table["model"] == net) & (table["weights"] == weights)]
        for criterion in criteria:
            g = part[part["criterion"] == criterion].groupby("power").agg(
                x=("percent_remaining", "mean"), mean=("test_acc", "mean"),
                lo=("test_acc", "min"), hi=("test_acc", "max"))
            ax.plot(g["x"], g["mean"], marker="o", ms=2, lw=1.2, color=colors[criterion],
                    label=criterion)
            ax.fill_between(g["x"], g["lo"], g["hi"], color=colors[criterion], alpha=0.12, lw=0)
        untrained = part[part["power"] == 0]["test_acc"].mean()
        ax.axhline(untrained, color="grey", ls=":", lw=1.5, label="untrained_baseline")
        if dense is not None:
            d = dense[(dense["model"] == net) & (dense["round"] == 0)]
            ax.axhline(d["test_acc_at_early_stop"].mean(), color="black", ls="--", lw=1.2,
                       label="trained_baseline")
        if learned is not None and weights == "initial":
            _learned_points(ax, learned[(learned["model"] == net) & ~learned["failed"]])
        _log_x(ax, part)
        ax.set_ylabel("test accuracy, untrained")
        ax.set_title(f"{net}: mask x {weights.replace('_', ' ')}")
    _readable(fig, axes[0][0], title)
    return fig


def _learned_points(ax: plt.Axes, learned: pd.DataFrame) -> None:
    g = learned.assign(x=100 - learned["pruned_pct"]).groupby("c").agg(
        x=("x", "mean"), mean=("final_acc", "mean"), lo=("final_acc", "min"),
        hi=("final_acc", "max"))
    if g.empty:
        return
    ax.errorbar(g["x"], g["mean"], yerr=[g["mean"] - g["lo"], g["hi"] - g["mean"]], fmt="D",
                ms=6, color="crimson", ecolor="crimson", capsize=3, label="learned_mask")


def learned_length(curves: pd.DataFrame, lengths: dict[str, dict[str, int]],
                   title: str = "") -> plt.Figure:
    """Learned-supermask test accuracy against training length, one panel per network: one
    line per c, mean over seeds of the evaluations during training (each a fresh mask sample
    per 2,500 test images), min-max band; the paper's Table S2 number as a horizontal line,
    ``lengths`` (label -> iterations, per network) as vertical ones."""
    from . import paper

    nets = list(dict.fromkeys(curves["model"]))
    test = curves[(curves["split"] == "test") & (curves["metric"] == "acc")
                  & (curves["iteration"] > 0)]
    fig, axes = plt.subplots(len(nets), 1, figsize=(WIDTH, 3.8 * len(nets)), squeeze=False)
    for ax, net in zip(axes[:, 0], nets):
        for c, g in test[test["model"] == net].groupby("c"):
            curve = g.groupby("iteration")["value"].agg(["mean", "min", "max"])
            line, = ax.plot(curve.index, curve["mean"], lw=1.5, label=f"c = {c:g}")
            ax.fill_between(curve.index, curve["min"], curve["max"], color=line.get_color(),
                            alpha=0.15, lw=0)
        ref = paper.table_s2().loc[net, "learned_mask_x_initial_weights"] / 100
        ax.axhline(ref, color="black", ls="--", lw=1.2, label=f"Z19: {100 * ref:.1f}%")
        for (label, it), ls in zip(lengths[net].items(), (":", "-.", "-")):
            ax.axvline(it, color="grey", ls=ls, lw=1.2, label=f"{label}: {it:,}")
        ax.set_xscale("log")
        ax.set_xlabel("training iterations (batch 250)")
        ax.set_ylabel("test accuracy")
        ax.set_title(net)
        ax.grid(True, which="both", alpha=0.3)
    _readable(fig, axes[0][0], title)
    return fig


def _readable(fig: plt.Figure, legend_from: plt.Axes, title: str) -> None:
    """Font sizes, the title and one legend below the panels.

    Set on the figure's artists rather than with ``plt.rc_context``: leaving an rc_context
    resets matplotlib's backend setting, after which a notebook shows no more figures.
    """
    for ax in fig.axes:
        ax.title.set_fontsize(FONT)
        ax.xaxis.label.set_fontsize(FONT)
        ax.yaxis.label.set_fontsize(FONT)
        ax.tick_params(labelsize=FONT - 2)
    if title:
        fig.suptitle(title, fontsize=FONT + 1)
    handles, labels = legend_from.get_legend_handles_labels()
    if not labels:  # nothing drawn there (every run of that network failed)
        fig.tight_layout()
        return
    ncol = min(3, len(labels))
    rows = -(-len(labels) // ncol)
    legend_inches = 0.15 + 0.22 * rows
    fig.tight_layout(rect=(0, legend_inches / fig.get_size_inches()[1], 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False,
               fontsize=FONT - 2)


def _log_x(ax: plt.Axes, frame: pd.DataFrame) -> None:
    values = sorted(set(frame["percent_remaining"].round(1)), reverse=True)
    ax.set_xscale("log")
    ax.set_xticks(values[:: max(1, len(values) // 6)])
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.invert_xaxis()
    ax.set_xlabel("percent of weights remaining")
    ax.grid(True, which="both", alpha=0.3)
