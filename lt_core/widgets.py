"""The mask explorer (Z19 Figures S1/S2 view): pick criterion, layer and level; see the mask.

For each state one small figure: the layer's mask as an image (kept dark, pruned light; for
the 784-input layer the 28x28 map of how many hidden units keep each input pixel instead),
the (w_i, w_f) scatter of a fixed sample of weights coloured by kept/pruned, with the
criterion's decision boundary where it is a curve in that plane, and every layer's density
in the title. Each state is drawn with crisp text in 16 colours and stored as lossless WebP
(about 5 KB at 90 dpi, a tenth of matplotlib's RGBA PNG); at most ``MAX_LEVELS`` levels per
arm and layer are pre-rendered (the first, the last and evenly between), so that notebook 01's
page at quick scale (11 arms x 3 layers x 5 of 9 levels) carries about 1.2 MB of them.

The LPR explorer (H21) works the same way for the layerwise pruning ratios.

In the static book there is no kernel, so every state is rendered in advance into nested
``widgets.Stack``s whose ``selected_index`` is ``jslink``-ed to the controls: moving a control
switches images in the browser. In live Jupyter ``interactive_explorer`` offers ``interact``.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

import ipywidgets as W
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from ipywidgets.widgets.widget_string import HTMLStyle
from matplotlib.figure import Figure
from PIL import Image

from . import masks as masks_mod
from .papers import h21, l23
from .store import unpack_mask

if TYPE_CHECKING:
    from .papers import z19

# Criteria whose keep-score is an elementwise function of (w_i, w_f): the boundary is the
# contour score = the lowest kept score. Rank-based and random criteria have no such curve.
ELEMENTWISE = {"large_final", "small_final", "large_init", "small_init", "magnitude_increase",
               "movement", "large_final_same_sign", "large_final_diff_sign"}



def linked_stacks(views: list, controls: list[W.Widget], layout: W.Layout | None = None
                  ) -> W.Stack:
    """Nested stacks of prerendered ``views`` (nested lists, one level per control, the
    outermost first), each showing the child its control selects: a Dropdown's ``index`` or
    a slider's ``value`` (jslink syncs plain traits). The browser switches them without a
    kernel, so an explorer works in the static book."""
    control, *inner = controls
    children = [linked_stacks(v, inner, layout) for v in views] if inner else views
    attr = "index" if isinstance(control, W.Dropdown | W.SelectionSlider) else "value"
    stack = W.Stack(children, selected_index=getattr(control, attr),
                    **({"layout": layout} if layout is not None else {}))
    W.jslink((control, attr), (stack, "selected_index"))
    return stack

def states(result: z19.Result, model: str, seed: int) -> dict:
    """Everything the explorer shows, per (criterion label, layer, level) of one seed."""
    runs = result.runs[(result.runs["model"] == model) & (result.runs["seed"] == seed)]
    out = {}
    for _, run in runs.iterrows():
        for rnd in result.store.levels(run["key"]):
            rec = result.record(run["key"], rnd)
            new = {n: unpack_mask(p) for n, p in rec["next_mask"].items()}
            density = {n: float(m.mean()) for n, m in new.items()}
            for layer, mask in new.items():
                out[(run["label"], layer, rnd)] = {
                    "criterion": run["criterion"], "mask": mask, "density": density,
                    "sample": rec.get("sample", {}).get(layer),
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
        ax.imshow(_as_image(mask), cmap="Greys", vmin=0, vmax=1, aspect="auto",
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
    return _compact(buf.getvalue())


def _compact(png: bytes, colours: int = 16) -> bytes:
    # Octree keeps the rare orange of pruned points that median cut merges into the map's.
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(
        colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="WEBP", lossless=True, method=6)
    return buf.getvalue()


def _as_image(mask: torch.Tensor) -> np.ndarray:
    m = mask.flatten(1) if mask.dim() > 2 else mask  # conv kernels: out x (in*kh*kw)
    return m.numpy()


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
    if criterion in ELEMENTWISE and kept.any() and (~kept).any():
        lim = float(max(np.abs(wi).max(), np.abs(wf).max()))
        gx, gy = np.meshgrid(np.linspace(-lim, lim, 200), np.linspace(-lim, lim, 200))
        score = masks_mod.score(criterion, torch.from_numpy(gx), torch.from_numpy(gy),
                                torch.ones(gx.shape)).numpy()
        all_kept = s["kept"]  # the boundary from the whole sample, not just the points drawn
        kept_scores = masks_mod.score(criterion, s["w_i"], s["w_f"],
                                      torch.ones(len(all_kept)))[all_kept]
        level = float(kept_scores.min())
        if score.min() < level < score.max():
            ax.contour(gx, gy, score, levels=[level], colors="black", linewidths=0.8)


def explorer(result: z19.Result, model: str = "fc", seed: int | None = None) -> W.Widget:
    """Controls and precomputed images, switched in the browser without a kernel."""
    seed = int(result.runs["seed"].min()) if seed is None else seed
    table = states(result, model, seed)
    labels = list(dict.fromkeys(k[0] for k in table))
    layers = list(dict.fromkeys(k[1] for k in table))
    levels = spread(sorted({k[2] for k in table}), MAX_LEVELS)
    # jslink syncs plain traits: a Dropdown's or SelectionSlider's "index", not its "value".
    criterion = W.Dropdown(options=labels, index=0, description="arm")
    layer = W.Dropdown(options=layers, index=0, description="layer")
    rnd = W.SelectionSlider(options=[str(r) for r in levels], index=0, description="level",
                            continuous_update=True)
    shared = W.Layout()  # one layout model for every image and stack, not one each

    def image(lab: str, name: str, r: int) -> W.Image:
        state = table.get((lab, name, r))
        value = render(state, name, f"{lab}: mask chosen after level {r}, seed {seed}") \
            if state else b""
        return W.Image(value=value, format="webp", layout=shared)

    top = linked_stacks([[[image(lab, name, r) for r in levels] for name in layers]
                         for lab in labels], [criterion, layer, rnd], shared)
    note = W.HTML(f"<small>{model}, seed {seed}; the slider steps through levels "
                  f"{', '.join(map(str, levels))} (the mask chosen at the end of each).</small>")
    return W.VBox([W.HBox([criterion, layer]), rnd, note, top])


def spread(values: list, n: int) -> list:
    """At most ``n`` of ``values``: the first, the last and evenly spaced ones between."""
    if len(values) <= n:
        return list(values)
    return [values[round(i * (len(values) - 1) / (n - 1))] for i in range(n)]


def interactive_explorer(result: z19.Result, model: str = "fc", seed: int | None = None):
    """Live-Jupyter version: renders on demand through ``interact``."""
    seed = int(result.runs["seed"].min()) if seed is None else seed
    table = states(result, model, seed)
    labels = sorted({k[0] for k in table})
    layers = sorted({k[1] for k in table})
    levels = sorted({k[2] for k in table})

    def show(arm: str, layer: str, rnd: int):
        state = table[(arm, layer, rnd)]
        return W.Image(value=render(state, layer, f"{arm}: after level {rnd}"), format="webp")

    return W.interactive(show, arm=labels, layer=layers,
                         rnd=W.IntSlider(min=levels[0], max=levels[-1], value=levels[0]))



# ----------------------------------------------------------------------------------------------
# H21: the LPR explorer. Pick H_find and a level: the layerwise pruning ratio of every layer
# (mean over seeds, with the std) next to a global random mask's (the level's overall
# fraction pruned, in every layer). Built from ``h21.analysis.lpr_means``.


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
    return _compact(buf.getvalue())


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
        part = h21.analysis.select(means, level=lv, find=f)
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
        part = h21.analysis.select(means, level=level, find=find)
        return W.Image(value=render_lpr(part, _lpr_title(what, find, level, part)),
                       format="webp")

    return W.interactive(show, find=finds, level=W.IntSlider(
        min=int(levels[0]), max=int(levels[-1]), value=int(levels[0])))


# ----------------------------------------------------------------------------------------------
# L23: the overlap explorer (book/06_layerwise.py)


def overlap_states(result, model: str, seed: int) -> dict:
    """Per (pair of measures, level both trained: 0, 1, ...): their tickets and overlap
    table (level 0's tickets are the dense network)."""
    from itertools import combinations

    from .papers.l23 import ticket

    t = result.ticket_levels()
    t = t[(t["model"] == model) & (t["seed"] == seed)]
    tickets = {(r.measure, r.level): ticket(result.store, r.run, r.level) for r in t.itertuples()}
    out = {}
    for a, b in combinations(list(dict.fromkeys(t["measure"])), 2):
        for level in sorted({lv for m, lv in tickets if m == a} & {lv for m, lv in tickets
                                                                    if m == b}):
            pair = {a: tickets[(a, level)], b: tickets[(b, level)]}
            out[(f"{a} vs {b}", level)] = {"a": a, "b": b, "tickets": pair,
                                           "table": l23.analysis.overlap(pair)}
    return out


def _first_layer_view(mask: torch.Tensor) -> tuple[np.ndarray, str]:
    """What to draw of a first layer's mask: for a linear layer on square images (784 inputs:
    28 x 28), the fraction of units that keep each input pixel; otherwise the mask itself,
    one row per output unit (conv kernels flattened)."""
    side = math.isqrt(mask.shape[1]) if mask.dim() == 2 else 0
    if side * side == mask.shape[1] and side > 8:
        return mask.mean(0).view(side, side).numpy(), "fraction of units keeping each pixel"
    return _as_image(mask), "mask, one row per output unit (1 = kept)"


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
