"""What L23 claims, checked on this build's runs (an ``experiment.LayerwiseResult``); the
scorecard's rows and the page's claim words."""

from __future__ import annotations

import math

import pandas as pd

from ... import data as data_mod
from ... import models, paper, verdicts
from ...result import Result
from .config import MEASURE_NAMES

# ----------------------------------------------------------------------------------------------
# What the chapter claims, checked; the scorecard's rows


OVERLAP_LITTLE_PCT = 50.0  # "overlap very little": less than half of each ticket is shared


def claims(result: Result) -> pd.DataFrame:
    """L23's qualitative claims about its tickets, judged on this build's runs: one row per
    claim with where the paper makes it and its ``verdicts.Verdict``. Section 5's are judged
    at the overlap level of the overlap network and seed, over its connections (one
    initialisation: the sample is the connections, by one-sided rank and count tests at
    5%); Appendix C's at the same level, over seeds. Long: one block per claim, in the
    paper's order, so that each verdict reads next to the sentence it checks."""
    ov = result.config.overlap
    rows = []

    def row(claim: str, source: str, verdict: verdicts.Verdict) -> None:
        rows.append({"claim": claim, "source": source, "verdict": verdict})

    o = result.overlap_at_level()
    little = (f"tickets of {', '.join(ov.measures)} overlap little: the connections all of "
              f"them keep are less than {OVERLAP_LITTLE_PCT:g}% of each ticket (L23: 9.34%) at "
              f"level {ov.level}")
    if o.empty:  # a ticket diverged before the overlap level
        row(little, "L23 §5, abstract", verdicts.not_judged("no overlap at this level"))
    else:  # from the masks alone: judged wherever they are, weights or not
        pct = o[o["layer"] == "all"].set_index("measure")["pct_of_ticket"]
        row(little, "L23 §5, abstract", verdicts.Verdict(
            bool((pct < OVERLAP_LITTLE_PCT).all()),
            "overlap as % of each ticket: " + ", ".join(f"{m} {v:.2f}%" for m, v in pct.items())))
    try:
        st = result.stability
    except RuntimeError as err:  # a ticket diverged, or a pack holds no weights
        why = verdicts.not_judged(str(err))
        for claim, source in (("connections in the overlap vary less across levels",
                               "L23 §5, Fig. 2 left"),
                              ("connections in the overlap flip sign less often",
                               "L23 §5, Fig. 2 right"),
                              ("in the first layer, connections in the overlap moved further "
                               "from the rewind point", "L23 §5, Fig. 3")):
            row(claim, source, why)
        return _appendix_c(result, rows)
    row("connections in the overlap vary less across levels (the std of their end-of-level "
        "values, overlap < rest, every measure; one-sided Mann-Whitney over connections)",
        "L23 §5, Fig. 2 left", verdicts.all_of(
            (m, _less(g[g["in_overlap"]]["std"], g[~g["in_overlap"]]["std"], "std"))
            for m, g in st.groupby("measure", sort=False)))
    row("connections in the overlap flip sign less often (overlap < rest, every measure; "
        "one-sided Fisher exact test)", "L23 §5, Fig. 2 right", verdicts.all_of(
            (m, _fewer_flips(g)) for m, g in st.groupby("measure", sort=False)))
    mv = result.movement
    row("in the first layer, connections in the overlap moved further from the rewind point "
        "(|end - start|, overlap > rest, every measure; one-sided Mann-Whitney)",
        "L23 §5, Fig. 3", verdicts.all_of(
            (m, _less(g[~g["in_overlap"]]["movement"], g[g["in_overlap"]]["movement"],
                      "movement", ("rest", "overlap")))
            for m, g in mv.groupby("measure", sort=False)))
    re = result.reinit
    if not re.empty:
        row("after a partial re-initialisation the overlap stays in the new tickets more than "
            "chance (observed > expected over all layers, every measure and re-init seed; "
            "one-sided, hypergeometric per layer)", "L23 §5",
            verdicts.all_of((f"{r.measure} re-init {r.reinit_seed}", _above_chance(g))
                            for r, g in ((g.iloc[0], g) for _, g in
                                         re[re["layer"] != "all"].groupby(
                                             ["measure", "reinit_seed"], sort=False))))
    return _appendix_c(result, rows)


def _appendix_c(result: Result, rows: list[dict]) -> pd.DataFrame:
    """Appendix C's claims (from the masks alone) added to ``rows``: the claims' frame."""
    ov, model = result.config.overlap, result.config.overlap_model

    def row(claim: str, source: str, verdict: verdicts.Verdict) -> None:
        rows.append({"claim": claim, "source": source, "verdict": verdict})

    ls = result.layer_sparsity
    ls = ls[(ls["model"] == model) & (ls["level"] == ov.level)]
    net = models.build(model, result.data[model].input_shape, data_mod.NUM_CLASSES[
        result.config.setting(model).data.dataset])
    first, last = next(iter(net.prune_rates)), net.output_layer
    ignored = result.config.setting(model).ignore_output_layer
    layers = [first] if ignored or last is None else [first, last]  # None: no linear layer
    lpr = {(m, t): dict(zip(g["seed"], g["lpr_pct"] / 100))
           for (m, t), g in ls.groupby(["measure", "layer"])}
    measures = sorted({m for m, _ in lpr})
    names = {first: "input layer", last: "output layer", "all": "network"}
    row(f"the {' and '.join(names[t] for t in layers)} "
        f"{'is' if len(layers) == 1 else 'are'} pruned less than the network as a whole (LPR "
        f"at level {ov.level}, paired over seeds)"
        + (" (the output layer is not pruned under this setting's rule)" if ignored else ""),
        "L23 App. C", verdicts.all_of(
            (f"{m} {names[t]}", verdicts.above(lpr[(m, "all")], lpr[(m, t)],
                                                ("network", names[t])))
            for m in measures for t in layers))
    if "magnitude" in measures and len(measures) > 1:
        row(f"magnitude prunes the {' and '.join(names[t] for t in layers)} least of all "
            "measures (paired over seeds)", "L23 App. C", verdicts.all_of(
                (f"{names[t]}: {m} > magnitude",
                 verdicts.above(lpr[(m, t)], lpr[("magnitude", t)], (m, "magnitude")))
                for t in layers for m in measures if m != "magnitude"))
    # Where each claim was checked at the paper's settings: its network ran at them, and a
    # section-5 claim on the paper's section-5 network (a pack of LeNet alone has its own).
    settled = not result.network_departures(model)
    moved = any(d.what == "overlap" for d in result.departures())
    for r in rows:
        r["paper_settings"] = settled and not (moved and r["source"].startswith("L23 §5"))
    return pd.DataFrame(rows, columns=["claim", "source", "verdict", "paper_settings"])


def _less(a: pd.Series, b: pd.Series, what: str, names: tuple[str, str] = ("overlap", "rest")
          ) -> verdicts.Verdict:
    """Values ``a`` below ``b``: a one-sided Mann-Whitney U test at ``verdicts.ALPHA``."""
    from scipy import stats as sps

    if len(a) == 0 or len(b) == 0:
        return verdicts.not_judged(f"no connection on one side ({len(a)} vs {len(b)})")
    p = float(sps.mannwhitneyu(a, b, alternative="less").pvalue)
    return verdicts.Verdict(p < verdicts.ALPHA, f"mean {what}: {names[0]} {a.mean():.4g} (n = "
                            f"{len(a)}), {names[1]} {b.mean():.4g} (n = {len(b)}); p = {p:.2g}")


def _fewer_flips(g: pd.DataFrame) -> verdicts.Verdict:
    from scipy import stats as sps

    o, r = g[g["in_overlap"]]["sign_flip"], g[~g["in_overlap"]]["sign_flip"]
    if len(o) == 0 or len(r) == 0:
        return verdicts.not_judged("no connection on one side")
    table = [[int(o.sum()), len(o) - int(o.sum())], [int(r.sum()), len(r) - int(r.sum())]]
    p = float(sps.fisher_exact(table, alternative="less").pvalue)
    return verdicts.Verdict(p < verdicts.ALPHA, f"flipped: overlap {100 * o.mean():.1f}% of "
                            f"{len(o)}, rest {100 * r.mean():.1f}% of {len(r)}; p = {p:.2g}")


def _above_chance(layers: pd.DataFrame) -> verdicts.Verdict:
    """The overlap's connections in a new ticket, over all layers, against chance: each
    layer's count is hypergeometric under independence; a one-sided z-test of their sum."""
    n, k, m = layers["numel"], layers["overlap"], layers["kept"]
    var = (k * (m / n) * (1 - m / n) * (n - k) / (n - 1).clip(lower=1)).sum()
    observed, expected = layers["observed"].sum(), layers["expected"].sum()
    z = (observed - expected) / math.sqrt(var) if var > 0 else float("inf") * (
        observed - expected)
    return verdicts.Verdict(bool(z > 1.6449), f"observed {observed} vs expected "
                            f"{expected:.1f} ({100 * (observed / expected - 1):+.1f}%), "
                            f"z = {z:.2f}" if expected > 0 else "nothing expected")


REL_TOLERANCE = 0.25  # numbers the paper gives without a std (Table 1 after training, §5)


def table2_status(r, scale: str) -> str:
    """A Table 2 cell's verdict: reproduced or not (at the paper's settings), not testable
    (the tolerance from the paper's std accepts anything from chance to 100%), not
    comparable (another scale), not judged (runs failed)."""
    if r.failed:
        return "not judged: runs failed: " + ", ".join(r.failed)
    if getattr(r, "collapsed", None):
        return "not judged: layer collapse (no weight left in " + "; ".join(r.collapsed) + ")"
    if r.tolerance >= max(r.paper_mean - r.chance_pct, 100.0 - r.paper_mean):
        return f"not testable: the paper's std is {r.paper_std:g}"
    if not r.comparable:
        return f"not comparable at {scale} scale"
    return "reproduced" if r.within else "not reproduced"


def scorecard_rows(result: Result, scale: str) -> list[dict]:
    """This chapter's rows of the reproduction scorecard (``scorecard.build``'s columns):
    Table 2 cell by cell, Table 1's init ranges, section 5's numbers and the claims above."""
    rows = []
    for r in result.table2().itertuples():
        spread = f" ± {r.std:.2f}" if r.n > 1 else ""
        rows.append({"claim": f"top-1 accuracy, {MEASURE_NAMES.get(r.measure, 'dense network')}, "
                              f"level {r.level} ({r.sparsity_pct:.2f}% sparse)",
                     "network": r.model, "source": "L23 Table 2",
                     "paper says": f"{r.paper_mean:.2f}% ± {r.paper_std:.2f}",
                     "paper_settings": r.comparable,
                     "this build": "" if r.failed else f"{r.mean:.2f}%{spread} (n = {r.n})",
                     "statistic": f"mean over seeds within {r.tolerance:.2f} points (from the "
                                  "paper's std, L23 chapter)",
                     "verdict": table2_status(r, scale)})
    t1 = paper.load("l23_table1_ranges").set_index("layer")
    init_ranges = result.init_ranges if "resnet18" in result.config.models else pd.DataFrame(
        columns=["layer"])  # Table 1 is about the ResNet-18 of this build, where it has one
    r18_paper = "resnet18" in result.config.models and not result.network_departures("resnet18")
    for layer, g in init_ranges.groupby("layer", sort=False):
        lo, hi = g["extreme_lo"].iloc[0], g["extreme_hi"].iloc[0]
        p_min, p_max = t1.loc[layer, "init_min"], t1.loc[layer, "init_max"]
        ok = lo <= -p_min <= hi and lo <= p_max <= hi
        rows.append({"claim": f"ResNet-18 {layer} weight range at initialisation",
                     "network": "resnet18", "source": "L23 Table 1",
                     "paper says": f"[{p_min:.2f}, {p_max:.2f}]",
                     "this build": f"[{g['min'].mean():.2f}, {g['max'].mean():.2f}] (mean over "
                                   f"seeds {', '.join(map(str, g['seed']))})",
                     "statistic": f"the paper's extremes within the central 98% of the "
                                  f"extremes this layer size draws: ±[{lo:.2f}, {hi:.2f}]",
                     "paper_settings": r18_paper,
                     "verdict": verdicts.word(verdicts.Verdict(ok, ""), r18_paper, scale)})
    rows += _section5_rows(result, scale)
    for c in claims(result).itertuples():
        rows.append({"claim": c.claim, "network": result.config.overlap_model,
                     "source": c.source, "paper says": "holds", "this build": "",
                     "statistic": c.verdict.statistic or c.verdict.why,
                     "paper_settings": c.paper_settings,
                     "verdict": verdicts.word(c.verdict, c.paper_settings, scale)})
    return [{**{k: v for k, v in r.items() if k != "paper_settings"}, "paper": "L23",
             "checked at": result.checked_at(scale, r["paper_settings"]),
             "data": result.data_names, "seeds": result.seeds} for r in rows]


def _section5_rows(result: Result, scale: str) -> list[dict]:
    """Section 5's numbers (ResNet-18 on Tiny ImageNet, magnitude, L1 and L2 at level 15):
    judged where this build ran that, within REL_TOLERANCE of the paper's value (it gives no
    std), every measure's re-initialisation increase within the paper's range; shown for
    reference otherwise."""
    cfg, ov = result.config, result.config.overlap
    model = cfg.overlap_model
    comparable = (model == "resnet18" and not result.network_departures(model)
                  and ov.level == 15 and sorted(ov.measures) == ["l1", "l2", "magnitude"])
    numbers = paper.load("l23_section5").set_index("metric")["value"]
    base = {"network": model, "source": "L23 §5",
            "paper_settings": comparable}
    off = f"not comparable at {scale} scale ({model}, level {ov.level})"
    o = result.overlap_at_level()
    if o.empty:
        return [{**base, "claim": "overlap of the tickets", "paper says": "", "this build": "",
                 "statistic": "", "verdict": "not judged: no tickets at the overlap level"}]
    first = o["layer"].iloc[0]
    ours = {
        "overlap_of_all_prunable_connections":
            o[o["layer"] == "all"]["pct_of_connections"].mean(),
        "overlap_of_unpruned_connections": o[o["layer"] == "all"]["pct_of_ticket"].mean(),
        "overlap_share_first_conv_of_remaining": o[o["layer"] == first]["pct_of_ticket"].mean(),
    }
    rows = []
    for metric, value in ours.items():
        ref = numbers[metric]
        ok = abs(value - ref) <= REL_TOLERANCE * abs(ref)
        rows.append({**base, "claim": metric.replace("_", " ") + f" (level {ov.level}, "
                     f"{' ∧ '.join(ov.measures)}; mean over measures)",
                     "paper says": f"{ref:g}%", "this build": f"{value:.2f}%",
                     "statistic": f"within {100 * REL_TOLERANCE:g}% of the paper's value",
                     "verdict": ("reproduced" if ok else "not reproduced") if comparable
                     else off})
    re = result.reinit
    if re.empty:
        return rows
    per = re[re["layer"] != "all"].groupby(["measure", "layer"])["increase_pct"].mean()
    for group, (label, layers) in _reinit_groups(result, model).items():
        values = per[per.index.get_level_values("layer").isin(layers)].groupby("measure").mean()
        if values.empty:
            continue
        lo, hi = numbers[f"partial_reinit_{group}_increase_min"], \
            numbers[f"partial_reinit_{group}_increase_max"]
        ok = bool(((values >= lo) & (values <= hi)).all())
        rows.append({**base, "claim": f"partial re-init: increase of the overlap over chance, "
                     f"{label}, every measure within the paper's range",
                     "paper says": f"{lo:+g}% .. {hi:+g}%",
                     "this build": ", ".join(f"{m} {v:+.1f}%" for m, v in values.items()),
                     "statistic": "per measure, the mean over re-init seeds of (observed / "
                                  "expected - 1) over the group's layers",
                     "verdict": ("reproduced" if ok else "not reproduced") if comparable
                     else off})
    return rows


def _reinit_groups(result: Result, model: str) -> dict[str, tuple[str, list[str]]]:
    """The paper's layer groups (their CSV names) -> our tensors: the initial few
    convolutions (every conv before the first downsampling: the stem and the first stage),
    the output layer, the 1x1 convs."""
    net = models.build(model, result.data[model].input_shape, data_mod.NUM_CLASSES[
        result.config.setting(model).data.dataset])
    shapes = {n: p.shape for n, p in net.named_parameters()}
    convs = [n for n in net.prune_rates if len(shapes[n]) == 4]
    first_down = next((i for i, n in enumerate(convs) if shapes[n][-2:] == (1, 1)), len(convs))
    initial = [n for n in convs[:first_down] if not n.startswith(("layer2", "layer3", "layer4"))]
    return {"initial_convs": ("the initial convs (the stem and the first stage)",
                              initial or convs[:1]),
            "fc": ("output layer (paper: the FC)", [net.output_layer]),
            "1x1conv": ("1x1 convs", [n for n in convs if shapes[n][-2:] == (1, 1)])}


def collapse_note(result: Result) -> str:
    """Markdown: for every network and measure whose tickets collapsed (a layer left with no
    weight), the first level and layer, and that layer's LPR on the way there; or that none
    did."""
    s = result.ticket_levels()
    hit = s[s["collapsed"].map(bool)]
    if hit.empty:
        return "**No layer collapse:** every ticket kept at least one weight in every layer."
    ls = result.layer_sparsity
    parts = []
    for (model, measure), g in hit.groupby(["model", "measure"], sort=False):
        first = g.sort_values("level").iloc[0]
        layer = first.collapsed[0]
        path = ls[(ls["model"] == model) & (ls["measure"] == measure)
                  & (ls["layer"] == layer) & (ls["seed"] == first.seed)]
        path = path[path["level"] < first.level].sort_values("level").tail(4)
        trail = ", ".join(f"{r.lpr_pct:.1f}% at level {r.level}" for r in path.itertuples())
        rule = ("its output layer never pruned" if result.config.setting(model)
                .ignore_output_layer else "every layer pruned")
        parts.append(f"**{model}, {MEASURE_NAMES.get(measure, measure)}:** `{layer}` has no "
                     f"weight left from level {first.level} (seed {first.seed}, "
                     f"{first.sparsity_pct:.2f}% sparse; {rule}); its LPR on the way: {trail}. "
                     f"From that level on the network is disconnected: its accuracy "
                     f"({100 * first.test_acc:.1f}%) is not a ticket's, and Table 2 says "
                     "\"layer collapse\" there.")
    return "\n\n".join(parts)


def table2_verdict(table: pd.DataFrame, scale: str) -> str:
    """One paragraph: how this build's Table 2 cells compare with L23's."""
    if table.empty:
        return "No level of this build is one of Table 2's steps."
    parts = []
    for model, t in table.groupby("model", sort=False):
        judged = t[~t["failed"].astype(bool)]
        n_ok = int(judged["within"].sum())
        gap = judged["diff"].mean()
        open_ = [table2_status(r, scale) for r in judged.itertuples()]
        untestable = sum(v.startswith("not testable") for v in open_)
        head = (f"**{model}:** {n_ok} of {len(judged)} cells within tolerance of L23 "
                f"Table 2 (mean difference {gap:+.2f} points"
                + (f"; {untestable} of them not testable: the paper's std makes the tolerance "
                   "cover every accuracy" if untestable else ""))
        if bool(t["comparable"].iloc[0]):
            parts.append(head + "); this network ran at the paper's settings, so these are "
                         "verdicts.")
        else:
            parts.append(head + f"), **for reference only**: it ran at {scale} scale, not "
                         "at the paper's settings.")
        failed = [f for fs in t["failed"] for f in fs]
        if failed:
            parts.append(f"Not judged (diverged): {', '.join(sorted(set(failed)))}.")
    return " ".join(parts)


def claim_words(table: pd.DataFrame, scale: str) -> list[str]:
    """Each claim's verdict in the book's words, as the scorecard says it (the page's legend)."""
    return [verdicts.word(c.verdict, c.paper_settings, scale) for c in table.itertuples()]


def describe_claims(table: pd.DataFrame, scale: str) -> str:
    """Markdown: each claim with its verdict in words where it was reached, and the
    statistic behind it."""
    words = claim_words(table, scale)
    lines = [f"- **{w}**: {c.claim} ({c.source})."
             + (f" {c.verdict.statistic}." if c.verdict.statistic else "")
             for w, c in zip(words, table.itertuples())]
    where = ("at the paper's settings" if table["paper_settings"].all() else
             f"at {scale} scale where the verdict names it: what these runs show there is "
             "not a paper-scale result")
    return f"Checked {where}:\n\n" + "\n".join(lines)
