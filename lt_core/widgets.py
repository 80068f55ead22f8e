"""Interactive figures for a static book, shared by the papers' explorers (the mask
explorer, ``z19.figures``; the LPR explorer, ``h21.figures``; the overlap explorer,
``l23.figures``).

In the static book there is no kernel, so every state is rendered in advance into nested
``widgets.Stack``s whose ``selected_index`` is ``jslink``-ed to the controls: moving a control
switches images in the browser (``linked_stacks``). In live Jupyter each explorer's
``interactive_*`` variant offers ``interact``. Images are drawn with crisp text in 16 colours
(``compact_png``), and at most a few states per control are pre-rendered (``spread``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import ipywidgets as W
import numpy as np
import torch
from PIL import Image

if TYPE_CHECKING:
    pass



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



def compact_png(png: bytes, colours: int = 16) -> bytes:
    # Octree keeps the rare orange of pruned points that median cut merges into the map's.
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(
        colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="WEBP", lossless=True, method=6)
    return buf.getvalue()


def mask_image(mask: torch.Tensor) -> np.ndarray:
    m = mask.flatten(1) if mask.dim() > 2 else mask  # conv kernels: out x (in*kh*kw)
    return m.numpy()




def spread(values: list, n: int) -> list:
    """At most ``n`` of ``values``: the first, the last and evenly spaced ones between."""
    if len(values) <= n:
        return list(values)
    return [values[round(i * (len(values) - 1) / (n - 1))] for i in range(n)]


