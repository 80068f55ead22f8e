"""The paper-scale results the shipped packs hold, as each chapter and the scorecard show them.

A pack made by ``python -m lt_core pack create params/paper/<notebook>.yaml`` carries the
view of its result (``Result.to_pack``) under the notebook's name; ``experiments.from_packs``
joins the views of one notebook into one result. Here: the chapters' provenance lines and
verdicts, the entry page's overview, the scorecard's rows and the plan of a paper build.
"""

from __future__ import annotations

import pandas as pd

from . import experiments, pack, packfile, scales, tables
from .experiments import PAPER

# The README's estimate of each chapter at the papers' settings, in H200 GPU-hours: measured
# ResNet-20 throughput (59,345 images/s at P = 32), the other networks scaled by FLOPs.
GPU_HOURS = {"01_mask_criteria": "about 73", "02_mask1_actions": "about 53",
             "03_mask0_actions": "about 40", "04_supermasks": "about 88",
             "05_decoupling": "about 300", "06_layerwise": "about 424"}


def provenance(notebook: str, packs: list[packfile.PackFile] | None = None) -> dict:
    """Where and when the shipped runs of ``notebook`` were computed: devices, dates,
    commits, seeds, runs."""
    found = experiments.pack_views(notebook, packs)
    provs = [p.provenance(k) for p, e in found for k in e["runs"] if k in p.keys()]
    configs = [p.config(k) for p, e in found for k in e["runs"] if k in p.keys()]
    dates = sorted(d for pr in provs for d in (pr.get("computed") or []))
    return {
        "devices": sorted({pr.get("device_name") or pr.get("device") or "?" for pr in provs}),
        "dates": (dates[0][:10], dates[-1][:10]) if dates else None,
        "commits": sorted({c + (" (uncommitted changes)" if pr.get("dirty") else "")
                           for pr in provs for c in pack.commits(pr)}),
        "seeds": sorted({c["seed"] for c in configs if isinstance(c.get("seed"), int)}),
        "networks": sorted({c["model"] for c in configs if "model" in c}),
        "runs": len(provs), "packs": sorted({p.path.name for p, _ in found}),
    }


def provenance_line(notebook: str, packs: list[packfile.PackFile] | None = None) -> str:
    """One line: device, dates, commit, seeds and how many runs, or what computing the
    chapter would cost where no pack holds it."""
    if not experiments.pack_views(notebook, packs):
        return (f"**At the papers' settings: not computed yet.** No shipped pack holds this "
                f"chapter's runs; computing them is {GPU_HOURS.get(notebook, 'many')} GPU-hours "
                "on one H200 (README, Scaling out).")
    p = provenance(notebook, packs)
    dates = "" if p["dates"] is None else (
        p["dates"][0] if p["dates"][0] == p["dates"][1] else f"{p['dates'][0]} to {p['dates'][1]}")
    return (f"**At the papers' settings** (shipped in `book/results/`: "
            f"{', '.join(p['packs'])}): {', '.join(p['networks'])}, seeds "
            f"{', '.join(map(str, p['seeds']))}; {p['runs']} runs computed on "
            f"{', '.join(p['devices'])}, {dates}, commit {', '.join(p['commits'])}.")


def section(notebook: str, paper_result=None,
            packs: list[packfile.PackFile] | None = None) -> tables.Html:
    """A chapter's paper-scale part: the provenance line and every verdict of
    ``paper_result`` (``experiments.from_packs(notebook)``), or the line that says none is shipped."""
    line = provenance_line(notebook, packs)
    if paper_result is None:
        return tables.Html(tables.markdown_line(line), text=line)
    card = pd.DataFrame(paper_result.scorecard_rows(PAPER))
    return tables.Html(tables.markdown_line(line), *tables.scorecard(card).parts, text=line)


def overview(packs: list[packfile.PackFile] | None = None) -> tables.Html:
    """Per chapter: what the packs hold of it at the papers' settings, and where it came
    from; a chapter none holds says so."""
    rows = []
    for notebook in scales.notebooks(PAPER):
        if not experiments.pack_views(notebook, packs):
            if notebook in GPU_HOURS:
                rows.append({"chapter": notebook, "networks": "none shipped", "seeds": "",
                             "runs": 0, "computed on": f"would take {GPU_HOURS[notebook]} "
                                                       "GPU-hours"})
            continue
        p = provenance(notebook, packs)
        rows.append({"chapter": notebook, "networks": ", ".join(p["networks"]),
                     "seeds": ", ".join(map(str, p["seeds"])), "runs": p["runs"],
                     "computed on": f"{', '.join(p['devices'])}, "
                                    f"{p['dates'][0] if p['dates'] else 'date unknown'}"})
    frame = pd.DataFrame(rows)
    return tables.Html(tables.show(frame, {"chapter": 20, "networks": 18, "seeds": 10}),
                       text=frame.to_string(index=False))


def scorecard_rows() -> list[dict]:
    """The scorecard rows of every notebook's shipped paper-scale result."""
    rows = []
    for notebook in scales.notebooks(PAPER):
        res = experiments.from_packs(notebook)
        if res is not None:
            rows += [{**r, "source": f"{r.get('source', '')} (shipped pack)".strip()}
                     for r in res.scorecard_rows(PAPER)]
    return rows


def plan(packs: list[packfile.PackFile] | None = None) -> list[str]:
    """What ``make book SCALE=paper`` reads and what it trains, per chapter, before it starts:
    the runs the packs hold are read, every other run of the chapter trains."""
    lines = []
    for notebook in [n for n in scales.notebooks(PAPER) if n in GPU_HOURS]:  # not readers
        cost = f"the whole chapter is {GPU_HOURS[notebook]} GPU-hours on one H200"
        if not experiments.pack_views(notebook, packs):
            lines.append(f"{notebook}: no shipped runs; trains all ({cost})")
            continue
        p = provenance(notebook, packs)
        lines.append(f"{notebook}: reads {p['runs']} shipped runs ({', '.join(p['networks'])}; "
                     f"seeds {', '.join(map(str, p['seeds']))}), trains the rest ({cost})")
    return lines
