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
from matplotlib.lines import Line2D

from . import analysis, stats

PANELS = {  # metric -> (what it is, higher is better)
    "early_stop_iteration": ("early-stopping iteration", False),
    "test_acc_at_early_stop": ("test accuracy at early stopping", True),
}
AXIS_LABELS = {"early_stop_iteration": "iteration", "test_acc_at_early_stop": "test accuracy, %"}
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
H21_AXIS = "fraction of weights pruned"


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


def _grid(n: int, height: float, ncols: int = NCOLS, width: float = WIDTH,
          **kw) -> tuple[plt.Figure, np.ndarray]:
    """``n`` panels, at most ``ncols`` per row, the column's width; unused cells hidden."""
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height * nrows), squeeze=False, **kw)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def _pct_axis(ax: plt.Axes) -> None:
    """Accuracy stored as a fraction, shown in % (as many decimals as the range needs)."""
    ax.yaxis.set_major_formatter(mticker.PercentFormatter(xmax=1.0, decimals=None, symbol=""))


def rounds(summary: pd.DataFrame, title: str = "", panels: tuple[str, ...] = tuple(PANELS),
           dense_baseline: bool = False, stars: tuple[str, str] | None = None) -> plt.Figure:
    """One row per network, one panel per metric, one line per member; ``stars``: the pair of
    lines whose significant differences are starred. Failed rounds are left out (a network
    whose runs all failed gets empty panels that say so)."""
    ok = summary[~summary["failed"]]
    members = list(dict.fromkeys(ok["member"]))
    styles = series_styles(members)
    nets = list(dict.fromkeys(summary["model"])) if "model" in summary else [None]
    fig, axes = plt.subplots(len(nets), len(panels), squeeze=False,
                             figsize=(WIDTH, 3.2 * len(nets)))
    for row, net in zip(axes, nets):
        part = ok if net is None else ok[ok["model"] == net]
        for ax, metric in zip(row, panels):
            label, higher = PANELS.get(metric, (metric, True))
            for member in members:
                g = part[part["member"] == member].groupby("round").agg(
                    x=("percent_remaining", "mean"), mean=(metric, "mean"),
                    lo=(metric, "min"), hi=(metric, "max"))
                ax.plot(g["x"], g["mean"], ms=3, label=member, **styles[member])
                ax.fill_between(g["x"], g["lo"], g["hi"], color=styles[member]["color"],
                                alpha=0.12, lw=0)
            if stars is not None:
                for _, s in stats.pairwise_stars(part, stars, metric, higher).iterrows():
                    ax.plot(s["percent_remaining"], s["value"], marker="*", ms=12, ls="none",
                            color=styles[s["member"]]["color"], markeredgecolor="black",
                            markeredgewidth=0.5)
            if dense_baseline and metric == "test_acc_at_early_stop":
                dense = part[part["round"] == 0][metric].mean()
                ax.axhline(dense, color="black", ls="--", lw=1, label="dense (round 0)")
            if metric == "test_acc_at_early_stop":
                _pct_axis(ax)
            if part.empty:
                ax.text(0.5, 0.5, "every run failed", ha="center", transform=ax.transAxes)
            else:
                _log_x(ax, part)
            ax.set_ylabel(AXIS_LABELS.get(metric, label))
            ax.set_title(f"{net}: {label}" if net else label)
    _readable(fig, axes[0][-1], title)
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
            d = dense[(dense["model"] == net) & (dense["round"] == 0)]
            ax.axhline(d["test_acc_at_early_stop"].mean(), color="dimgrey", ls="--", lw=1.2,
                       label="trained_baseline")
        if learned is not None and weights == "initial":
            _learned_points(ax, learned[(learned["model"] == net) & ~learned["failed"]])
        _log_x(ax, part)
        _pct_axis(ax)
        ax.set_ylabel("test accuracy, untrained, %")
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
                ms=6, color="black", mfc="white", ecolor="black", capsize=3,
                label="learned_mask")


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
        _pct_axis(ax)
        ax.set_xlabel("training iterations (batch 250, log scale)")
        ax.set_ylabel("test accuracy, %")
        ax.set_title(net)
        ax.grid(True, which="both", alpha=0.3)
    _readable(fig, axes[0][0], title)
    return fig


def _titled(fig: plt.Figure, title: str, legend_from: plt.Axes | None = None) -> plt.Figure:
    """The figure with its title (if any), readable fonts and a tight layout; with
    ``legend_from``, that panel's legend below the panels instead of inside them."""
    if legend_from is not None:
        _readable(fig, legend_from, title)
        return fig
    _fonts(fig)
    if title:
        fig.suptitle(title, fontsize=FONT + 1)
    fig.tight_layout()
    return fig


def _fonts(fig: plt.Figure) -> None:
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


def _readable(fig: plt.Figure, legend_from: plt.Axes, title: str,
              handles_labels: tuple[list, list] | None = None) -> None:
    """Font sizes, the title and one legend below the panels (``legend_from``'s entries, or
    ``handles_labels``)."""
    _fonts(fig)
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


def _log_x(ax: plt.Axes, frame: pd.DataFrame) -> None:
    """Z19's axis: percent of weights remaining, log scale, dense on the left."""
    values = sorted(set(frame["percent_remaining"].round(1)), reverse=True)
    ax.set_xscale("log")
    ax.set_xticks(values[:: max(1, -(-len(values) // 5))])  # at most 5: they fit a panel
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.invert_xaxis()
    ax.set_xlabel(Z19_AXIS)
    ax.grid(True, which="both", alpha=0.3)


# ----------------------------------------------------------------------------------------------
# H21 (lt_core.decoupling): x = fraction of weights pruned (spaced as -log(1 - x), so that
# levels of 20% each are evenly spaced), mean line with a band of one std over seeds; a point
# where a seed's training failed is left out and marked x on the axis.

H21_NAMES = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD", "stop_epoch": "pruning epoch"}
H21_KINDS = {"lottery": "lottery", "global_random": "global random",
             "preserve_lpr": "preserve LPR"}
Panel = tuple[str, dict, list[str]]  # title, selection of curves rows, columns that split lines


def _h21_value(v) -> str:
    return "full" if v is None or pd.isna(v) else f"{v:g}"


def _h21_axis(ax: plt.Axes, xs: list[float], label: str) -> None:
    ax.set_xscale("function", functions=(lambda x: -np.log1p(-np.minimum(x, 0.9999)),
                                         lambda y: -np.expm1(-y)))
    ticks = sorted(set(round(x, 2) for x in xs))
    ax.set_xticks(ticks[:: max(1, -(-len(ticks) // 5))])
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.2f}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel(label)
    ax.grid(True, alpha=0.3)


def h21_panels(curves: pd.DataFrame, panels: list[Panel], title: str = "",
               ncols: int = NCOLS, x: str = "fraction_pruned") -> plt.Figure:
    """One panel per (title, selection, hue): the selected rows of ``curves``, one line per
    distinct value of the hue columns (an empty title leaves the panel blank). A line keeps
    its style in every panel (``_h21_styles``), so one legend below serves them all."""
    keys = []
    for _, where, hue in panels:
        part = analysis.select(curves, **where) if hue else curves.iloc[:0]
        keys.append(sorted({tuple(k) for k in part[hue].itertuples(index=False)},
                           key=lambda k: [_sort_key(v) for v in k]) if hue else [])
    styles = _h21_styles([(hue, k) for (_, _, hue), ks in zip(panels, keys) for k in ks])
    fig, axes = _grid(len(panels), 2.6, ncols)
    for ax, (name, where, hue), panel_keys in zip(axes.flat, panels, keys):
        if not name:
            ax.axis("off")
            continue
        part = analysis.select(curves, **where)
        for key in panel_keys:
            label, style = styles[(tuple(hue), key)]
            g = analysis.select(part, **dict(zip(hue, key))).sort_values("level")
            ok = g[~g["failed"]]
            ax.plot(ok[x], ok["mean"], ms=3, label=label, **style)
            ax.fill_between(ok[x], ok["mean"] - ok["std"], ok["mean"] + ok["std"],
                            color=style["color"], alpha=0.12, lw=0)
            bad = g[g["failed"]]
            if len(bad):  # collapsed: no mean, an x on the axis
                ax.plot(bad[x], [ax.get_ylim()[0]] * len(bad), "x", color=style["color"], ms=7)
        if part.empty:
            ax.text(0.5, 0.5, "no runs", ha="center", transform=ax.transAxes)
        else:
            _h21_axis(ax, list(part[x].dropna()), "fraction of units pruned"
                      if x == "filters_pruned" else H21_AXIS)
        _pct_axis(ax)
        ax.set_title(name)
        ax.set_ylabel("test accuracy, %")
    handles = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    # The legend in reading order: masks by H_find, then by H_eval, then the baselines.
    group = {"find": 0, "eval": 1}
    labels = sorted(handles, key=lambda lab: (group.get(lab.split(" ")[0], 2),
                                              list(handles).index(lab)))
    _readable(fig, axes.flat[0], title, ([handles[lab] for lab in labels], labels))
    return fig


BASELINES = {"global_random": {"color": "#444444", "ls": "--", "marker": "x"},
             "preserve_lpr": {"color": "#999999", "ls": ":", "marker": "+"}}


def _h21_styles(lines: list[tuple[list[str], tuple]]) -> dict:
    """(hue columns, key) -> (label, plot style) for every line of a figure: the random
    baselines grey; else the colour of the find value (or the eval value where only it
    varies: a value has one colour whichever phase it sets), circles for masks by H_find,
    squares for H_eval, the line style of the eval value where both vary."""
    values = sorted({v for hue, key in lines for col, v in zip(hue, key)
                     if col in ("find", "eval")}, key=_sort_key)
    evals = sorted({v for hue, key in lines for col, v in zip(hue, key) if col == "eval"},
                   key=_sort_key)

    def index(v, among) -> int:
        return next(i for i, u in enumerate(among) if analysis.same(u, v))

    out = {}
    for hue, key in lines:
        where = dict(zip(hue, key))
        kind = where.pop("kind", "lottery")
        if kind in BASELINES:
            out[(tuple(hue), key)] = (H21_KINDS[kind], BASELINES[kind])
            continue
        if not where:
            out[(tuple(hue), key)] = (H21_KINDS[kind], {"color": PALETTE[0], "marker": "o"})
            continue
        col = "find" if "find" in where else next(iter(where))
        colour = PALETTE[index(where[col], values) % len(PALETTE)] if col in (
            "find", "eval") else PALETTE[0]
        style = {"color": colour, "marker": "o" if col == "find" else "s"}
        if col == "find" and "eval" in where:
            style["ls"] = LINESTYLES[index(where["eval"], evals) % len(LINESTYLES)]
        out[(tuple(hue), key)] = (", ".join(f"{c} {_h21_value(v)}" for c, v in where.items()),
                                  style)
    return out


def _sort_key(v) -> tuple:
    if isinstance(v, str):
        return (0, v)
    return (1, float("inf") if pd.isna(v) else v)


def h21_coupled(curves: pd.DataFrame, study: str, values: list, title: str = "") -> plt.Figure:
    """H21 Fig 1 / A1: each coupled run (H_find = H_eval) against both random baselines."""
    name = H21_NAMES.get(study, study)
    return h21_panels(curves, [
        (f"{name}_find = {name}_eval = {_h21_value(v)}",
         {"study": study, "find": v, "eval": v, "lpr_from": None}, ["kind"]) for v in values],
        title)


def h21_grid(curves: pd.DataFrame, study: str, vary: str, finds: list, evals: list,
             title: str = "") -> plt.Figure:
    """H21 Fig 2 / A2, A4, A6: first, one panel per H_eval with a line per H_find and the
    random baselines of that value (H_find = H_eval); then one panel per H_find with a line
    per H_eval (each group starts on a new row)."""
    name = H21_NAMES.get(vary, vary)
    top: list[Panel] = []
    for e in evals:
        top.append((f"evaluated with {name}_eval = {_h21_value(e)}",
                    {"study": study, "eval": e, "lpr_from": None}, ["kind", "find"]))
    bottom: list[Panel] = [(f"found with {name}_find = {_h21_value(f)}",
                            {"study": study, "find": f, "kind": "lottery", "lpr_from": None},
                            ["eval"]) for f in finds]
    blank: Panel = ("", {}, [])
    return h21_panels(curves, top + [blank] * (-len(top) % NCOLS) + bottom, title)


def h21_best(best: dict[str, pd.DataFrame], title: str = "") -> plt.Figure:
    """H21 Fig 3: per study, the best coupled and the best decoupled pair at each level (mean
    and std over seeds; the pair may change from level to level)."""
    fig, axes = _grid(len(best), 2.8)
    for ax, (study, frame) in zip(axes.flat, best.items()):
        for name, color, marker in (("decoupled", PALETTE[0], "o"),
                                    ("coupled", PALETTE[1], "s")):
            m, s = frame[f"{name}_mean"], frame[f"{name}_std"]
            ax.errorbar(frame["fraction_pruned"], m, yerr=s, marker=marker, ms=3, capsize=2,
                        color=color, label=f"best {name} pair")
        _h21_axis(ax, list(frame["fraction_pruned"]), H21_AXIS)
        _pct_axis(ax)
        ax.set_title(H21_NAMES.get(study, study))
        ax.set_ylabel("test accuracy, %")
    return _titled(fig, title, axes.flat[0])


def h21_lpr(means: pd.DataFrame, levels: list[int], what: str = "find",
            title: str = "") -> plt.Figure:
    """H21 Fig 6 / A17 / 8a-b: the LPR of every layer (by depth) for each H_find at fixed
    levels, with a std band over seeds and the uniform LPR of a global random mask."""
    fig, axes = _grid(len(levels), 3.0)
    finds = sorted(means["find"].unique(), key=_sort_key)
    styles = series_styles([f"{what}_find {_h21_value(f)}" for f in finds])
    for ax, level in zip(axes.flat, levels):
        part = means[means["level"] == level]
        for f in finds:
            label = f"{what}_find {_h21_value(f)}"
            g = analysis.select(part, find=f).sort_values("depth")
            ax.plot(g["depth"], 100 * g["lpr"], ms=3, label=label, **styles[label])
            sd = 100 * g["std"].fillna(0)
            ax.fill_between(g["depth"], 100 * g["lpr"] - sd, 100 * g["lpr"] + sd,
                            color=styles[label]["color"], alpha=0.12, lw=0)
        if len(part):
            uniform = 100 * part["global_random"].mean()
            ax.axhline(uniform, color="black", ls="--", lw=1, label="global random")
            ax.set_title(f"level {level}: {uniform:.1f}% pruned")
            _layer_ticks(ax, part.drop_duplicates("depth").sort_values("depth"))
        ax.set_ylabel("LPR, % of the layer pruned")
    return _titled(fig, title, axes.flat[0])


def _layer_ticks(ax: plt.Axes, layers: pd.DataFrame) -> None:
    """Layer names under a depth axis, upright when few, else every k-th one rotated."""
    names = [n.replace(".weight", "") for n in layers["layer"]]
    step = max(1, -(-len(names) // 12))
    ax.set_xticks(list(layers["depth"])[::step])
    ax.set_xticklabels(names[::step], rotation=0 if len(names) <= 4 else 90,
                       fontsize=SMALL)
    ax.set_xlabel("layer, input first")


def _not_run(text: str) -> None:
    """A figure whose runs are not part of this scale: one line of text, not an image."""
    from IPython.display import Markdown, display

    display(Markdown(f"*{text}.*"))


def h21_figure(result, figure: str, study: str | None = None) -> plt.Figure | None:
    """The H21 figure ``figure`` (fig1, fig2, fig3, fig4, fig5, fig6, fig7, fig8, fig9) of a
    ``decoupling.Result``; where its studies are not part of this scale, one line of text
    that says so (and nothing is returned)."""
    if result is None:
        return _not_run("This figure's experiment is not run at this scale (the paper scale "
                        "runs it)")
    cfg, curves = result.cfg, result.curves
    where = f"on {result.data.name}"
    if figure == "fig1":
        s = cfg.study("lr")
        values = [v for v in s.find if v in s.eval] if s else []
        if not values:
            return _not_run("Figure 1 needs the lr study, which is not run at this scale")
        return h21_coupled(curves, "lr", values, f"Coupled runs vs random baselines {where}")
    if figure in ("fig2", "fig6"):
        s = cfg.study(study)
        if s is None:
            return _not_run(f"The {study} study is not run at this scale (the paper scale runs it)")
        if figure == "fig2":
            return h21_grid(curves, study, s.vary, s.find, s.eval,
                            f"All H_find x H_eval of {study} {where}")
        return h21_lpr(analysis.lpr_means(result.lpr, study), cfg.lpr_levels,
                       H21_NAMES[s.vary], f"LPR per layer by {study}_find {where}")
    if figure == "fig3":
        best = {s.name: analysis.best_coupled_vs_decoupled(curves, s.name)
                for s in cfg.studies if s.name in ("lr", "batch_size", "weight_decay")}
        if not best:
            return _not_run("Figure 3 needs the lr, batch_size or weight_decay study, none of which is "
                            "run at this scale")
        return h21_best(best, f"Best coupled vs best decoupled {where}")
    if figure == "fig7":
        if not cfg.constrained:
            return _not_run("Figure 7 (LPR-constrained pruning) is not run at this scale (the paper "
                            "scale runs it)")
        return h21_constrained(curves, cfg.constrained, f"LPR-constrained pruning {where}")
    if figure == "fig8":
        s = cfg.study("wd0")
        if s is None:
            return _not_run("Figure 8 (weight decay 0 when finding) is not run at this scale (the "
                            "paper scale runs it)")
        return h21_panels(curves, [("WD_find = 0: masks by LR_find",
                                    {"study": "wd0", "kind": "lottery"}, ["find", "eval"])],
                          f"Weight decay 0 in the find phase {where}")
    if figure in ("fig4", "fig5", "fig9"):
        names = {"fig4": ("late_rewinding", "warmup", "lr_rewinding"),
                 "fig5": ("structured_lr", "structured_batch_size", "structured_weight_decay"),
                 "fig9": ("early_pruning", "early_pruning_low_lr")}[figure]
        present = [n for n in names if cfg.study(n)]
        if not present:
            return _not_run(f"{', '.join(names)}: not run at this scale (the paper scale runs "
                            "them)")
        if figure == "fig9":  # 0%: the dense network trained for the find run's epochs
            curves = _dense_from_find(curves, result.find_accuracy, present)
        panels = [(n.replace("_", " "), {"study": n, "kind": "lottery"}, ["find", "eval"])
                  for n in present]
        return h21_panels(curves, panels, f"{', '.join(present)} {where}",
                          x="filters_pruned" if figure == "fig5" else "fraction_pruned")
    raise ValueError(f"unknown H21 figure {figure!r}")


def _dense_from_find(curves: pd.DataFrame, find_accuracy: pd.DataFrame, studies: list[str]
                     ) -> pd.DataFrame:
    """Level 0 of each line = the find run's own dense training (H21 Fig 9's 0% points)."""
    curves = curves.copy()
    for i, row in curves[curves["study"].isin(studies) & (curves["level"] == 0)].iterrows():
        d = analysis.select(find_accuracy, study=row["study"], find=row["find"], lpr_from=None,
                            level=0)
        curves.loc[i, ["mean", "std", "failed"]] = [
            d["test_acc"].mean(), d["test_acc"].std(), bool(d["failed"].any())]
    return curves


def h21_constrained(curves: pd.DataFrame, constrained: list, title: str = "") -> plt.Figure:
    """H21 Fig 7: blue = bad H_find with the good run's LPR; orange = good H_find with the
    bad run's LPR; green = the regular good run (blue's LPR); all under one H_eval."""
    fig, axes = _grid(len(constrained), 3.0)
    for ax, c in zip(axes.flat, constrained):
        base = {"study": c.study, "kind": "lottery", "eval": c.eval}
        xs = []
        for label, where, color, marker in (
                (f"bad find {c.bad:g}, LPR of {c.good:g}", {"find": c.bad, "lpr_from": c.good},
                 PALETTE[0], "o"),
                (f"good find {c.good:g}, LPR of {c.bad:g}", {"find": c.good, "lpr_from": c.bad},
                 PALETTE[1], "s"),
                (f"regular find {c.good:g}", {"find": c.good, "lpr_from": None}, PALETTE[2],
                 "^")):
            g = analysis.select(curves, **base, **where).sort_values("level")
            ok = g[~g["failed"]]
            xs += list(g["fraction_pruned"])
            ax.plot(ok["fraction_pruned"], ok["mean"], marker=marker, ms=3, color=color,
                    label=label)
            ax.fill_between(ok["fraction_pruned"], ok["mean"] - ok["std"],
                            ok["mean"] + ok["std"], color=color, alpha=0.12, lw=0)
        _h21_axis(ax, xs or [0.0], H21_AXIS)
        _pct_axis(ax)
        ax.set_title(f"{c.study}, all evaluated with {c.eval:g}")
        ax.set_ylabel("test accuracy, %")
        ax.legend(loc="lower left")
    return _titled(fig, title)


# ----------------------------------------------------------------------------------------------
# L23: importance measures (figures of book/06_layerwise.py). x: percent of weights remaining
# (log, dense on the left) as in OpenLTH, on which L23 builds, or the pruning level.


def _measure_styles(measures) -> dict:
    return series_styles(measures)


def l23_accuracy(summary: pd.DataFrame, table2: pd.DataFrame, title: str = "") -> plt.Figure:
    """L23 Figure 4 / Table 2: test accuracy at the end of training vs weights remaining, one
    panel per network, a line per measure (mean over seeds, band +- std); L23's Table 2 as
    squares with +- std bars in the same colour; the dense networks as horizontal lines."""
    ok = summary[~summary["failed"]]
    nets = list(dict.fromkeys(ok["model"]))
    styles = _measure_styles(list(dict.fromkeys(ok["measure"])))
    fig, axes = _grid(max(1, len(nets)), 3.8 if len(nets) <= 1 else 3.0,
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
        _log_x(ax, part)
        ax.set_ylabel("test accuracy at the end, %")
        ax.set_title(net)
    _readable(fig, axes.flat[0], title)
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
    _layer_ticks(ax, at[at["layer"] != "all"].drop_duplicates("depth").sort_values("depth"))
    ax.set_ylabel(f"LPR at level {level}, %")
    ax.set_title(f"by depth at level {level} (dotted: the network as a whole)")
    ax.legend(ncol=min(3, len(measures)))
    fig.suptitle(f"{model}: layerwise pruning ratio (LPR)", fontsize=FONT + 1)
    _fonts(fig)
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
    _readable(fig, a, f"{model}: overlap of the tickets of {measures}")
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
    _readable(fig, flips, "")
    return fig


def l23_movement(frame: pd.DataFrame, level: int, max_points: int = 4000) -> plt.Figure:
    """L23 Figure 3: in one tensor, each ticket connection's value at the rewind point (x)
    and at the end of level L (y), in the overlap vs not (a fixed sample when large)."""
    layer = frame["layer"].iloc[0]
    measures = list(dict.fromkeys(frame["measure"]))
    fig, axes = _grid(len(measures), 2.9, ncols=3, sharex=True, sharey=True)
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
    _readable(fig, axes.flat[0], f"{layer}: each ticket connection's value",
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
    _readable(fig, ax, "Partial re-initialisation: the overlap's connections kept")
    return fig
