"""Figures in the papers' style, sized for the book's column.

Each paper keeps its own x axis, said in every caption: Z19 (and L23, after OpenLTH) the
percent of weights remaining on a log axis from dense (left) to sparse (right); H21 the
fraction of weights pruned, spaced as -log(1 - x) so that levels of 20% each are evenly
spaced. Lines are means over seeds with a band (Z19: min-max; H21, L23: one std), stars
where one of a pair of lines beats the other (``stats.pairwise_stars``, as in the NeurIPS
supplement's Figs. S1 and S4), the dense network as a horizontal line.

The column is 688 px wide at a 1280 px window and matplotlib's inline backend draws at
100 dpi: every figure is ``WIDTH`` (6.8 inches) wide at most, so it shows at its natural size,
with at most ``NCOLS`` panels per row and no text under ``SMALL`` points (11 px). Colours come
from Okabe and Ito's colour-blind-safe palette (``series_styles``); beyond its six colours
the line style changes too.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd

WIDTH = 6.8  # inches: the book's text column (688 px) at matplotlib's inline 100 dpi
NCOLS = 2  # panels per row at the column's width
FONT = 10  # points: titles and axis labels
SMALL = 8  # points: ticks, legends, annotations (8 pt = 11 px at 100 dpi)
# Okabe & Ito (2008), without black (kept for baselines and the highlighted line) and without
# its yellow, too faint on white.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9"]
LINESTYLES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
Z19_AXIS = "weights remaining, % (log scale)"


def series_styles(names, highlight: str | None = None) -> dict[str, dict]:
    """One distinguishable style per series (keyword arguments for ``Axes.plot``): the
    palette's colours, then the same colours with the next line style; every series its
    own marker. ``highlight``: the series the page is about, drawn thicker."""
    names = [n for n in dict.fromkeys(names) if n != highlight]
    out = {}
    for i, name in enumerate(names):
        out[name] = {"color": PALETTE[i % len(PALETTE)],
                     "ls": LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)],
                     "marker": MARKERS[i % len(MARKERS)]}
    if highlight is not None:  # black, thick, drawn on top: no other line is black and solid
        out[highlight] = {"color": "black", "ls": "-", "marker": "o", "lw": 2.4, "zorder": 5}
    return out


def grid(n: int, height: float, ncols: int = NCOLS, width: float = WIDTH,
          **kw) -> tuple[plt.Figure, np.ndarray]:
    """``n`` panels, at most ``ncols`` per row, the column's width; unused cells hidden."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows), squeeze=False, **kw)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def pct_axis(ax: plt.Axes) -> None:
    """Accuracy stored as a fraction, shown in % (as many decimals as the range needs)."""
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(xmax=1.0, decimals=None, symbol=""))


def titled(fig: plt.Figure, title: str, legend_from: plt.Axes | None = None) -> plt.Figure:
    """The figure with its title (if any), readable fonts and a tight layout; with
    ``legend_from``, that panel's legend below the panels instead of inside them."""
    if legend_from is not None:
        readable(fig, legend_from, title)
        return fig
    fonts(fig)
    if title:
        fig.suptitle(title, fontsize=FONT + 1)
    fig.tight_layout()
    return fig


def fonts(fig: plt.Figure) -> None:
    """Titles and axis labels at ``FONT``, ticks, legends and annotations at least ``SMALL``.

    Set on the figure's artists rather than with ``plt.rc_context``: leaving an rc_context
    resets matplotlib's backend setting, after which a notebook shows no more figures.
    """
    for ax in fig.axes:
        ax.title.set_fontsize(FONT)
        ax.xaxis.label.set_fontsize(FONT)
        ax.yaxis.label.set_fontsize(FONT)
        ax.tick_params(labelsize=SMALL)
        legend = ax.get_legend()
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(SMALL)
        for text in ax.texts:
            text.set_fontsize(max(SMALL, text.get_fontsize()))
    for text in fig.texts:
        text.set_fontsize(max(SMALL, text.get_fontsize()))


def readable(fig: plt.Figure, legend_from: plt.Axes, title: str,
              handles_labels: tuple[list, list] | None = None) -> None:
    """Font sizes, the title and one legend below the panels (``legend_from``'s entries, or
    ``handles_labels``)."""
    fonts(fig)
    if title:
        fig.suptitle(title, fontsize=FONT + 1)
    handles, labels = handles_labels or legend_from.get_legend_handles_labels()
    if not labels:  # nothing drawn there (every run of that network failed)
        fig.tight_layout()
        return
    for ax in fig.axes:  # the one legend below replaces any legend inside the panels
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    # As many columns as fit the figure's width: about 6 px a character at 8 pt, 40 px for
    # the line sample and the gap.
    longest = max(len(str(label)) for label in labels)
    fits = int(fig.get_size_inches()[0] * 100 // (6.2 * longest + 40))
    ncol = max(1, min(3, len(labels), fits))
    rows = -(-len(labels) // ncol)
    legend_inches = 0.15 + 0.2 * rows
    fig.tight_layout(rect=(0, legend_inches / fig.get_size_inches()[1], 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False,
               fontsize=SMALL)


def log_x(ax: plt.Axes, frame: pd.DataFrame) -> None:
    """Z19's axis: percent of weights remaining, log scale, dense on the left."""
    values = sorted(set(frame["percent_remaining"].round(1)), reverse=True)
    ax.set_xscale("log")
    ax.set_xticks(values[:: max(1, -(-len(values) // 5))])  # at most 5: they fit a panel
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.invert_xaxis()
    ax.set_xlabel(Z19_AXIS)
    ax.grid(True, which="both", alpha=0.3)


def layer_ticks(ax: plt.Axes, layers: pd.DataFrame) -> None:
    """Layer names under a depth axis, upright when few, else every k-th one rotated."""
    names = [n.replace(".weight", "") for n in layers["layer"]]
    step = max(1, -(-len(names) // 12))
    ax.set_xticks(list(layers["depth"])[::step])
    ax.set_xticklabels(names[::step], rotation=0 if len(names) <= 4 else 90,
                       fontsize=SMALL)
    ax.set_xlabel("layer, input first")


def not_run(text: str) -> None:
    """A figure whose runs are not part of this scale: one line of text, not an image."""
    from IPython.display import Markdown, display

    display(Markdown(f"*{text}.*"))


