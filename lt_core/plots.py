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
import numpy as np
import pandas as pd
import seaborn as sns

from . import analysis, stats

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


def _titled(fig: plt.Figure, title: str) -> plt.Figure:
    """The figure with its title (if any) and a tight layout."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
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
    ax.set_xticks(ticks[:: max(1, len(ticks) // 6)])
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:.2f}"))
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel(label)
    ax.grid(True, alpha=0.3)


def h21_panels(curves: pd.DataFrame, panels: list[Panel], title: str = "", ncols: int = 4,
               x: str = "fraction_pruned") -> plt.Figure:
    """One panel per (title, selection, hue): the selected rows of ``curves``, one line per
    distinct value of the hue columns (an empty title leaves the panel blank)."""
    ncols = min(ncols, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.4 * nrows), squeeze=False)
    for ax, (name, where, hue) in zip(axes.flat, panels):
        if not name:
            ax.axis("off")
            continue
        part = analysis.select(curves, **where)
        keys = sorted({tuple(k) for k in part[hue].itertuples(index=False)},
                      key=lambda k: [_sort_key(v) for v in k])
        colors = sns.color_palette("tab10", max(1, len(keys)))
        for key, color in zip(keys, colors):
            g = analysis.select(part, **dict(zip(hue, key))).sort_values("level")
            ok = g[~g["failed"]]
            ax.plot(ok[x], ok["mean"], marker="o", ms=3, color=color, label=_h21_label(hue, key))
            ax.fill_between(ok[x], ok["mean"] - ok["std"], ok["mean"] + ok["std"], color=color,
                            alpha=0.15, lw=0)
            bad = g[g["failed"]]
            if len(bad):  # collapsed: no mean, an x on the axis
                ax.plot(bad[x], [ax.get_ylim()[0]] * len(bad), "x", color=color, ms=7)
        if part.empty:
            ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
        else:
            _h21_axis(ax, list(part[x].dropna()), "fraction of units pruned"
                      if x == "filters_pruned" else "fraction of weights pruned")
            ax.legend(fontsize=7, loc="lower left")
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("test accuracy")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return _titled(fig, title)


def _h21_label(hue: list[str], key: tuple) -> str:
    return ", ".join(H21_KINDS.get(v, v) if col == "kind" else f"{col} {_h21_value(v)}"
                     for col, v in zip(hue, key))


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
    """H21 Fig 2 / A2, A4, A6: top row, one panel per H_eval with a line per H_find and the
    random baselines of that value (H_find = H_eval); bottom row, one panel per H_find with a
    line per H_eval."""
    name = H21_NAMES.get(vary, vary)
    ncols = max(len(finds), len(evals))
    top: list[Panel] = []
    for e in evals:
        top.append((f"masks evaluated with {name}_eval = {_h21_value(e)}",
                    {"study": study, "eval": e, "lpr_from": None}, ["kind", "find"]))
    bottom: list[Panel] = [(f"masks found with {name}_find = {_h21_value(f)}",
                            {"study": study, "find": f, "kind": "lottery", "lpr_from": None},
                            ["eval"]) for f in finds]
    blank: Panel = ("", {}, [])
    return h21_panels(curves, top + [blank] * (ncols - len(top)) + bottom
                      + [blank] * (ncols - len(bottom)), title, ncols)


def h21_best(best: dict[str, pd.DataFrame], title: str = "") -> plt.Figure:
    """H21 Fig 3: per study, the best coupled and the best decoupled pair at each level (mean
    and std over seeds; the pair may change from level to level)."""
    fig, axes = plt.subplots(1, len(best), figsize=(4.6 * len(best), 3.4), squeeze=False)
    for ax, (study, frame) in zip(axes[0], best.items()):
        for name, color in (("decoupled", "#4c72b0"), ("coupled", "#dd8452")):
            m, s = frame[f"{name}_mean"], frame[f"{name}_std"]
            ax.errorbar(frame["fraction_pruned"], m, yerr=s, marker="o", ms=3, capsize=2,
                        color=color, label=f"best {name}")
        _h21_axis(ax, list(frame["fraction_pruned"]), "fraction of weights pruned")
        ax.set_title(H21_NAMES.get(study, study), fontsize=9)
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=7, loc="lower left")
    return _titled(fig, title)


def h21_lpr(means: pd.DataFrame, levels: list[int], what: str = "find",
            title: str = "") -> plt.Figure:
    """H21 Fig 6 / A17 / 8a-b: the LPR of every layer (by depth) for each H_find at fixed
    levels, with a std band over seeds and the uniform LPR of a global random mask."""
    fig, axes = plt.subplots(1, len(levels), figsize=(5.0 * len(levels), 3.4), squeeze=False)
    for ax, level in zip(axes[0], levels):
        part = means[means["level"] == level]
        finds = sorted(part["find"].unique(), key=_sort_key)
        colors = sns.color_palette("tab10", max(1, len(finds)))
        for f, color in zip(finds, colors):
            g = analysis.select(part, find=f).sort_values("depth")
            ax.plot(g["depth"], 100 * g["lpr"], marker="o", ms=3, color=color,
                    label=f"{what} {_h21_value(f)}")
            sd = 100 * g["std"].fillna(0)
            ax.fill_between(g["depth"], 100 * g["lpr"] - sd, 100 * g["lpr"] + sd, color=color,
                            alpha=0.15, lw=0)
        if len(part):
            uniform = 100 * part["global_random"].mean()
            ax.axhline(uniform, color="black", ls="--", lw=1, label="global random")
            ax.set_title(f"level {level}: {uniform:.1f}% of the weights pruned", fontsize=9)
            layers = part.drop_duplicates("depth").sort_values("depth")
            ax.set_xticks(layers["depth"])
            ax.set_xticklabels([n.replace(".weight", "") for n in layers["layer"]],
                               rotation=60, ha="right", fontsize=6)
            ax.legend(fontsize=7)
        ax.set_ylabel("layerwise pruning ratio (%)")
    return _titled(fig, title)


def _not_run(text: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 0.8))
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=10)
    ax.axis("off")
    return fig


def h21_figure(result, figure: str, study: str | None = None) -> plt.Figure:
    """The H21 figure ``figure`` (fig1, fig2, fig3, fig4, fig5, fig6, fig7, fig8, fig9) of a
    ``decoupling.Result``; a one-line figure saying so when its studies did not run."""
    if result is None:
        return _not_run(f"{figure}: not run at this scale")
    cfg, curves = result.cfg, result.curves
    where = f"on {result.data.name}"
    if figure == "fig1":
        s = cfg.study("lr")
        values = [v for v in s.find if v in s.eval] if s else []
        if not values:
            return _not_run("Figure 1 needs the lr study: not run at this scale")
        return h21_coupled(curves, "lr", values, f"Coupled runs vs random baselines {where}")
    if figure in ("fig2", "fig6"):
        s = cfg.study(study)
        if s is None:
            return _not_run(f"study {study} not run at this scale")
        if figure == "fig2":
            return h21_grid(curves, study, s.vary, s.find, s.eval,
                            f"All H_find x H_eval of {study} {where}")
        return h21_lpr(analysis.lpr_means(result.lpr, study), cfg.lpr_levels,
                       H21_NAMES[s.vary], f"LPR per layer by {study}_find {where}")
    if figure == "fig3":
        best = {s.name: analysis.best_coupled_vs_decoupled(curves, s.name)
                for s in cfg.studies if s.name in ("lr", "batch_size", "weight_decay")}
        if not best:
            return _not_run("Figure 3 needs the lr, batch_size or weight_decay study")
        return h21_best(best, f"Best coupled vs best decoupled {where}")
    if figure == "fig7":
        if not cfg.constrained:
            return _not_run("Figure 7 (LPR-constrained pruning) not run at this scale")
        return h21_constrained(curves, cfg.constrained, f"LPR-constrained pruning {where}")
    if figure == "fig8":
        s = cfg.study("wd0")
        if s is None:
            return _not_run("Figure 8 (weight decay 0 when finding) not run at this scale")
        return h21_panels(curves, [("WD_find = 0: masks by LR_find",
                                    {"study": "wd0", "kind": "lottery"}, ["find", "eval"])],
                          f"Weight decay 0 in the find phase {where}")
    if figure in ("fig4", "fig5", "fig9"):
        names = {"fig4": ("late_rewinding", "warmup", "lr_rewinding"),
                 "fig5": ("structured_lr", "structured_batch_size", "structured_weight_decay"),
                 "fig9": ("early_pruning", "early_pruning_low_lr")}[figure]
        present = [n for n in names if cfg.study(n)]
        if not present:
            return _not_run(f"{', '.join(names)}: not run at this scale")
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
    fig, axes = plt.subplots(1, len(constrained), figsize=(5.0 * len(constrained), 3.6),
                             squeeze=False)
    for ax, c in zip(axes[0], constrained):
        base = {"study": c.study, "kind": "lottery", "eval": c.eval}
        xs = []
        for label, where, color in (
                (f"bad find {c.bad:g}, LPR of {c.good:g}", {"find": c.bad, "lpr_from": c.good},
                 "#1f77b4"),
                (f"good find {c.good:g}, LPR of {c.bad:g}", {"find": c.good, "lpr_from": c.bad},
                 "#ff7f0e"),
                (f"regular find {c.good:g}", {"find": c.good, "lpr_from": None}, "#2ca02c")):
            g = analysis.select(curves, **base, **where).sort_values("level")
            ok = g[~g["failed"]]
            xs += list(g["fraction_pruned"])
            ax.plot(ok["fraction_pruned"], ok["mean"], marker="o", ms=3, color=color,
                    label=label)
            ax.fill_between(ok["fraction_pruned"], ok["mean"] - ok["std"],
                            ok["mean"] + ok["std"], color=color, alpha=0.15, lw=0)
        _h21_axis(ax, xs or [0.0], "fraction of weights pruned")
        ax.set_title(f"{c.study}, all evaluated with {c.eval:g}", fontsize=9)
        ax.set_ylabel("test accuracy")
        ax.legend(fontsize=7, loc="lower left")
    return _titled(fig, title)


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
    return _titled(fig, title)


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
