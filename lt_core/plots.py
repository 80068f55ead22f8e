"""Figures in the papers' style: mean line with a min-max band over seeds, x = percent of
weights remaining on a log axis running from dense (left) to sparse (right)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
import seaborn as sns

PANELS = {
    "early_stop_iteration": "early-stopping iteration",
    "test_acc_at_early_stop": "test accuracy at early stopping",
}


def rounds(summary: pd.DataFrame, title: str = "", panels: tuple[str, ...] = tuple(PANELS)
           ) -> plt.Figure:
    """One panel per metric, one line per member (criterion), band = min..max over seeds."""
    ok = summary[~summary["failed"]]
    members = list(dict.fromkeys(ok["member"]))
    colors = dict(zip(members, sns.color_palette("tab10", len(members))))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, metric in zip(axes[0], panels):
        for member in members:
            g = ok[ok["member"] == member].groupby("round").agg(
                x=("percent_remaining", "mean"), mean=(metric, "mean"),
                lo=(metric, "min"), hi=(metric, "max"), n=("seed", "count"))
            ax.plot(g["x"], g["mean"], marker="o", ms=3, color=colors[member], label=member)
            ax.fill_between(g["x"], g["lo"], g["hi"], color=colors[member], alpha=0.2, lw=0)
        ax.set_xscale("log")
        ticks = sorted(set(ok["percent_remaining"].round(1)), reverse=True)[:: max(1, len(set(ok["round"])) // 6)]
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
        ax.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax.invert_xaxis()
        ax.set_xlabel("percent of weights remaining")
        ax.set_ylabel(PANELS.get(metric, metric))
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=8, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
