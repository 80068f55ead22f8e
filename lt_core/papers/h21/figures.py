"""H21's figures: x = fraction of weights pruned (spaced as -log(1 - x), so that levels of 20% each are evenly spaced), mean line with a band of one std over seeds; a point where a seed's training failed is left out and marked x on the axis."""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...plots import (
    LINESTYLES,
    NCOLS,
    PALETTE,
    grid,
    layer_ticks,
    not_run,
    pct_axis,
    readable,
    series_styles,
    titled,
)
from ...widgets import compact_png, linked_stacks
from . import analysis

H21_AXIS = "fraction of weights pruned"
H21_NAMES = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD", "stop_epoch": "pruning epoch"}
H21_PRUNING = {"lottery": "lottery", "global_random": "global random",
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
    fig, axes = grid(len(panels), 2.6, ncols)
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
        pct_axis(ax)
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
    readable(fig, axes.flat[0], title, ([handles[lab] for lab in labels], labels))
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
        pruning = where.pop("pruning", "lottery")
        if pruning in BASELINES:
            out[(tuple(hue), key)] = (H21_PRUNING[pruning], BASELINES[pruning])
            continue
        if not where:
            out[(tuple(hue), key)] = (H21_PRUNING[pruning], {"color": PALETTE[0], "marker": "o"})
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
         {"study": study, "find": v, "eval": v, "lpr_from": None}, ["pruning"]) for v in values],
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
                    {"study": study, "eval": e, "lpr_from": None}, ["pruning", "find"]))
    bottom: list[Panel] = [(f"found with {name}_find = {_h21_value(f)}",
                            {"study": study, "find": f, "pruning": "lottery", "lpr_from": None},
                            ["eval"]) for f in finds]
    blank: Panel = ("", {}, [])
    return h21_panels(curves, top + [blank] * (-len(top) % NCOLS) + bottom, title)


def h21_best(best: dict[str, pd.DataFrame], title: str = "") -> plt.Figure:
    """H21 Fig 3: per study, the best coupled and the best decoupled pair at each level (mean
    and std over seeds; the pair may change from level to level)."""
    fig, axes = grid(len(best), 2.8)
    for ax, (study, frame) in zip(axes.flat, best.items()):
        for name, color, marker in (("decoupled", PALETTE[0], "o"),
                                    ("coupled", PALETTE[1], "s")):
            m, s = frame[f"{name}_mean"], frame[f"{name}_std"]
            ax.errorbar(frame["fraction_pruned"], m, yerr=s, marker=marker, ms=3, capsize=2,
                        color=color, label=f"best {name} pair")
        _h21_axis(ax, list(frame["fraction_pruned"]), H21_AXIS)
        pct_axis(ax)
        ax.set_title(H21_NAMES.get(study, study))
        ax.set_ylabel("test accuracy, %")
    return titled(fig, title, axes.flat[0])


def h21_lpr(means: pd.DataFrame, levels: list[int], what: str = "find",
            title: str = "") -> plt.Figure:
    """H21 Fig 6 / A17 / 8a-b: the LPR of every layer (by depth) for each H_find at fixed
    levels, with a std band over seeds and the uniform LPR of a global random mask."""
    fig, axes = grid(len(levels), 3.0)
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
            layer_ticks(ax, part.drop_duplicates("depth").sort_values("depth"))
        ax.set_ylabel("LPR, % of the layer pruned")
    return titled(fig, title, axes.flat[0])




def h21_figure(result, figure: str, study: str | None = None) -> plt.Figure | None:
    """The H21 figure ``figure`` (fig1, fig2, fig3, fig4, fig5, fig6, fig7, fig8, fig9) of a
    ``h21.Result``; where its studies are not part of this scale, one line of text
    that says so (and nothing is returned)."""
    if result is None:
        return not_run("This figure's experiment is not run at this scale (the paper scale "
                        "runs it)")
    cfg, curves = result.config, result.curves
    where = f"on {result.dataset.name}"
    if figure == "fig1":
        s = cfg.study("lr")
        values = [v for v in s.find if v in s.eval] if s else []
        if not values:
            return not_run("Figure 1 needs the lr study, which is not run at this scale")
        return h21_coupled(curves, "lr", values, f"Coupled runs vs random baselines {where}")
    if figure in ("fig2", "fig6"):
        s = cfg.study(study)
        if s is None:
            return not_run(f"The {study} study is not run at this scale (the paper scale runs it)")
        if figure == "fig2":
            return h21_grid(curves, study, s.vary, s.find, s.eval,
                            f"All H_find x H_eval of {study} {where}")
        return h21_lpr(analysis.lpr_means(result.lpr, study), cfg.lpr_levels,
                       H21_NAMES[s.vary], f"LPR per layer by {study}_find {where}")
    if figure == "fig3":
        best = {s.name: analysis.best_coupled_vs_decoupled(curves, s.name)
                for s in cfg.studies if s.name in ("lr", "batch_size", "weight_decay")}
        if not best:
            return not_run("Figure 3 needs the lr, batch_size or weight_decay study, none of which is "
                            "run at this scale")
        return h21_best(best, f"Best coupled vs best decoupled {where}")
    if figure == "fig7":
        if not cfg.constrained:
            return not_run("Figure 7 (LPR-constrained pruning) is not run at this scale (the paper "
                            "scale runs it)")
        return h21_constrained(curves, cfg.constrained, f"LPR-constrained pruning {where}")
    if figure == "fig8":
        s = cfg.study("wd0")
        if s is None:
            return not_run("Figure 8 (weight decay 0 when finding) is not run at this scale (the "
                            "paper scale runs it)")
        return h21_panels(curves, [("WD_find = 0: masks by LR_find",
                                    {"study": "wd0", "pruning": "lottery"}, ["find", "eval"])],
                          f"Weight decay 0 in the find phase {where}")
    if figure in ("fig4", "fig5", "fig9"):
        names = {"fig4": ("late_rewinding", "warmup", "lr_rewinding"),
                 "fig5": ("structured_lr", "structured_batch_size", "structured_weight_decay"),
                 "fig9": ("early_pruning", "early_pruning_low_lr")}[figure]
        present = [n for n in names if cfg.study(n)]
        if not present:
            return not_run(f"{', '.join(names)}: not run at this scale (the paper scale runs "
                            "them)")
        if figure == "fig9":  # 0%: the dense network trained for the find run's epochs
            curves = _dense_from_find(curves, result.find_accuracy, present)
        panels = [(n.replace("_", " "), {"study": n, "pruning": "lottery"}, ["find", "eval"])
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
    fig, axes = grid(len(constrained), 3.0)
    for ax, c in zip(axes.flat, constrained):
        base = {"study": c.study, "pruning": "lottery", "eval": c.eval}
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
        pct_axis(ax)
        ax.set_title(f"{c.study}, all evaluated with {c.eval:g}")
        ax.set_ylabel("test accuracy, %")
        ax.legend(loc="lower left")
    return titled(fig, title)


# ----------------------------------------------------------------------------------------------
# H21: the LPR explorer. Pick H_find and a level: the layerwise pruning ratio of every layer
# (mean over seeds, with the std) next to a global random mask's (the level's overall
# fraction pruned, in every layer). Built from ``analysis.lpr_means``.


def render_lpr(part: pd.DataFrame, title: str, dpi: int = 90) -> bytes:
    """One (H_find, level) state as lossless WebP bytes: a bar per layer by depth, LPR and
    global random. 6.4 x (0.3 per layer + 1.5) inches at 90 dpi: under the column's 688 px,
    so it shows at its natural size, text at 9-10 pt (11-12 px)."""
    part = part.sort_values("depth")
    y = np.arange(len(part))
    fig = Figure(figsize=(6.4, 0.3 * len(part) + 1.5), dpi=dpi)
    ax = fig.subplots()
    ax.barh(y - 0.2, 100 * part["lpr"], height=0.4, xerr=100 * part["std"].fillna(0),
            color="#0072B2", label="this mask")
    ax.barh(y + 0.2, 100 * part["global_random"], height=0.4, color="#bbbbbb",
            label="global random")
    ax.set_yticks(y)
    ax.set_yticklabels([n.replace(".weight", "") for n in part["layer"]], fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    ax.invert_yaxis()  # input layer on top
    ax.set_xlim(0, 100)
    ax.set_xlabel("layerwise pruning ratio, %", fontsize=10)
    ax.legend(fontsize=9, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return compact_png(buf.getvalue())


def _lpr_title(what: str, find, level: int, part: pd.DataFrame) -> str:
    value = "full" if pd.isna(find) else f"{find:g}"
    return (f"{what}_find = {value}, level {level} "
            f"({100 * part['global_random'].mean():.1f}% of the weights pruned)")


def lpr_explorer(means: pd.DataFrame, what: str = "LR") -> W.Widget:
    """Controls and precomputed images (every H_find x level), switched in the browser
    without a kernel, as the mask explorer."""
    finds = sorted(means["find"].unique(), key=lambda v: float("inf") if pd.isna(v) else v)
    levels = sorted(means["level"].unique())
    find = W.Dropdown(options=[f"{what}_find {'full' if pd.isna(f) else f'{f:g}'}"
                               for f in finds], index=0, description="mask")
    level = W.IntSlider(min=int(levels[0]), max=int(levels[-1]), value=int(levels[0]),
                        description="level", continuous_update=True)

    def image(f, lv: int) -> W.Image:
        part = analysis.select(means, level=lv, find=f)
        png = render_lpr(part, _lpr_title(what, f, lv, part)) if len(part) else b""
        return W.Image(value=png, format="webp")

    # index = level (jslink copies the slider's value as it is)
    top = linked_stacks([[image(f, lv) for lv in range(int(levels[-1]) + 1)] for f in finds],
                        [find, level])
    note = W.HTML(f"<small>Mean over seeds (bars: one std). Grey: a global random mask prunes "
                  f"every layer alike. Levels {levels[0]}..{levels[-1]}.</small>")
    return W.VBox([W.HBox([find, level]), note, top])


def interactive_lpr_explorer(means: pd.DataFrame, what: str = "LR"):
    """Live-Jupyter version: renders on demand through ``interact``."""
    finds = sorted(means["find"].unique(), key=lambda v: float("inf") if pd.isna(v) else v)
    levels = sorted(means["level"].unique())

    def show(find: float, level: int):
        part = analysis.select(means, level=level, find=find)
        return W.Image(value=render_lpr(part, _lpr_title(what, find, level, part)),
                       format="webp")

    return W.interactive(show, find=finds, level=W.IntSlider(
        min=int(levels[0]), max=int(levels[-1]), value=int(levels[0])))


