"""Figures in the papers' style: mean line with a min-max band over seeds, x = percent of
weights remaining on a log axis running from dense (left) to sparse (right), a star where one
line beats all others (``stats.stars``), the dense network as a horizontal line."""

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


def rounds(summary: pd.DataFrame, title: str = "", panels: tuple[str, ...] = tuple(PANELS),
           dense_baseline: bool = False) -> plt.Figure:
    """One row per network, one panel per metric, one line per member. Failed rounds are
    left out (a network whose runs all failed gets empty panels that say so)."""
    ok = summary[~summary["failed"]]
    members = list(dict.fromkeys(ok["member"]))
    colors = dict(zip(members, sns.color_palette("tab10", len(members))))
    nets = list(dict.fromkeys(summary["model"])) if "model" in summary else [None]
    fig, axes = plt.subplots(len(nets), len(panels), squeeze=False,
                             figsize=(5.6 * len(panels), 4.0 * len(nets)))
    for row, net in zip(axes, nets):
        part = ok if net is None else ok[ok["model"] == net]
        for ax, metric in zip(row, panels):
            label, higher = PANELS.get(metric, (metric, True))
            for member in members:
                g = part[part["member"] == member].groupby("round").agg(
                    x=("percent_remaining", "mean"), mean=(metric, "mean"),
                    lo=(metric, "min"), hi=(metric, "max"))
                ax.plot(g["x"], g["mean"], marker="o", ms=3, color=colors[member], label=member)
                ax.fill_between(g["x"], g["lo"], g["hi"], color=colors[member], alpha=0.15, lw=0)
            for _, s in stats.stars(part, metric, higher).iterrows():
                ax.plot(s["percent_remaining"], s["value"], marker="*", ms=11, ls="none",
                        color=colors[s["member"]], markeredgecolor="black", markeredgewidth=0.5)
            if dense_baseline and metric == "test_acc_at_early_stop":
                dense = part[part["round"] == 0][metric].mean()
                ax.axhline(dense, color="black", ls="--", lw=1, label="dense (round 0)")
            if part.empty:
                ax.text(0.5, 0.5, "every run failed", ha="center", transform=ax.transAxes)
            else:
                _log_x(ax, part)
            ax.set_ylabel(label)
            ax.set_title(net or "", fontsize=10)
        if not part.empty:
            row[-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def supermask_curves(table: pd.DataFrame, criteria: list[str], title: str = "") -> plt.Figure:
    """Heuristic supermasks (Z19 Figure 4): untrained test accuracy vs weights remaining, one
    panel per (network, weights), mean line with min-max band over seeds."""
    panels = [(m, w) for m in dict.fromkeys(table["model"]) for w in ("initial", "signed_constant")]
    colors = dict(zip(criteria, sns.color_palette("tab20", len(criteria))))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.0), squeeze=False)
    for ax, (net, weights) in zip(axes[0], panels):
        part = table[(table["model"] == net) & (table["weights"] == weights)]
        for criterion in criteria:
            g = part[part["criterion"] == criterion].groupby("power").agg(
                x=("percent_remaining", "mean"), mean=("test_acc", "mean"),
                lo=("test_acc", "min"), hi=("test_acc", "max"))
            ax.plot(g["x"], g["mean"], marker="o", ms=2, color=colors[criterion], label=criterion)
            ax.fill_between(g["x"], g["lo"], g["hi"], color=colors[criterion], alpha=0.15, lw=0)
        _log_x(ax, part)
        ax.set_ylabel("test accuracy, untrained")
        ax.set_title(f"{net}: mask x {weights.replace('_', ' ')} weights", fontsize=10)
    axes[0][-1].legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _log_x(ax: plt.Axes, frame: pd.DataFrame) -> None:
    values = sorted(set(frame["percent_remaining"].round(1)), reverse=True)
    ax.set_xscale("log")
    ax.set_xticks(values[:: max(1, len(values) // 6)])
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.invert_xaxis()
    ax.set_xlabel("percent of weights remaining")
    ax.grid(True, which="both", alpha=0.3)
