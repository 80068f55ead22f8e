"""Tables as the book shows them: within the text column (688 px at a 1280 px window), no
cell cut short, accuracy in %, both sides of a comparison named, each verdict coloured by its
first words with a legend of every status shown.

``show`` renders any frame that way; the other functions turn one of the library's frames
into a readable one (they format, rename, split or transpose: the numbers are the library's).
Nothing here decides a verdict.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

# Statuses by their first words -> (background, what it means). Colour-blind-safe: blue for
# a claim that holds, orange for one that does not, grey for the rest; the words carry it.
STATUSES = {
    "reproduced": ("#cfe2f3", "at the papers' settings, within tolerance of the paper or the "
                              "ordering holds"),
    "holds": ("#cfe2f3", "the ordering holds in these runs, at the scale named (not a "
                         "reproduction)"),
    "not reproduced": ("#fbd9b5", "at the papers' settings, outside tolerance or the ordering "
                                  "fails"),
    "does not hold": ("#fbd9b5", "the ordering fails in these runs, at the scale named"),
    "not judged": ("#e6e6e6", "no verdict; the reason follows the colon"),
    "not testable": ("#e6e6e6", "the claim cannot fail here; the reason follows the colon"),
    "not comparable": ("#e6e6e6", "a number measured off the papers' settings: shown, not "
                                  "judged"),
    "not run": ("#e6e6e6", "the runs it needs are not part of this build"),
}
NEUTRAL = "#e6e6e6"


def status(text: object) -> str | None:
    """The status a verdict starts with (``STATUSES``), the longest match first."""
    t = str(text).strip().lower()
    for key in sorted(STATUSES, key=len, reverse=True):
        if t.startswith(key):
            return key
    return None


def _colour(text: object) -> str:
    key = status(text)
    return (f"background-color: {STATUSES[key][0] if key else NEUTRAL}; font-weight: 600")


def legend(verdicts) -> str:
    """HTML: one line per status that occurs in ``verdicts``, coloured as in the tables."""
    seen = list(dict.fromkeys(s for s in map(status, verdicts) if s))
    items = "".join(
        f'<li><span style="background-color: {STATUSES[s][0]}; font-weight: 600; padding: 0 '
        f'0.3em">{s}</span>: {html.escape(STATUSES[s][1])}</li>' for s in seen)
    return (f'<ul class="lt-legend" style="font-size: 0.85em; margin: 0.3em 0 1em 0; '
            f'padding-left: 1.2em">{items}</ul>') if items else ""


def legend_of(verdicts):
    """``legend`` as a cell output (for verdicts written in prose)."""
    return Html(legend(verdicts), text=", ".join(dict.fromkeys(map(str, verdicts))))


def _breakable(text: object) -> str:
    """Escaped, with a break opportunity after each underscore, slash and '=' of long
    identifiers, so that narrow cells wrap between words, never inside one."""
    out = html.escape("" if text is None or (isinstance(text, float) and np.isnan(text))
                      else str(text))
    return re.sub(r"([_/=])(?=\w)", r"\1<wbr>", out)


def show(frame: pd.DataFrame, widths: dict[str, float] | None = None,
         verdicts: tuple[str, ...] = (), formats: dict | None = None, font: str = "0.85em",
         caption: str = ""):
    """A Styler that fits the column: 100% wide, the browser's automatic layout (``widths``:
    the percent a column would like), text wrapped between words and never inside one (long
    identifiers may break after an underscore), numbers as ``formats`` says, the
    ``verdicts`` columns coloured by status. The index is hidden: put what it held in
    columns."""
    frame = frame.reset_index(drop=True)
    formats = formats or {}
    fmt = {c: formats.get(c, _breakable) for c in frame.columns}
    styles = [
        {"selector": "", "props": f"table-layout: auto; width: 100%; font-size: {font}; "
                                  "border-collapse: collapse; margin-bottom: 0.4em"},
        {"selector": "td, th", "props": "white-space: normal; overflow-wrap: normal; "
                                        "word-break: normal; hyphens: none; "
                                        "vertical-align: top; text-align: left; "
                                        "padding: 0.2em 0.35em; "
                                        "border-bottom: 1px solid #ddd"},
        {"selector": "caption", "props": "caption-side: top; text-align: left; "
                                         "font-weight: 600; padding-bottom: 0.2em"},
    ]
    for i, c in enumerate(frame.columns):
        if widths and c in widths:
            styles.append({"selector": f"th.col_heading.col{i}", "props": f"width: {widths[c]}%"})
    styler = frame.style.hide(axis="index").format(fmt).set_table_styles(styles)
    styler = styler.format_index(_breakable, axis=1)
    if caption:
        styler = styler.set_caption(html.escape(caption))
    for c in verdicts:
        styler = styler.map(_colour, subset=[c])
    return styler


def pct(value: float, decimals: int = 2) -> str:
    """A fraction in [0, 1] as a percentage."""
    return "" if value is None or np.isnan(value) else f"{100 * value:.{decimals}f}"


def fixed(decimals: int):
    return lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) \
        else f"{v:,.{decimals}f}"




class Html:
    """Several displayable parts as one cell output (``text``: its plain-text form)."""

    def __init__(self, *parts, text: str = ""):
        self.parts, self.text = parts, text

    def _repr_html_(self) -> str:
        return "".join(p if isinstance(p, str) else p.to_html() for p in self.parts)

    def __repr__(self) -> str:
        return self.text or "\n".join(p.data.to_string() for p in self.parts
                                      if not isinstance(p, str))


def markdown_line(text: str) -> str:
    """One line of Markdown (bold, code spans) as an HTML paragraph."""
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(text))
    return "<p>" + re.sub(r"`(.+?)`", r"<code>\1</code>", out) + "</p>"


def with_legend(styler, verdicts) -> Html:
    return Html(styler, legend(verdicts))



# ----------------------------------------------------------------------------------------------
# The entry page and the scorecard (notebooks index, 09)


def build(info: pd.DataFrame):
    """``scorecard.build_info``: what each chapter ran on, and the versions once below (they
    are the same for every chapter unless the store mixes builds)."""
    t = info.copy()
    shared = [c for c in ("device", "torch", "lt_core") if c in t and t[c].nunique() == 1]
    out = t.drop(columns=shared)
    note = "; ".join(f"{c}: {t[c].iloc[0]}" for c in shared)
    return Html(show(out, {"notebook": 22, "scale": 9, "paper settings": 11, "seeds": 8}),
                 f"<p style='font-size: 0.85em'>Every chapter: {html.escape(note)}.</p>"
                 if note else "")


PAPERS = {"Z19": "Z19: Deconstructing lottery tickets", "H21": "H21: hyperparameters of "
          "global magnitude pruning", "L23": "L23: layerwise importance"}


def _percent(text: object, source: str) -> str:
    """Table S2's numbers (accuracy in %, written bare) with their unit."""
    text = "" if text is None else str(text)
    if "Table S2" not in str(source):
        return text
    return re.sub(r"^(\d+(?:\.\d+)?)(?= \[|$)", r"\1%", text)


SCORECARD_CSS = ("<style>table.lt-scorecard td, table.lt-scorecard th {vertical-align: top; "
                 "text-align: left; padding: 0.35em 0.45em; border-bottom: 1px solid #ddd; "
                 "white-space: normal; overflow-wrap: normal; word-break: normal; "
                 "hyphens: none}</style>")


def scorecard(card: pd.DataFrame) -> Html:
    """The scorecard grouped by paper: per claim one row with the claim and, under it in
    small type, network, source, statistic and where it was checked; its verdict; the
    paper's value and this build's, each named. Verdicts coloured, a legend of the statuses
    on the page."""
    parts = [SCORECARD_CSS, legend(card["verdict"])]
    for key, title in PAPERS.items():
        part = card[card["paper"] == key]
        if part.empty:
            continue
        counts = part["verdict"].map(lambda v: status(v) or v).value_counts()
        summary = ", ".join(f"{n} {s}" for s, n in counts.items())
        rows = []
        for r in part.to_dict("records"):
            detail = " · ".join(_breakable(x) for x in (
                r["network"], r["source"], r["statistic"], f"checked at {r['checked at']}",
                r["data"], f"{r['seeds']} seeds") if x)
            ours = _percent(r["this build"], r["source"]) or "(none)"
            rows.append(
                f"<tr><td><b>{_breakable(r['claim'])}</b><br><span style='font-size: 0.85em; "
                f"color: #444'>{detail}</span></td>"
                f"<td style='{_colour(r['verdict'])}'>{_breakable(r['verdict'])}</td>"
                f"<td>paper: {_breakable(_percent(r['paper says'], r['source']))}<br>this build: "
                f"{_breakable(ours)}</td></tr>")
        parts.append(
            f"<h3 style='margin-top: 1.2em; font-size: 1.25em'>{html.escape(title)} "
            f"<small>({summary})</small></h3>"
            "<table class='lt-scorecard' style='table-layout: auto; width: 100%; "
            "font-size: 0.85em; border-collapse: collapse'>"
            "<colgroup><col style='width: 52%'><col style='width: 17%'>"
            "<col style='width: 31%'></colgroup>"
            "<thead><tr><th>claim</th><th>verdict</th><th>paper and this build</th></tr>"
            "</thead><tbody>" + "".join(rows)
            + "</tbody></table>")
    return Html(*parts, text=card.to_string(index=False))
