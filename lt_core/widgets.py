"""The mask explorer (Z19 Figures S1/S2 view): pick criterion, layer and round; see the mask.

For each state one figure: the layer's mask as an image (kept dark, pruned light), for the
784-input layer also the 28x28 map of how many hidden units keep each input pixel, the
per-layer densities, and the (w_i, w_f) scatter of a fixed sample of weights coloured by
kept/pruned, with the criterion's decision boundary where it is a curve in that plane.

The LPR explorer (H21) works the same way for the layerwise pruning ratios.

In the static book there is no kernel, so every state is rendered in advance into nested
``widgets.Stack``s whose ``selected_index`` is ``jslink``-ed to the controls: moving a control
switches images in the browser. In live Jupyter ``interactive_explorer`` offers ``interact``.
"""

from __future__ import annotations

import io

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from . import analysis
from . import masks as masks_mod
from .lottery import Result
from .store import unpack_mask

# Criteria whose keep-score is an elementwise function of (w_i, w_f): the boundary is the
# contour score = the lowest kept score. Rank-based and random criteria have no such curve.
ELEMENTWISE = {"large_final", "small_final", "large_init", "small_init", "magnitude_increase",
               "movement", "large_final_same_sign", "large_final_diff_sign"}


def states(result: Result, model: str, seed: int) -> dict:
    """Everything the explorer shows, per (criterion label, layer, round) of one seed."""
    runs = result.runs[(result.runs["model"] == model) & (result.runs["seed"] == seed)]
    out = {}
    for _, run in runs.iterrows():
        for rnd in result.store.rounds(run["key"]):
            rec = result.record(run["key"], rnd)
            new = {n: unpack_mask(p) for n, p in rec["next_mask"].items()}
            density = {n: float(m.mean()) for n, m in new.items()}
            for layer, mask in new.items():
                out[(run["label"], layer, rnd)] = {
                    "criterion": run["criterion"], "mask": mask, "density": density,
                    "sample": rec.get("sample", {}).get(layer),
                    "percent_remaining": 100.0 * masks_mod.density(new)}
    return out


def render(state: dict, layer: str, title: str, dpi: int = 50) -> bytes:
    """One state's figure as PNG bytes."""
    mask = state["mask"]
    pixels = layer.startswith("fc1") and mask.shape[1] == 784
    ncols = 3 + pixels
    fig, axes = plt.subplots(1, ncols, figsize=(3.3 * ncols, 3.1), dpi=dpi)
    ax = axes[0]
    ax.imshow(_as_image(mask), cmap="Greys", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_title(f"{layer} mask (dark = kept)", fontsize=9)
    ax.set_xlabel("input unit", fontsize=8)
    ax.set_ylabel("output unit", fontsize=8)
    col = 1
    if pixels:  # how many hidden units keep each input pixel
        axes[1].imshow(mask.sum(0).view(28, 28).numpy(), cmap="viridis")
        axes[1].set_title("kept per input pixel (28x28)", fontsize=9)
        axes[1].axis("off")
        col = 2
    names = list(state["density"])
    axes[col].barh(names, [100 * state["density"][n] for n in names], color="#4c72b0")
    axes[col].set_xlim(0, 100)
    axes[col].set_title(f"density per layer, % ({state['percent_remaining']:.1f}% overall)",
                        fontsize=9)
    axes[col].tick_params(labelsize=7)
    _scatter(axes[col + 1], state)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def _as_image(mask: torch.Tensor) -> np.ndarray:
    m = mask.flatten(1) if mask.dim() > 2 else mask  # conv kernels: out x (in*kh*kw)
    return m.numpy()


def _scatter(ax: plt.Axes, state: dict) -> None:
    s = state["sample"]
    ax.set_title("(w_i, w_f) sample; orange = pruned", fontsize=9)
    if s is None:
        ax.text(0.5, 0.5, "no weight sample stored\nfor this run", ha="center", va="center")
        return
    wi, wf, kept = s["w_i"].numpy(), s["w_f"].numpy(), s["kept"].numpy()
    ax.scatter(wi[kept], wf[kept], s=2, color="#4c72b0", label="kept")
    ax.scatter(wi[~kept], wf[~kept], s=2, color="#dd8452", label="pruned")
    ax.set_xlabel("w_i (round start)", fontsize=8)
    ax.set_ylabel("w_f (round end)", fontsize=8)
    ax.tick_params(labelsize=7)
    criterion = state["criterion"]
    if criterion in ELEMENTWISE and kept.any() and (~kept).any():
        lim = float(max(np.abs(wi).max(), np.abs(wf).max()))
        gx, gy = np.meshgrid(np.linspace(-lim, lim, 200), np.linspace(-lim, lim, 200))
        score = masks_mod.score(criterion, torch.from_numpy(gx), torch.from_numpy(gy),
                                torch.ones(gx.shape)).numpy()
        kept_scores = masks_mod.score(criterion, s["w_i"], s["w_f"], torch.ones(len(wi)))[kept]
        level = float(kept_scores.min())
        if score.min() < level < score.max():
            ax.contour(gx, gy, score, levels=[level], colors="black", linewidths=0.8)


def explorer(result: Result, model: str = "fc", seed: int | None = None) -> W.Widget:
    """Controls and precomputed images, switched in the browser without a kernel."""
    seed = int(result.runs["seed"].min()) if seed is None else seed
    table = states(result, model, seed)
    labels = list(dict.fromkeys(k[0] for k in table))
    layers = list(dict.fromkeys(k[1] for k in table))
    rounds = sorted({k[2] for k in table})
    # jslink syncs plain traits: a Dropdown's "index", not its "value".
    criterion = W.Dropdown(options=labels, index=0, description="arm")
    layer = W.Dropdown(options=layers, index=0, description="layer")
    rnd = W.IntSlider(min=0, max=len(rounds) - 1, value=0, description="round",
                      continuous_update=True)
    outer = []
    for lab in labels:
        per_layer = []
        for name in layers:
            images = []
            for r in rounds:
                state = table.get((lab, name, r))
                png = render(state, name, f"{lab}: mask chosen after round {r}, seed {seed}") \
                    if state else b""
                images.append(W.Image(value=png, format="png"))
            stack = W.Stack(images, selected_index=0)
            W.jslink((rnd, "value"), (stack, "selected_index"))
            per_layer.append(stack)
        stack = W.Stack(per_layer, selected_index=0)
        W.jslink((layer, "index"), (stack, "selected_index"))
        outer.append(stack)
    top = W.Stack(outer, selected_index=0)
    W.jslink((criterion, "index"), (top, "selected_index"))
    note = W.HTML(f"<small>{model}, seed {seed}; the slider steps through rounds "
                  f"{rounds[0]}..{rounds[-1]} (the mask chosen at the end of each).</small>")
    return W.VBox([W.HBox([criterion, layer]), rnd, note, top])


def interactive_explorer(result: Result, model: str = "fc", seed: int | None = None):
    """Live-Jupyter version: renders on demand through ``interact``."""
    seed = int(result.runs["seed"].min()) if seed is None else seed
    table = states(result, model, seed)
    labels = sorted({k[0] for k in table})
    layers = sorted({k[1] for k in table})
    rounds = sorted({k[2] for k in table})

    def show(arm: str, layer: str, rnd: int):
        state = table[(arm, layer, rnd)]
        return W.Image(value=render(state, layer, f"{arm}: after round {rnd}"), format="png")

    return W.interactive(show, arm=labels, layer=layers,
                         rnd=W.IntSlider(min=rounds[0], max=rounds[-1], value=rounds[0]))



# ----------------------------------------------------------------------------------------------
# H21: the LPR explorer. Pick H_find and a level: the layerwise pruning ratio of every layer
# (mean over seeds, with the std) next to a global random mask's (the level's overall
# fraction pruned, in every layer). Built from ``analysis.lpr_means``.


def render_lpr(part: pd.DataFrame, title: str, dpi: int = 50) -> bytes:
    """One (H_find, level) state: a bar per layer by depth, LPR and global random."""
    part = part.sort_values("depth")
    y = np.arange(len(part))
    fig, ax = plt.subplots(figsize=(6.0, 0.35 * len(part) + 1.4), dpi=dpi)
    ax.barh(y - 0.2, 100 * part["lpr"], height=0.4, xerr=100 * part["std"].fillna(0),
            color="#4c72b0", label="this mask")
    ax.barh(y + 0.2, 100 * part["global_random"], height=0.4, color="#bbbbbb",
            label="global random")
    ax.set_yticks(y)
    ax.set_yticklabels([n.replace(".weight", "") for n in part["layer"]], fontsize=7)
    ax.invert_yaxis()  # input layer on top
    ax.set_xlim(0, 100)
    ax.set_xlabel("layerwise pruning ratio (%)", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


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
    per_find = []
    for f in finds:
        images = []  # index = level (jslink copies the slider's value as it is)
        for lv in range(int(levels[-1]) + 1):
            part = analysis.select(means, level=lv, find=f)
            png = render_lpr(part, _lpr_title(what, f, lv, part)) if len(part) else b""
            images.append(W.Image(value=png, format="png"))
        stack = W.Stack(images, selected_index=int(levels[0]))
        W.jslink((level, "value"), (stack, "selected_index"))
        per_find.append(stack)
    top = W.Stack(per_find, selected_index=0)
    W.jslink((find, "index"), (top, "selected_index"))
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
                       format="png")

    return W.interactive(show, find=finds, level=W.IntSlider(
        min=int(levels[0]), max=int(levels[-1]), value=int(levels[0])))
