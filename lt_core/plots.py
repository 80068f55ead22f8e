"""Figures in the papers' style: mean line with a min-max band over seeds, x = percent of
weights remaining on a log axis running from dense (left) to sparse (right), a star where one
line beats all others (``stats.stars``), the dense network as a horizontal line."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
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


# ----------------------------------------------------------------------------------------------
# L23: importance measures (figures of book/06_layerwise.py)


def _measure_colors(measures) -> dict:
    return dict(zip(measures, sns.color_palette("tab10", len(measures))))


def l23_accuracy(summary: pd.DataFrame, table2: pd.DataFrame, title: str = "") -> plt.Figure:
    """L23 Figure 4 / Table 2: test accuracy at the end of training vs weights remaining, one
    panel per network, a line per measure (mean over seeds, band +- std); L23's Table 2 as
    squares with +- std bars in the same colour; the dense networks as horizontal lines."""
    ok = summary[~summary["failed"]]
    nets = list(dict.fromkeys(ok["model"]))
    colors = _measure_colors(list(dict.fromkeys(ok["measure"])))
    fig, axes = plt.subplots(1, max(1, len(nets)), figsize=(6.2 * max(1, len(nets)), 4.2),
                             squeeze=False)
    for ax, net in zip(axes[0], nets):
        part = ok[ok["model"] == net]
        for measure, color in colors.items():
            g = part[part["measure"] == measure].groupby("level").agg(
                x=("percent_remaining", "mean"), mean=("test_acc", "mean"),
                std=("test_acc", "std"))
            g["std"] = g["std"].fillna(0.0)
            ax.plot(g["x"], 100 * g["mean"], marker="o", ms=3, color=color, label=measure)
            ax.fill_between(g["x"], 100 * (g["mean"] - g["std"]), 100 * (g["mean"] + g["std"]),
                            color=color, alpha=0.15, lw=0)
            ref = table2[(table2["model"] == net) & (table2["measure"] == measure)]
            ax.errorbar(100 - ref["sparsity_pct"], ref["paper_mean"], yerr=ref["paper_std"],
                        fmt="s", ms=5, mfc="none", color=color, capsize=2)
        dense = part[part["level"] == 0].drop_duplicates("seed")["test_acc"].mean()
        ax.axhline(100 * dense, color="black", ls="--", lw=1, label="dense (level 0)")
        ref = table2[(table2["model"] == net) & (table2["measure"] == "dense")]
        if not ref.empty:
            ax.axhline(ref["paper_mean"].iloc[0], color="grey", ls=":", lw=1,
                       label="dense, L23")
        ax.plot([], [], "s", mfc="none", color="grey", label="L23 Table 2 (mean ± std)")
        _log_x(ax, part)
        ax.set_ylabel("test accuracy at the end of training, %")
        ax.set_title(net, fontsize=10)
        ax.legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def l23_layer_sparsity(frame: pd.DataFrame, model: str, mark_level: int | None = None
                       ) -> plt.Figure:
    """L23 Figure 1 / Appendix D (top: LPR of each layer vs level, one panel per measure, the
    network as a whole dashed) and Appendix C (bottom: LPR vs depth at ``mark_level``, a line
    per measure). Mean over seeds."""
    part = frame[frame["model"] == model]
    measures = list(dict.fromkeys(part["measure"]))
    layers = list(dict.fromkeys(part[part["layer"] != "all"]["layer"]))
    lcolors = dict(zip(layers, sns.color_palette("viridis", len(layers))))
    fig, axes = plt.subplots(2, len(measures), figsize=(3.6 * len(measures), 6.4),
                             squeeze=False)
    mean = part.groupby(["measure", "layer", "depth", "level"], sort=False)["lpr_pct"].mean()
    mean = mean.reset_index()
    for ax, measure in zip(axes[0], measures):
        m = mean[mean["measure"] == measure]
        for layer in layers:
            g = m[m["layer"] == layer]
            ax.plot(g["level"], g["lpr_pct"], color=lcolors[layer], lw=1.2, label=layer)
        g = m[m["layer"] == "all"]
        ax.plot(g["level"], g["lpr_pct"], color="black", ls="--", lw=1.2, label="all")
        ax.set_title(measure, fontsize=10)
        ax.set_xlabel("level")
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_ylim(-2, 102)
    axes[0][0].set_ylabel("layerwise pruning ratio, %")
    axes[0][-1].legend(fontsize=6, loc="lower right")
    level = mean["level"].max() if mark_level is None else mark_level
    at = mean[mean["level"] == level]
    colors = _measure_colors(measures)
    gs = axes[1][0].get_gridspec()
    for ax in axes[1]:
        ax.remove()
    ax = fig.add_subplot(gs[1, :])
    for measure in measures:
        g = at[(at["measure"] == measure) & (at["layer"] != "all")]
        ax.plot(g["depth"], g["lpr_pct"], marker="o", ms=3, color=colors[measure], label=measure)
        total = at[(at["measure"] == measure) & (at["layer"] == "all")]["lpr_pct"]
        ax.axhline(float(total.iloc[0]), color=colors[measure], ls=":", lw=0.8)
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=60, ha="right", fontsize=6)
    ax.set_ylabel(f"LPR at level {level}, %")
    ax.set_title(f"{model}: layerwise pruning ratio by depth at level {level} (dotted: the "
                 "network as a whole)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def l23_overlap_curves(frame: pd.DataFrame, model: str) -> plt.Figure:
    """L23 Appendix B.3: the overlap of the measures' tickets vs level, as % of a ticket per
    layer and for the network (mean over measures and seeds), with what chance would give
    (dashed), and as % of all prunable connections."""
    part = frame[frame["model"] == model]
    mean = part.groupby(["layer", "level"], sort=False)[
        ["pct_of_ticket", "chance_pct_of_ticket", "pct_of_connections"]].mean().reset_index()
    layers = list(dict.fromkeys(mean["layer"]))
    colors = dict(zip(layers, sns.color_palette("viridis", len(layers) - 1))) | {"all": "black"}
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for layer in layers:
        g = mean[mean["layer"] == layer]
        a.plot(g["level"], g["pct_of_ticket"], marker="o", ms=3, color=colors[layer],
               lw=2 if layer == "all" else 1, label=layer)
        a.plot(g["level"], g["chance_pct_of_ticket"], ls="--", lw=0.8, color=colors[layer])
    g = mean[mean["layer"] == "all"]
    b.plot(g["level"], g["pct_of_connections"], marker="o", ms=3, color="black")
    measures = " ∧ ".join(dict.fromkeys(part["measure"]))
    a.set_title(f"{model}: overlap ({measures}) as % of a ticket; dashed: chance", fontsize=9)
    b.set_title("overlap as % of all prunable connections", fontsize=9)
    for ax in (a, b):
        ax.set_xlabel("level")
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=7)
    fig.tight_layout()
    return fig


GROUP = {True: ("in the overlap", "#dd8452"), False: ("not in the overlap", "#4c72b0")}


def l23_stability(frame: pd.DataFrame, level: int) -> plt.Figure:
    """L23 Figure 2: per measure, the distribution of the std of each ticket connection's
    end-of-level values over levels 0..L (top) and the % of connections whose sign flipped
    (bottom), in the overlap vs not."""
    measures = list(dict.fromkeys(frame["measure"]))
    fig, axes = plt.subplots(2, len(measures), figsize=(3.8 * len(measures), 6.0),
                             squeeze=False)
    positive = frame["std"][frame["std"] > 0]
    lo = positive.min() if not positive.empty else 1e-6
    bins = np.logspace(np.log10(lo), np.log10(max(frame["std"].max(), lo * 10)), 40)
    for col, measure in enumerate(measures):
        part = frame[frame["measure"] == measure]
        for flag, (label, color) in GROUP.items():
            g = part[part["in_overlap"] == flag]
            axes[0][col].hist(g["std"].clip(lower=lo), bins=bins, density=True, alpha=0.5,
                              color=color, label=f"{label} ({len(g):,})")
            pct = 100 * g["sign_flip"].mean() if len(g) else 0.0
            axes[1][col].bar(label.replace(" the ", "\n"), pct, color=color)
            axes[1][col].text(label.replace(" the ", "\n"), pct, f"{pct:.1f}%", ha="center",
                              va="bottom", fontsize=8)
        axes[0][col].set_xscale("log")
        axes[0][col].set_title(f"{measure}: std over levels 0..{level}", fontsize=9)
        axes[0][col].legend(fontsize=7)
        axes[1][col].set_ylabel("connections whose sign flipped, %")
    fig.tight_layout()
    return fig


def l23_movement(frame: pd.DataFrame, level: int, max_points: int = 4000) -> plt.Figure:
    """L23 Figure 3: in one tensor, each ticket connection's value at the rewind point (x)
    and at the end of level L (y), in the overlap vs not (a fixed sample when large)."""
    layer = frame["layer"].iloc[0]
    measures = list(dict.fromkeys(frame["measure"]))
    fig, axes = plt.subplots(1, len(measures), figsize=(3.8 * len(measures), 3.8),
                             squeeze=False)
    for ax, measure in zip(axes[0], measures):
        part = frame[frame["measure"] == measure]
        part = part.sample(min(len(part), max_points), random_state=0)
        for flag in (False, True):
            g = part[part["in_overlap"] == flag]
            label, color = GROUP[flag]
            ax.scatter(g["start"], g["end"], s=3, alpha=0.6, color=color,
                       label=f"{label}: mean |move| {g['movement'].mean():.3f}")
        lim = float(np.abs(part[["start", "end"]].to_numpy()).max()) if len(part) else 1.0
        ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.6)
        ax.set_xlabel("value at the rewind point")
        ax.set_ylabel(f"value at the end of level {level}")
        ax.set_title(f"{measure}: {layer}", fontsize=9)
        ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return fig


def l23_reinit(frame: pd.DataFrame) -> plt.Figure:
    """L23 §5's partial re-initialisation: per tensor and measure, how much more of the
    overlap the new ticket keeps than chance (observed / expected - 1, %), mean over the
    re-initialisation seeds with their range."""
    g = frame.groupby(["layer", "measure"], sort=False)["increase_pct"].agg(
        ["mean", "min", "max"]).reset_index()
    layers = list(dict.fromkeys(g["layer"]))
    measures = list(dict.fromkeys(g["measure"]))
    colors = _measure_colors(measures)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(layers) * len(measures) / 2), 3.8))
    width = 0.8 / len(measures)
    for i, measure in enumerate(measures):
        m = g[g["measure"] == measure].set_index("layer").reindex(layers)
        x = np.arange(len(layers)) + i * width
        ax.bar(x, m["mean"], width, color=colors[measure], label=measure)
        ax.errorbar(x, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]], fmt="none",
                    color="black", lw=0.8, capsize=2)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(layers)) + 0.4 - width / 2)
    ax.set_xticklabels(layers, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("overlap kept beyond chance, %")
    ax.set_title("partial re-initialisation: observed / expected - 1", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
