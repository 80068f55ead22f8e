"""L23's figures (book/06_layerwise.py). x: percent of weights remaining (log, dense on the left) as in OpenLTH, on which L23 builds, or the pruning level."""

from __future__ import annotations

import io
import math
from itertools import combinations

import ipywidgets as W
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
import torch
from ipywidgets.widgets.widget_string import HTMLStyle
from matplotlib.lines import Line2D
from PIL import Image

from ...plots import (
    FONT,
    NCOLS,
    PALETTE,
    SMALL,
    WIDTH,
    fonts,
    grid,
    layer_ticks,
    log_x,
    readable,
    series_styles,
)
from ...widgets import linked_stacks, mask_image
from . import analysis
from .experiment import ticket


def _measure_styles(measures) -> dict:
    return series_styles(measures)


def l23_accuracy(summary: pd.DataFrame, table2: pd.DataFrame, title: str = "") -> plt.Figure:
    """L23 Figure 4 / Table 2: test accuracy at the end of training vs weights remaining, one
    panel per network, a line per measure (mean over seeds, band +- std); L23's Table 2 as
    squares with +- std bars in the same colour; the dense networks as horizontal lines."""
    ok = summary[~summary["failed"]]
    nets = list(dict.fromkeys(ok["model"]))
    styles = _measure_styles(list(dict.fromkeys(ok["measure"])))
    fig, axes = grid(max(1, len(nets)), 3.8 if len(nets) <= 1 else 3.0,
                      ncols=1 if len(nets) <= 1 else NCOLS)
    for ax, net in zip(axes.flat, nets):
        part = ok[ok["model"] == net]
        for measure, style in styles.items():
            g = part[part["measure"] == measure].groupby("level").agg(
                x=("percent_remaining", "mean"), mean=("test_acc", "mean"),
                std=("test_acc", "std"))
            g["std"] = g["std"].fillna(0.0)
            ax.plot(g["x"], 100 * g["mean"], ms=3, label=measure, **style)
            ax.fill_between(g["x"], 100 * (g["mean"] - g["std"]), 100 * (g["mean"] + g["std"]),
                            color=style["color"], alpha=0.12, lw=0)
            ref = table2[(table2["model"] == net) & (table2["measure"] == measure)]
            ax.errorbar(100 - ref["sparsity_pct"], ref["paper_mean"], yerr=ref["paper_std"],
                        fmt="s", ms=6, mfc="none", color=style["color"], capsize=2)
        dense = part[part["level"] == 0].drop_duplicates("seed")["test_acc"].mean()
        ax.axhline(100 * dense, color="black", ls="--", lw=1, label="dense (level 0)")
        ref = table2[(table2["model"] == net) & (table2["measure"] == "dense")]
        if not ref.empty:
            ax.axhline(ref["paper_mean"].iloc[0], color="grey", ls=":", lw=1,
                       label="dense, L23")
        ax.plot([], [], "s", mfc="none", color="grey", label="L23 Table 2 (mean ± std)")
        log_x(ax, part)
        ax.set_ylabel("test accuracy at the end, %")
        ax.set_title(net)
    readable(fig, axes.flat[0], title)
    return fig


def l23_layer_sparsity(frame: pd.DataFrame, model: str, mark_level: int | None = None
                       ) -> plt.Figure:
    """L23 Figure 1 / Appendix D (top: LPR of each layer vs level, one panel per measure, the
    network as a whole dashed black) and Appendix C (bottom: LPR vs depth at ``mark_level``,
    a line per measure). Mean over seeds."""
    part = frame[frame["model"] == model]
    measures = list(dict.fromkeys(part["measure"]))
    layers = list(dict.fromkeys(part[part["layer"] != "all"]["layer"]))
    lstyles = series_styles(layers)
    ncols = min(3, len(measures))
    rows = -(-len(measures) // ncols)
    fig = plt.figure(figsize=(WIDTH, 2.3 * rows + 3.2))
    gs = fig.add_gridspec(rows + 1, ncols, height_ratios=[2.3] * rows + [3.2])
    mean = part.groupby(["measure", "layer", "depth", "level"], sort=False)["lpr_pct"].mean()
    mean = mean.reset_index()
    top = []
    for i, measure in enumerate(measures):
        ax = fig.add_subplot(gs[i // ncols, i % ncols])
        top.append(ax)
        m = mean[mean["measure"] == measure]
        for layer in layers:
            g = m[m["layer"] == layer]
            ax.plot(g["level"], g["lpr_pct"], lw=1.2, ms=2.5,
                    label=layer.replace(".weight", ""), **lstyles[layer])
        g = m[m["layer"] == "all"]
        ax.plot(g["level"], g["lpr_pct"], color="black", ls="--", lw=1.6,
                label="network as a whole")
        ax.set_title(measure)
        ax.set_xlabel("level")
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_ylim(-2, 102)
        if i % ncols == 0:
            ax.set_ylabel("LPR, %")
    level = mean["level"].max() if mark_level is None else mark_level
    at = mean[mean["level"] == level]
    mstyles = _measure_styles(measures)
    ax = fig.add_subplot(gs[rows, :])
    for measure in measures:
        g = at[(at["measure"] == measure) & (at["layer"] != "all")]
        ax.plot(g["depth"], g["lpr_pct"], ms=3, label=measure, **mstyles[measure])
        total = at[(at["measure"] == measure) & (at["layer"] == "all")]["lpr_pct"]
        ax.axhline(float(total.iloc[0]), color=mstyles[measure]["color"], ls=":", lw=0.8)
    layer_ticks(ax, at[at["layer"] != "all"].drop_duplicates("depth").sort_values("depth"))
    ax.set_ylabel(f"LPR at level {level}, %")
    ax.set_title(f"by depth at level {level} (dotted: the network as a whole)")
    ax.legend(ncol=min(3, len(measures)))
    fig.suptitle(f"{model}: layerwise pruning ratio (LPR)", fontsize=FONT + 1)
    fonts(fig)
    handles, labels = top[0].get_legend_handles_labels()
    ncol = min(4, len(labels))
    legend_inches = 0.15 + 0.2 * -(-len(labels) // ncol)
    fig.tight_layout(rect=(0, legend_inches / fig.get_size_inches()[1], 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize=SMALL,
               title="layers (top panels)", title_fontsize=SMALL)
    return fig


def l23_overlap_curves(frame: pd.DataFrame, model: str) -> plt.Figure:
    """L23 Appendix B.3: the overlap of the measures' tickets vs level, as % of a ticket per
    layer and for the network (mean over measures and seeds), with what chance would give
    (dashed), and as % of all prunable connections."""
    part = frame[frame["model"] == model]
    mean = part.groupby(["layer", "level"], sort=False)[
        ["pct_of_ticket", "chance_pct_of_ticket", "pct_of_connections"]].mean().reset_index()
    layers = [lay for lay in dict.fromkeys(mean["layer"]) if lay != "all"]
    styles = series_styles(layers) | {"all": {"color": "black", "marker": "o", "lw": 2}}
    fig, (a, b) = plt.subplots(1, 2, figsize=(WIDTH, 3.4))
    for layer in [*layers, "all"]:
        g = mean[mean["layer"] == layer]
        style = styles[layer]
        a.plot(g["level"], g["pct_of_ticket"], ms=3, label=layer.replace(".weight", ""),
               **style)
        a.plot(g["level"], g["chance_pct_of_ticket"], ls="--", lw=0.8, color=style["color"])
    g = mean[mean["layer"] == "all"]
    b.plot(g["level"], g["pct_of_connections"], marker="o", ms=3, color="black")
    measures = " ∧ ".join(dict.fromkeys(part["measure"]))
    a.set_title("as % of a ticket (dashed: chance)")
    b.set_title("as % of all prunable connections")
    a.set_ylabel("overlap, % (log scale)")
    for ax in (a, b):
        ax.set_xlabel("level")
        ax.xaxis.set_major_locator(mticker.MaxNLocator(integer=True))
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(mticker.LogFormatter())  # 100, 50: not 10^2, 5 x 10^1
        ax.yaxis.set_minor_formatter(mticker.LogFormatter(labelOnlyBase=False,
                                                          minor_thresholds=(2, 0.4)))
        ax.grid(True, which="both", alpha=0.3)
    readable(fig, a, f"{model}: overlap of the tickets of {measures}")
    return fig


GROUP = {True: ("in the overlap", PALETTE[1]), False: ("not in the overlap", PALETTE[0])}


def l23_stability(frame: pd.DataFrame, level: int) -> plt.Figure:
    """L23 Figure 2: per measure, the distribution of the std of each ticket connection's
    end-of-level values over levels 0..L (histograms), and for every measure the % of
    connections whose sign flipped (bars), in the overlap vs not."""
    measures = list(dict.fromkeys(frame["measure"]))
    ncols = min(3, len(measures))
    rows = -(-len(measures) // ncols)
    fig = plt.figure(figsize=(WIDTH, 2.4 * rows + 2.8))
    gs = fig.add_gridspec(rows + 1, ncols, height_ratios=[2.4] * rows + [2.8])
    positive = frame["std"][frame["std"] > 0]
    lo = positive.min() if not positive.empty else 1e-6
    bins = np.logspace(np.log10(lo), np.log10(max(frame["std"].max(), lo * 10)), 40)
    flips = fig.add_subplot(gs[rows, :])
    width = 0.38
    for col, measure in enumerate(measures):
        ax = fig.add_subplot(gs[col // ncols, col % ncols])
        part = frame[frame["measure"] == measure]
        for i, (flag, (label, color)) in enumerate(GROUP.items()):
            g = part[part["in_overlap"] == flag]
            ax.hist(g["std"].clip(lower=lo), bins=bins, density=True, alpha=0.5, color=color,
                    label=label)
            pct = 100 * g["sign_flip"].mean() if len(g) else 0.0
            x = col + (i - 0.5) * width
            flips.bar(x, pct, width, color=color, label=label if col == 0 else None)
            flips.text(x, pct, f"{pct:.1f}", ha="center", va="bottom", fontsize=SMALL)
        ax.set_xscale("log")
        ax.set_title(measure)
        ax.set_xlabel(f"std over levels 0..{level}")
        if col % ncols == 0:
            ax.set_ylabel("density")
    flips.set_xticks(range(len(measures)))
    flips.set_xticklabels(measures)
    flips.set_ylabel("sign flipped, %")
    flips.set_title("connections whose sign flipped over levels 0.." + str(level))
    flips.margins(y=0.2)
    readable(fig, flips, "")
    return fig


def l23_movement(frame: pd.DataFrame, level: int, max_points: int = 4000) -> plt.Figure:
    """L23 Figure 3: in one tensor, each ticket connection's value at the rewind point (x)
    and at the end of level L (y), in the overlap vs not (a fixed sample when large)."""
    layer = frame["layer"].iloc[0]
    measures = list(dict.fromkeys(frame["measure"]))
    fig, axes = grid(len(measures), 2.9, ncols=3, sharex=True, sharey=True)
    for ax, measure in zip(axes.flat, measures):
        part = frame[frame["measure"] == measure]
        part = part.sample(min(len(part), max_points), random_state=0)
        moves = []
        for flag in (False, True):
            g = part[part["in_overlap"] == flag]
            label, color = GROUP[flag]
            ax.scatter(g["start"], g["end"], s=2, alpha=0.5, color=color, label=label,
                       rasterized=True)
            moves.append(f"{g['movement'].mean():.3f}")
        lim = float(np.abs(part[["start", "end"]].to_numpy()).max()) if len(part) else 1.0
        ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.6)
        ax.set_title(f"{measure}")
        ax.text(0.03, 0.97, f"mean |move|\nnot in: {moves[0]}\nin: {moves[1]}",
                transform=ax.transAxes, va="top", fontsize=SMALL)
    for ax in axes[-1]:
        ax.set_xlabel("at the rewind point")
    for ax in axes[:, 0]:
        ax.set_ylabel(f"at the end of level {level}")
    proxies = [Line2D([], [], marker="o", ls="", ms=6, color=GROUP[flag][1])
               for flag in (False, True)]
    readable(fig, axes.flat[0], f"{layer}: each ticket connection's value",
              (proxies, [GROUP[False][0], GROUP[True][0]]))
    return fig


def l23_reinit(frame: pd.DataFrame) -> plt.Figure:
    """L23 §5's partial re-initialisation: per tensor and measure, how much more of the
    overlap the new ticket keeps than chance (observed / expected - 1, %), mean over the
    re-initialisation seeds with their range."""
    g = frame.groupby(["layer", "measure"], sort=False)["increase_pct"].agg(
        ["mean", "min", "max"]).reset_index()
    layers = list(dict.fromkeys(g["layer"]))
    measures = list(dict.fromkeys(g["measure"]))
    styles = _measure_styles(measures)
    fig, ax = plt.subplots(figsize=(WIDTH, 3.4))
    width = 0.8 / len(measures)
    for i, measure in enumerate(measures):
        m = g[g["measure"] == measure].set_index("layer").reindex(layers)
        x = np.arange(len(layers)) + i * width
        ax.bar(x, m["mean"], width, color=styles[measure]["color"], label=measure)
        ax.errorbar(x, m["mean"], yerr=[m["mean"] - m["min"], m["max"] - m["mean"]], fmt="none",
                    color="black", lw=0.8, capsize=2)
    ax.axhline(0, color="black", lw=0.8)
    names = [lay.replace(".weight", "") for lay in layers]
    ax.set_xticks(np.arange(len(layers)) + 0.4 - width / 2)
    ax.set_xticklabels(names, rotation=0 if len(layers) <= 4 else 90)
    ax.set_ylabel("kept beyond chance, %")
    ax.set_title("observed / expected - 1, per layer")
    readable(fig, ax, "Partial re-initialisation: the overlap's connections kept")
    return fig


# ----------------------------------------------------------------------------------------------
# L23: the overlap explorer (book/06_layerwise.py)


def overlap_states(result, model: str, seed: int) -> dict:
    """Per (pair of measures, level both trained: 0, 1, ...): their tickets and overlap
    table (level 0's tickets are the dense network)."""
    t = result.ticket_levels()
    t = t[(t["model"] == model) & (t["seed"] == seed)]
    tickets = {(r.measure, r.level): ticket(result.store, r.run, r.level) for r in t.itertuples()}
    out = {}
    for a, b in combinations(list(dict.fromkeys(t["measure"])), 2):
        for level in sorted({lv for m, lv in tickets if m == a} & {lv for m, lv in tickets
                                                                    if m == b}):
            pair = {a: tickets[(a, level)], b: tickets[(b, level)]}
            out[(f"{a} vs {b}", level)] = {"a": a, "b": b, "tickets": pair,
                                           "table": analysis.overlap(pair)}
    return out


def _first_layer_view(mask: torch.Tensor) -> tuple[np.ndarray, str]:
    """What to draw of a first layer's mask: for a linear layer on square images (784 inputs:
    28 x 28), the fraction of units that keep each input pixel; otherwise the mask itself,
    one row per output unit (conv kernels flattened)."""
    side = math.isqrt(mask.shape[1]) if mask.dim() == 2 else 0
    if side * side == mask.shape[1] and side > 8:
        return mask.mean(0).view(side, side).numpy(), "fraction of units keeping each pixel"
    return mask_image(mask), "mask, one row per output unit (1 = kept)"


# The maps' colour scale (matplotlib's viridis): 0 at the first stop, the state's largest
# value at the last. Stored as a palette PNG at the map's own resolution (a 28 x 28 map is
# under 1 KB) and enlarged by the browser without smoothing (``MAP_CSS``).
MAP_PX = 196
MAP_CSS = ("<style>img.lt-map {image-rendering: pixelated; image-rendering: crisp-edges; "
           "border: 1px solid #ccc} .lt-caption {font-size: 12px; line-height: 1.3; "
           "white-space: normal; overflow-wrap: anywhere}</style>")


def _viridis_stops(n: int = 9) -> list[str]:
    from matplotlib.colors import to_hex

    cmap = plt.get_cmap("viridis")
    return [to_hex(cmap(i / (n - 1))) for i in range(n)]


def _png(img: np.ndarray, vmax: float = 1.0) -> bytes:
    """A map as a small palette PNG at its own resolution: viridis from 0 to ``vmax``."""
    levels = np.clip(np.round(255 * img / max(vmax, 1e-12)), 0, 255).astype(np.uint8)
    image = Image.fromarray(levels, mode="L").convert("P")
    lut = (255 * plt.get_cmap("viridis")(np.arange(256) / 255)[:, :3]).astype(np.uint8)
    image.putpalette(lut.ravel().tolist())
    buf = io.BytesIO()
    image.save(buf, format="png", optimize=True)
    return buf.getvalue()


def _colour_bar(vmax: float, what: str) -> str:
    """The shared colour scale of a state's three maps, drawn by the browser (no image)."""
    stops = ", ".join(_viridis_stops())
    return (f"<div style='width: {3 * MAP_PX + 24}px; margin: 4px 0 8px 0'>"
            f"<div style='height: 10px; background: linear-gradient(to right, {stops})'></div>"
            f"<div style='display: flex; justify-content: space-between'><span>0</span>"
            f"<span>{what}, one scale for the three maps</span>"
            f"<span>{vmax:.3g}</span></div></div>")


def overlap_view(state: dict, layout: W.Layout | None = None, style=None) -> W.HTML:
    """One state as one HTML widget: the first layer under each measure and where both keep
    it, three maps of equal size on one colour scale (small PNGs inline), and per layer the
    % of the first measure's ticket that the second keeps too, next to chance."""
    import base64

    a, b = state["a"], state["b"]
    first = next(iter(state["tickets"][a]))
    ma, mb = state["tickets"][a][first], state["tickets"][b][first]
    views = [(name, m, *_first_layer_view(m)) for name, m in ((a, ma), (b, mb),
                                                               ("both", ma * mb))]
    vmax = max(float(img.max()) for _, _, img, _ in views) or 1.0
    panels = []
    for name, m, img, _ in views:
        h, w = img.shape
        data = base64.b64encode(_png(img, vmax)).decode()
        panels.append(
            f"<div style='width: {MAP_PX}px; margin-right: 8px'><div style='height: 2.7em'>"
            f"<b>{name}</b><br>keeps {100 * float(m.mean()):.1f}% of the layer</div>"
            f"<img class='lt-map' alt='{name}' "
            f"src='data:image/png;base64,{data}' width='{MAP_PX}' "
            f"height='{max(1, round(MAP_PX * h / w))}'></div>")
    t = state["table"]
    rows = "".join(f"<tr><td>{r.layer}</td><td>{r.kept:,}</td><td>{r.pct_of_ticket:.1f}%</td>"
                   f"<td>{r.chance_pct_of_ticket:.1f}%</td></tr>"
                   for r in t[t["measure"] == a].itertuples())
    table = (f"How much of <b>{a}</b>'s ticket <b>{b}</b> keeps too, per layer:"
             f"<table style='font-size: 12px'><tr><th>layer</th><th>{a} keeps</th>"
             f"<th>{b} keeps too</th><th>chance</th></tr>{rows}</table>")
    return W.HTML(f"<div class='lt-caption'><div style='display: flex'>{''.join(panels)}"
                  f"</div>{_colour_bar(vmax, views[0][3])}{table}</div>",
                  **({"layout": layout} if layout is not None else {}),
                  **({"style": style} if style is not None else {}))


def overlap_explorer(result, model: str | None = None, seed: int | None = None) -> W.Widget:
    """Pick two measures and a level: per-layer overlap and the first layer's masks side by
    side. Every state is rendered in advance, so the controls work in the static book."""
    model = model or result.config.overlap_model
    seed = result.config.overlap.seed if seed is None else seed
    table = overlap_states(result, model, seed)
    pairs = list(dict.fromkeys(k[0] for k in table))
    levels = sorted({k[1] for k in table})  # 0..L: the slider's value is the stack's index
    pair = W.Dropdown(options=pairs, index=0, description="measures")
    level = W.IntSlider(min=0, max=levels[-1], value=min(1, levels[-1]), description="level",
                        continuous_update=True)
    layout = W.Layout()  # one layout and one style model for every state
    style = HTMLStyle()
    top = linked_stacks([[overlap_view(table[(p, lv)], layout, style) if (p, lv) in table
                          else W.HTML("", layout=layout, style=style)
                          for lv in levels] for p in pairs], [pair, level], layout)
    first = next(iter(next(iter(table.values()))["tickets"].values()))
    note = W.HTML(f"{MAP_CSS}<div class='lt-caption'>{model}, seed {seed}, first layer "
                  f"{next(iter(first))}; the slider picks the level whose ticket (the mask "
                  "that level trained with) is shown; level 0 is dense.</div>")
    return W.VBox([pair, level, note, top])
