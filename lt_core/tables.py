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
    return _Html(legend(verdicts), text=", ".join(dict.fromkeys(map(str, verdicts))))


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


def _num(decimals: int):
    return lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) \
        else f"{v:,.{decimals}f}"


# ----------------------------------------------------------------------------------------------
# Z19 (notebooks 01-04)


def table_s1(frame: pd.DataFrame):
    """``z19.config.table_s1``: one row per setting, one column per network, wrapped to fit."""
    out = frame.rename_axis("setting").reset_index()
    return show(out, {"setting": 24}, font="0.8em")


def final_accuracy(frame: pd.DataFrame):
    """``z19.experiment.Result.final_level_accuracy``: accuracy in %, weights remaining in % with one
    decimal (Z19's axis)."""
    t = frame.reset_index()
    out = pd.DataFrame({
        "network": t["model"], "line": t["line"],
        "weights remaining, %": t["percent_remaining"].map(lambda v: f"{v:.1f}"),
        "test accuracy, % (mean)": t["mean"].map(pct),
        "min, %": t["min"].map(pct), "max, %": t["max"].map(pct), "seeds": t["seeds"]})
    return show(out)


def stars(summary: pd.DataFrame, pair: tuple[str, str]):
    """Markdown: how many stars a ``z19.figures.levels`` figure with these ``stars`` shows, per
    panel, or that none of its levels was significant."""
    from IPython.display import Markdown

    from . import stats

    parts = []
    from .papers.z19.figures import PANELS

    for metric, (label, higher) in PANELS.items():
        found = []
        for model, part in summary.groupby("model", sort=False):
            s = stats.pairwise_stars(part, pair, metric, higher)
            found += [f"{model} level {r.level} ({r.line})" for r in s.itertuples()]
        parts.append(f"{label}: " + (", ".join(found) if found else "none"))
    seeds = summary["seed"].nunique()
    return Markdown(f"**Stars** (one-sided Welch t-test over {seeds} seeds, p < 0.05, "
                    f"`{pair[0]}` against `{pair[1]}`): " + "; ".join(parts) + ".")


def claims(frame: pd.DataFrame):
    """``claims.table``: claim, network, verdict, this build's value of each line (named), the
    statistic behind the verdict and the source; a legend of the statuses shown."""
    out = frame[["claim", "network", "verdict", "this build", "statistic", "source"]]
    return _with_legend(show(out, {"claim": 22, "network": 9, "verdict": 15, "this build": 19,
                                   "statistic": 25, "source": 10}, ("verdict",), font="0.8em"),
                        frame["verdict"])


class _Html:
    """Several displayable parts as one cell output (``text``: its plain-text form)."""

    def __init__(self, *parts, text: str = ""):
        self.parts, self.text = parts, text

    def _repr_html_(self) -> str:
        return "".join(p if isinstance(p, str) else p.to_html() for p in self.parts)

    def __repr__(self) -> str:
        return self.text or "\n".join(p.data.to_string() for p in self.parts
                                      if not isinstance(p, str))


def _with_legend(styler, verdicts) -> _Html:
    return _Html(styler, legend(verdicts))


def table_s2(frame: pd.DataFrame):
    """``z19.supermasks.table_s2`` as one row per Table S2 column and network: the paper's value
    and this run's, both in %, and their difference."""
    out = pd.DataFrame({
        "network": frame["network"], "Table S2 column": frame["column"].str.replace("_", " "),
        "Z19, %": frame["paper"].map(lambda v: f"{v:.1f}"),
        "this run, %": frame["this_run"].map(lambda v: f"{v:.1f}"),
        "this run − Z19, points": (frame["this_run"] - frame["paper"]).map(
            lambda v: f"{v:+.1f}")})
    return show(out, {"network": 12, "Table S2 column": 40})


def learned(frame: pd.DataFrame):
    """Learned supermasks per network and initial logit c, mean over seeds: accuracy in %,
    expected weights pruned in %, the iteration the accuracy was taken at."""
    g = frame.groupby(["model", "c"])[["final_acc", "pruned_pct", "iteration"]].mean()
    g = g.reset_index()
    out = pd.DataFrame({
        "network": g["model"], "initial logit c": g["c"].map(lambda v: f"{v:g}"),
        "test accuracy, %": g["final_acc"].map(pct),
        "weights pruned (expected), %": g["pruned_pct"].map(lambda v: f"{v:.1f}"),
        "at iteration": g["iteration"].map(lambda v: f"{v:,.0f}")})
    return show(out)


def round_trip(frame: pd.DataFrame):
    """``maskfile.round_trip``: the file's size against the network's, and the accuracy in
    the run against the rebuilt network's, in %."""
    t = frame.reset_index()
    out = pd.DataFrame({
        "network": t["network"], "seed": t["seed"], "prune power": t["prune power"],
        "file, KB (float32 network, KB)": [f"{a:g} ({b:g})" for a, b in
                                           zip(t["file (KB)"], t["float32 network (KB)"])],
        "test accuracy in the run, %": t["test acc. in the run"].map(pct),
        "rebuilt from the file, %": t["test acc. rebuilt from the file"].map(pct),
        "bit for bit": t["bit for bit"].map({True: "yes", False: "no"})})
    return show(out)


# ----------------------------------------------------------------------------------------------
# H21 (notebook 05)


def _value(v) -> str:
    return "full" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:g}"


def best_pairs(frame: pd.DataFrame, what: str = "LR"):
    """``h21.analysis.best_coupled_vs_decoupled``: per level the best coupled pair and the best
    decoupled pair (H_find → H_eval), each with its accuracy in % (mean ± std over seeds)."""
    def pair(name: str, r) -> str:
        return f"{_value(r[f'{name}_find'])} → {_value(r[f'{name}_eval'])}"

    def acc(name: str, r) -> str:
        m, s = r[f"{name}_mean"], r[f"{name}_std"]
        return "" if np.isnan(m) else f"{100 * m:.2f} ± {100 * (0 if np.isnan(s) else s):.2f}"

    rows = [{"level": int(r["level"]), "fraction pruned": f"{r['fraction_pruned']:.3f}",
             f"best coupled {what}_find → {what}_eval": pair("coupled", r),
             "its accuracy, %": acc("coupled", r),
             f"best decoupled {what}_find → {what}_eval": pair("decoupled", r),
             "its accuracy, % ": acc("decoupled", r)} for _, r in frame.iterrows()]
    return show(pd.DataFrame(rows), {"level": 8, "fraction pruned": 12})


def lpr(frame: pd.DataFrame, what: str = "LR", max_columns: int = 7):
    """``h21.analysis.lpr_table`` (LPR per layer, %, by level and H_find): layers as columns
    when they are few, else as rows."""
    t = frame.copy()
    t.columns = [str(c).replace(".weight", "") for c in t.columns]
    t.index = [f"level {lv}, {what}_find {_value(f)}" for lv, f in t.index]
    if len(t.columns) > max_columns:
        t = t.T
        t.index.name = "layer"
        label = "layer"
    else:
        t.index.name = "level and mask"
        label = "level and mask"
    t = t.reset_index().rename(columns={"index": label})
    return show(t, {label: 30}, formats={c: _num(1) for c in t.columns if c != label})


def h21_claims(claims_frame: pd.DataFrame):
    """``Result.claims_table``: id and figure, the claim, its verdict, the statistic behind
    it, each cell whole; a legend of the statuses."""
    t = claims_frame
    out = pd.DataFrame({"id": t["id"] + ", " + t["figure"], "claim": t["claim"],
                        "verdict": t["verdict"], "statistic": t["statistic"]})
    return _with_legend(show(out, {"id": 11, "claim": 33, "verdict": 16, "statistic": 40},
                             ("verdict",), font="0.8em"), t["verdict"])


# ----------------------------------------------------------------------------------------------
# L23 (notebook 06)


def table2(frame: pd.DataFrame, scale: str):
    """``LayerwiseResult.table2``: per network one table with a row per level and measure:
    this build and L23, both mean ± std in %, the difference with its tolerance in points,
    and the cell's verdict (``l23.claims.table2_status``)."""
    from .papers.l23.claims import table2_status

    parts = []
    for model, t in frame.groupby("model", sort=False):
        verdicts = [table2_status(r, scale) for r in t.itertuples()]
        out = pd.DataFrame({
            "level (sparsity)": [f"{lv} ({s:.1f}%)" for lv, s in zip(t["level"],
                                                                     t["sparsity_pct"])],
            "measure": t["measure"],
            "this build, %": [f"{m:.2f} ± {0 if np.isnan(s) else s:.2f} (n = {n})"
                              for m, s, n in zip(t["mean"], t["std"], t["n"])],
            "L23, %": [f"{m:.2f} ± {s:.2f}" for m, s in zip(t["paper_mean"], t["paper_std"])],
            "difference (tolerance), points": [f"{d:+.2f} ({tol:.2f})"
                                               for d, tol in zip(t["diff"], t["tolerance"])],
            "verdict": verdicts})
        parts.append(show(out, {"level (sparsity)": 14, "measure": 11, "this build, %": 21,
                                "L23, %": 14, "verdict": 22}, ("verdict",), caption=model))
        parts.append(legend(verdicts))
    return _Html(*parts)


def overlap(frame: pd.DataFrame):
    """Section 5's overlap per layer: for each measure, the % of its ticket in the overlap
    next to what chance would give."""
    t = frame.pivot_table(index="layer", columns="measure", sort=False,
                          values=["pct_of_ticket", "chance_pct_of_ticket"])
    measures = list(dict.fromkeys(frame["measure"]))
    out = pd.DataFrame({"layer": [str(i).replace(".weight", "") for i in t.index]})
    for m in measures:
        out[f"{m}: % of its ticket (chance)"] = [
            f"{a:.2f} ({b:.2f})" for a, b in zip(t[("pct_of_ticket", m)],
                                                 t[("chance_pct_of_ticket", m)])]
    return show(out, {"layer": 22})


def stability(frame: pd.DataFrame):
    """``l23.analysis.stability_summary`` by measure: per layer and group, the connections, the
    mean and median std of their end-of-level values, and the sign flips (% and count)."""
    out = pd.DataFrame({
        "measure": frame["measure"], "layer": frame["layer"].str.replace(".weight", ""),
        "connections": ["in the overlap" if o else "not in it" for o in frame["in_overlap"]],
        "count": frame["connections"].map(lambda v: f"{v:,}"),
        "std of values, mean / median": [f"{a:.4f} / {b:.4f}" for a, b in
                                         zip(frame["mean_std"], frame["median_std"])],
        "sign flipped, % (count)": [f"{p:.1f} ({n:,})" for p, n in
                                    zip(frame["sign_flip_pct"], frame["sign_flips"])]})
    return show(out, {"measure": 13, "layer": 17, "connections": 17, "count": 11})


def reinit(frame: pd.DataFrame):
    """``l23.analysis.reinit_summary``: per measure and layer, the overlap, what the new ticket
    keeps of it against chance, and the increase over chance (mean, range over seeds)."""
    out = pd.DataFrame({
        "measure": frame["measure"], "layer": frame["layer"].str.replace(".weight", ""),
        "overlap, connections": frame["overlap"].map(lambda v: f"{v:,.0f}"),
        "new ticket keeps of it: observed / chance": [
            f"{o:,.0f} / {e:,.1f}" for o, e in zip(frame["observed"], frame["expected"])],
        "beyond chance, % (range)": [f"{m:+.1f} ({lo:+.1f} .. {hi:+.1f})" for m, lo, hi in
                                     zip(frame["increase_pct"], frame["increase_min"],
                                         frame["increase_max"])],
        "re-inits": frame["reinits"]})
    return show(out, {"measure": 13, "layer": 15, "re-inits": 9})


# ----------------------------------------------------------------------------------------------
# The entry page and the scorecard (notebooks index, 09)


def build(info: pd.DataFrame):
    """``scorecard.build_info``: what each chapter ran on, and the versions once below (they
    are the same for every chapter unless the store mixes builds)."""
    t = info.copy()
    shared = [c for c in ("device", "torch", "lt_core") if c in t and t[c].nunique() == 1]
    out = t.drop(columns=shared)
    note = "; ".join(f"{c}: {t[c].iloc[0]}" for c in shared)
    return _Html(show(out, {"notebook": 22, "scale": 9, "paper settings": 11, "seeds": 8}),
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


def scorecard(card: pd.DataFrame) -> _Html:
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
    return _Html(*parts, text=card.to_string(index=False))
