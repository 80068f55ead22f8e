"""Z19's figures: accuracy and early-stopping iteration per pruning level (Figures 1-4, S1-S5), the supermask curves and the learned supermasks' lengths. x: percent of weights remaining, log, dense on the left."""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from ... import criteria, paper, stats
from ... import masks as masks_mod
from ...plots import (
    WIDTH,
    log_x,
    pct_axis,
    readable,
    series_styles,
)
from ...widgets import compact_png, linked_stacks, mask_image, spread
from .experiment import Result

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


# ----------------------------------------------------------------------------------------------
# The mask explorer (Z19 Figures S1/S2 view): pick criterion, layer and level; see the mask.
#
# For each state one small figure: the layer's mask as an image (kept dark, pruned light; for
# the 784-input layer the 28x28 map of how many hidden units keep each input pixel instead),
# the (w_i, w_f) scatter of a fixed sample of weights coloured by kept/pruned, with the
# criterion's decision boundary where it is a curve in that plane, and every layer's density
# in the title, stored as lossless WebP (about 5 KB at 90 dpi); at most ``MAX_LEVELS`` levels
# per arm and layer are pre-rendered, so that notebook 01's page at quick scale (11 arms x 3
# layers x 5 of 9 levels) carries about 1.2 MB of them.



def states(result: Result, model: str, seed: int) -> dict:
    """Everything the explorer shows, per (criterion label, layer, level) of one seed."""
    runs = result.runs[(result.runs["model"] == model) & (result.runs["seed"] == seed)]
    out = {}
    for _, run in runs.iterrows():
        for level in result.store.levels(run["key"]):
            new = result.store.masks(run["key"], level)
            if new is None:  # it diverged there: no mask chosen
                continue
            sample = result.store.tensors(run["key"], level, missing_ok=True).get("sample", {})
            density = {n: float(m.mean()) for n, m in new.items()}
            for layer, mask in new.items():
                out[(run["label"], layer, level)] = {
                    "criterion": run["criterion"], "mask": mask, "density": density,
                    "sample": sample.get(layer),
                    "percent_remaining": 100.0 * masks_mod.density(new)}
    return out


SCATTER_POINTS = 1000
MAX_LEVELS = 5  # levels pre-rendered per arm and layer: the first, the last, evenly between
DPI = 90  # 7 x 3.1 inches: 630 x 279 px, under the column's 688, text 9-11 pt (11-14 px)


def render(state: dict, layer: str, title: str, dpi: int = DPI) -> bytes:
    """One state's figure as (lossless) WebP bytes."""
    mask = state["mask"]
    density = ", ".join(f"{n.split('.')[0]} {100 * d:.0f}%" for n, d in state["density"].items())
    # A Figure of its own, not pyplot's: nothing here touches the notebook's figures.
    fig = Figure(figsize=(7.0, 3.1), dpi=dpi)
    axes = fig.subplots(1, 2)
    ax = axes[0]
    if layer.startswith("fc1") and mask.shape[1] == 784:  # inputs are pixels
        image = ax.imshow(mask.sum(0).view(28, 28).numpy(), cmap="viridis")
        fig.colorbar(image, ax=ax, fraction=0.046)
        ax.set_title("hidden units keeping each pixel")
        ax.axis("off")
    else:
        ax.imshow(mask_image(mask), cmap="Greys", vmin=0, vmax=1, aspect="auto",
                  interpolation="nearest")
        ax.set_title(f"{layer} mask (dark = kept)")
        ax.set_xlabel("input unit")
        ax.set_ylabel("output unit")
    _scatter(axes[1], state)
    fig.suptitle(f"{title}\nkept: {density} ({state['percent_remaining']:.1f}% overall)",
                 fontsize=11)
    for ax in fig.axes:
        ax.title.set_fontsize(11)
        ax.xaxis.label.set_fontsize(10)
        ax.yaxis.label.set_fontsize(10)
        ax.tick_params(labelsize=9)
    # Crisp (not antialiased) text and lines: in 16 colours they compress several times better.
    for artist in fig.findobj(lambda a: hasattr(a, "set_antialiased")):
        artist.set_antialiased(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return compact_png(buf.getvalue())




def _scatter(ax: plt.Axes, state: dict) -> None:
    s = state["sample"]
    ax.set_title("(w_i, w_f) sample; orange = pruned")
    if s is None:
        ax.text(0.5, 0.5, "no weight sample stored\nfor this run", ha="center", va="center")
        return
    n = SCATTER_POINTS  # of the stored sample (a random subset: its first n are one too)
    wi, wf, kept = s["w_i"][:n].numpy(), s["w_f"][:n].numpy(), s["kept"][:n].numpy()
    ax.scatter(wi[kept], wf[kept], s=1.5, color="#4c72b0", label="kept", lw=0)
    ax.scatter(wi[~kept], wf[~kept], s=1.5, color="#dd8452", label="pruned", lw=0)
    ax.set_xlabel("w_i (level start)")
    ax.set_ylabel("w_f (level end)")
    criterion = state["criterion"]
    # An elementwise criterion's boundary is the contour score = the lowest kept score;
    # rank-based and random criteria have no such curve.
    if criteria.get(criterion).elementwise and kept.any() and (~kept).any():
        lim = float(max(np.abs(wi).max(), np.abs(wf).max()))
        gx, gy = np.meshgrid(np.linspace(-lim, lim, 200), np.linspace(-lim, lim, 200))
        score = criteria.score(criterion, torch.from_numpy(gx), torch.from_numpy(gy),
                                torch.ones(gx.shape)).numpy()
        all_kept = s["kept"]  # the boundary from the whole sample, not just the points drawn
        kept_scores = criteria.score(criterion, s["w_i"], s["w_f"],
                                      torch.ones(len(all_kept)))[all_kept]
        level = float(kept_scores.min())
        if score.min() < level < score.max():
            ax.contour(gx, gy, score, levels=[level], colors="black", linewidths=0.8)


def explorer(result: Result, model: str = "fc", seed: int | None = None) -> W.Widget:
    """Controls and precomputed images, switched in the browser without a kernel."""
    seed = int(result.runs["seed"].min()) if seed is None else seed
    table = states(result, model, seed)
    labels = list(dict.fromkeys(k[0] for k in table))
    layers = list(dict.fromkeys(k[1] for k in table))
    levels = spread(sorted({k[2] for k in table}), MAX_LEVELS)
    # jslink syncs plain traits: a Dropdown's or SelectionSlider's "index", not its "value".
    arm = W.Dropdown(options=labels, index=0, description="arm")
    layer = W.Dropdown(options=layers, index=0, description="layer")
    level = W.SelectionSlider(options=[str(r) for r in levels], index=0, description="level",
                              continuous_update=True)
    shared = W.Layout()  # one layout model for every image and stack, not one each

    def image(lab: str, name: str, r: int) -> W.Image:
        state = table.get((lab, name, r))
        value = render(state, name, f"{lab}: mask chosen after level {r}, seed {seed}") \
            if state else b""
        return W.Image(value=value, format="webp", layout=shared)

    top = linked_stacks([[[image(lab, name, r) for r in levels] for name in layers]
                         for lab in labels], [arm, layer, level], shared)
    note = W.HTML(f"<small>{model}, seed {seed}; the slider steps through levels "
                  f"{', '.join(map(str, levels))} (the mask chosen at the end of each).</small>")
    return W.VBox([W.HBox([arm, layer]), level, note, top])


def interactive_explorer(result: Result, model: str = "fc", seed: int | None = None):
    """Live-Jupyter version: renders on demand through ``interact``."""
    seed = int(result.runs["seed"].min()) if seed is None else seed
    table = states(result, model, seed)
    labels = sorted({k[0] for k in table})
    layers = sorted({k[1] for k in table})
    levels = sorted({k[2] for k in table})

    def show(arm: str, layer: str, level: int):
        state = table[(arm, layer, level)]
        return W.Image(value=render(state, layer, f"{arm}: after level {level}"), format="webp")

    return W.interactive(show, arm=labels, layer=layers,
                         level=W.IntSlider(min=levels[0], max=levels[-1], value=levels[0]))



