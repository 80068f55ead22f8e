"""The reproduction scorecard and the build's metadata, read back from the run store.

Every claim of the three papers this build can check, next to this build's value and a
verdict computed here, in one vocabulary (``verdicts.word``):

* an **ordering** (Z19's ``claims``, H21's and L23's claims) is judged with its seeds by one
  rule (``verdicts.RULE``); at the papers' settings it is *reproduced* or *not reproduced*,
  elsewhere it *holds* or *does not hold at <scale> scale*;
* a **number** (Z19 Table S2, L23 Table 2 and section 5) is *reproduced* when this build's
  value is within its tolerance of the paper's, judged only where nothing that changes what is
  measured departs from the paper for that network (``departures.blocking``); elsewhere it is
  *not comparable at <scale> scale* and shown for reference; a cell whose tolerance covers
  every possible accuracy is *not testable*;
* a claim whose runs include a failed one (``engine.divergence``) is *not judged*: the row
  names the failed runs instead of averaging over the others.

The rows are data (``build``; ``python -m lt_core scorecard --format csv``): paper, claim,
network, verdict, what the paper says, this build's numbers, the statistic, where it was
checked, the data and seeds. The experiments are the notebooks' own (their params at that
scale): results come from the store, so this costs no training after the notebooks ran.
"""

from __future__ import annotations

import pandas as pd

from . import banner, experiments, scales, shipped

COLUMNS = ["paper", "claim", "network", "verdict", "paper says", "this build", "statistic",
           "scale", "checked at", "data", "seeds", "source"]


def build(scale: str, store: str | None = None, progress: bool = False) -> pd.DataFrame:
    """The scorecard: one row per checked claim (``COLUMNS``), in the notebooks' order (Z19,
    H21, L23): every experiment's ``scorecard_rows``."""
    rows = []
    for _, result in _results(scale, store, progress):
        rows += [{**r, "scale": scale} for r in result.scorecard_rows(scale)]
    if scale != shipped.PAPER:  # at paper scale the experiments read the packs themselves
        rows += [{**r, "scale": shipped.PAPER} for r in shipped.scorecard_rows()]
    return pd.DataFrame(rows, columns=COLUMNS)


def _results(scale: str, store: str | None, progress: bool):
    """(notebook, result) of every experiment notebook at ``scale``, read from the store."""
    for name in scales.notebooks(scale):
        values = scales.params(scale, name)
        if values is None:
            continue  # paper scale under LT_TRAIN=none, and no pack holds the chapter
        if experiments.experiment_of(values) in experiments.READERS:
            continue  # not an experiment (the scorecard's own params)
        if store is not None:
            values["store"] = store
        yield name, experiments.run(values, progress)


def headline(card: pd.DataFrame) -> str:
    """Markdown: the counts that matter first (verdicts at the papers' settings), then what
    was checked only at stand-in settings, and what could not be judged."""
    v = card["verdict"]
    paper = {w: int((v == w).sum()) for w in ("reproduced", "not reproduced")}
    stand = {w: int(v.str.startswith(w + " at ").sum()) for w in ("holds", "does not hold")}
    other = int((~v.isin(list(paper)) & ~v.str.match(r"(holds|does not hold) at ")).sum())
    return (f"**At the papers' settings: {paper['reproduced']} reproduced, "
            f"{paper['not reproduced']} not reproduced.** At stand-in scales (not "
            f"reproductions): {stand['holds']} hold, {stand['does not hold']} do not hold. "
            f"{other} not judged, not testable or not comparable.")


def build_info(scale: str, store: str | None = None) -> pd.DataFrame:
    """Per notebook: the scale, data, device and library versions its results came from,
    read from the stored runs (the notebooks must have run)."""
    rows = []
    for name, result in _results(scale, store, False):
        info = result.info()
        env = info.pop("env")
        rows.append({"notebook": name, "scale": scale,
                     "paper settings": "yes" if not result.departures() else "no", **info,
                     "device": banner.device_label(env["device"], env["device_name"]),
                     "torch": env["torch"], "lt_core": env["lt_core"]})
    return pd.DataFrame(rows)
