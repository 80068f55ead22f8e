"""H21's claims (``h21_check_values.md`` Q1-Q16) judged on this build's runs, each part as
stated and with its seeds (``verdicts``).

A *line* is a figure curve (a study, pruning, H_find, H_eval and LPR source) as test accuracy per
pruned level and seed. Two lines are compared on the pruned levels where every seed of both
has a result (the levels left out are named): per seed the mean over those levels, then the
paired rule of ``verdicts.above``. A claim that needs a line no level of which has results is
*not judged*, with why.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ... import verdicts
from ...verdicts import Verdict
from .analysis import (
    LOTTERY,
    common_levels,
    dense,
    early_lpr,
    lpr_spread,
    pair_lines,
    points,
    pruned_levels,
    same,
    seed_means,
)

BASELINES = {"global_random": "global random", "preserve_lpr": "preserve-LPR"}
WHAT = {"lr": "LR", "batch_size": "BS", "weight_decay": "WD", "stop_epoch": "pruning epoch"}


def _fmt(v) -> str:
    return "full" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:g}"


def order(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], close: bool = False,
          alpha: float = verdicts.ALPHA, min_pp: float = 0.0) -> Verdict:
    """Line A above line B over the pruned levels both have (or A ≈ B with ``close``)."""
    if a.empty or b.empty:
        return verdicts.not_run(f"{names[0] if a.empty else names[1]} is not in this build")
    levels, left_out = common_levels(a, b)
    if not levels:
        return verdicts.not_judged("no pruned level where every seed of both lines has a "
                                   "result (runs failed)")
    sa, sb = seed_means(a, levels), seed_means(b, levels)
    v = (verdicts.close(sa, sb, names) if close
         else verdicts.above(sa, sb, names, alpha=alpha, min_pp=min_pp))
    where = f"levels {levels[0]}-{levels[-1]}" if len(levels) > 1 else f"level {levels[0]}"
    gap = f"; levels {left_out} left out (a training failed)" if left_out else ""
    means = (f"{names[0]} {100 * verdicts.mean_of(sa):.2f}%, {names[1]} "
             f"{100 * verdicts.mean_of(sb):.2f}% (mean over seeds, {where})")
    return Verdict(v.holds, f"{means}; {v.statistic}{gap}", v.why, v.status)


def at_level(a: pd.DataFrame, b: pd.DataFrame, level: int, names: tuple[str, str],
             seeds: list[int] | None = None) -> Verdict:
    """A above B at one level, paired over ``seeds`` (default: all)."""
    if level not in a.index or level not in b.index:
        return verdicts.not_judged(f"level {level} did not run")
    sa, sb = a.loc[level].to_dict(), b.loc[level].to_dict()
    if seeds is not None:
        sa, sb = {s: sa[s] for s in seeds if s in sa}, {s: sb[s] for s in seeds if s in sb}
    return verdicts.above(sa, sb, names)


def claim(qid: str, figure: str, text: str, verdict: Verdict) -> dict:
    return {"id": qid, "figure": figure, "claim": text, "verdict": verdict}


# ---- the claims --------------------------------------------------------------------------


def judge(acc: pd.DataFrame, find_acc: pd.DataFrame, lpr: pd.DataFrame, studies: dict,
          constrained: list, lpr_levels: list[int]) -> list[dict]:
    """Every H21 claim this result can check (``studies``: name -> h21.Study)."""
    out = _fig1(acc, find_acc, studies.get("lr"))
    for name in ("lr", "batch_size", "weight_decay"):
        out += _fig3(acc, name, studies.get(name))
    for name, figure in (("late_rewinding", "Fig 4a"), ("warmup", "Fig 4b"),
                         ("lr_rewinding", "Fig 4c")):
        out += _fig4(acc, find_acc, name, figure, studies.get(name))
    for name, figure in (("structured_lr", "Fig 5a"), ("structured_batch_size", "Fig 5b"),
                         ("structured_weight_decay", "Fig 5c")):
        out.append(_fig5(acc, name, figure, studies.get(name)))
    out += _fig6(lpr, studies, lpr_levels)
    out += [_fig7(acc, c, studies[c.study]) for c in constrained]
    if not constrained:
        out.append(claim("Q8", "Fig 7", "a good H_find forced to a bad run's LPR is much "
                         "worse; a bad H_find given a good run's LPR does well",
                         verdicts.not_run("no LPR-constrained runs in this build")))
    out += _fig8(acc, lpr, studies, lpr_levels)
    out.append(_fig9(acc, studies.get("early_pruning"), studies.get("early_pruning_low_lr")))
    for name, qid, figure in (("lr", "Q11", "Fig A2"), ("batch_size", "Q12", "Fig A4"),
                              ("weight_decay", "Q13", "Fig A6")):
        out += _appendix_grid(acc, name, qid, figure, studies.get(name))
    out.append(claim("Q14", "Fig A8", "MiniPlaces (ResNet-50): LR_find 0.1 best",
                     verdicts.not_run("MiniPlaces is not in this build")))
    out.append(_abstract(acc, find_acc, studies, out))
    return out


def _fig1(acc, find_acc, s) -> list[dict]:
    coupled = sorted(v for v in s.find if v in s.eval) if s else []
    if len(coupled) < 2:
        why = verdicts.not_run("the learning-rate study has fewer than two coupled values")
        return [claim("Q1", "Fig 1a", "coupled LR 0.5 falls below a random baseline", why),
                claim("Q2", "Fig 1b", "coupled LR 0.2 prunes well above coupled LR 0.5", why),
                claim("Q3", "Fig 1", "dense training: LR 0.5 beats LR 0.2", why)]
    hi, lo = coupled[-1], coupled[-2]
    lottery_hi = points(acc, "lr", find=hi, eval=hi)
    out = []
    for baseline in ("global_random", "preserve_lpr"):
        base = points(acc, "lr", baseline, find=hi, eval=hi)
        out.append(claim("Q1", "Fig 1a", f"coupled LR {hi:g} (the largest) falls below the "
                         f"{BASELINES[baseline]} baseline (H21: LR 0.5; the caption does not say which "
                         "baseline)", order(base, lottery_hi,
                                            (BASELINES[baseline], f"lottery LR {hi:g}"))))
    out.append(claim("Q2", "Fig 1b", f"coupled LR {lo:g} prunes well above coupled LR {hi:g} "
                     "(H21: 0.2 vs 0.5)", order(points(acc, "lr", find=lo, eval=lo),
                                                lottery_hi, (f"LR {lo:g}", f"LR {hi:g}"))))
    out.append(claim("Q3", "Fig 1", f"dense training: LR {hi:g} beats LR {lo:g} (H21: 0.5 "
                     "beats 0.2)", verdicts.above(dense(find_acc, "lr", hi),
                                                  dense(find_acc, "lr", lo),
                                                  (f"dense LR {hi:g}", f"dense LR {lo:g}"))))
    return out


def best_vs_best(acc: pd.DataFrame, study: str, level: int) -> Verdict:
    """At one level: the best decoupled pair against the best coupled one, both chosen on
    the first half of the seeds and judged on the others (``verdicts.split_seeds``)."""
    pairs = {k: v for k, v in pair_lines(acc, study).items() if level in v.index}
    if not pairs:
        return verdicts.not_judged(f"level {level} did not run")
    seeds = sorted(next(iter(pairs.values())).columns)
    choose, judge_on = verdicts.split_seeds(seeds)
    if not judge_on:
        return verdicts.not_judged(f"{len(seeds)} seed: the best pair needs seeds to choose "
                                   "it and others to judge it")

    def best(coupled: bool):
        cands = {k: v.loc[level, choose].mean() for k, v in pairs.items()
                 if same(*k) == coupled and v.loc[level, choose].notna().all()}
        return max(cands, key=cands.get) if cands else None

    dec, cou = best(False), best(True)
    if dec is None or cou is None:
        return verdicts.not_judged(f"no {'decoupled' if dec is None else 'coupled'} pair "
                                   f"without failed runs at level {level}")
    names = (f"best decoupled {_fmt(dec[0])}/{_fmt(dec[1])}",
             f"best coupled {_fmt(cou[0])}/{_fmt(cou[1])}")
    v = at_level(pairs[dec], pairs[cou], level, names, judge_on)
    return Verdict(v.holds, f"chosen on seeds {choose}, judged on {judge_on}: {v.statistic}",
                   v.why, v.status)


def _fig3(acc, name, s) -> list[dict]:
    what = WHAT[name]
    text = f"{what}: at each level the best decoupled pair beats the best coupled one"
    if s is None:
        return [claim("Q4", "Fig 3", text, verdicts.not_run(f"no {name} study")),
                claim("Q4", "Fig 3", f"{what}: the best H_eval changes with sparsity",
                      verdicts.not_run(f"no {name} study"))]
    per_level = {lv: best_vs_best(acc, name, lv) for lv in pruned_levels(acc, name)}
    return [claim("Q4", "Fig 3", text, verdicts.at_each_level(per_level)),
            claim("Q4", "Fig 3", f"{what}: the best H_eval changes with sparsity",
                  best_eval_changes(acc, name))]


def best_eval_changes(acc: pd.DataFrame, study: str) -> Verdict:
    """The best H_eval (masks of every find value, averaged) at the first pruned level differs
    from the best at the last, each beating the other at its own end: chosen on the first
    half of the seeds, judged on the others."""
    levels = pruned_levels(acc, study)
    evals = sorted({e for e in acc[acc["study"] == study]["eval"] if not pd.isna(e)})
    if len(levels) < 2 or len(evals) < 2:
        return verdicts.not_judged("needs two pruned levels and two eval values")
    lines = {e: points(acc, study, eval=e, lpr_from=None) for e in evals}
    seeds = sorted(next(iter(lines.values())).columns)
    choose, judge_on = verdicts.split_seeds(seeds)
    if not judge_on:
        return verdicts.not_judged(f"{len(seeds)} seed: the best value needs seeds to choose "
                                   "it and others to judge it")
    first, last = levels[0], levels[-1]

    def best(level):
        cands = {e: x.loc[level, choose].mean() for e, x in lines.items()
                 if level in x.index and x.loc[level, choose].notna().all()}
        return max(cands, key=cands.get) if cands else None

    lo_best, hi_best = best(first), best(last)
    if lo_best is None or hi_best is None:
        return verdicts.not_judged("runs failed at the first or last pruned level")
    if lo_best == hi_best:
        return Verdict(False, f"H_eval {lo_best:g} is best at level {first} and at level "
                              f"{last} (chosen on seeds {choose})")
    a, b = f"eval {lo_best:g}", f"eval {hi_best:g}"
    return verdicts.all_of([
        (f"level {first}", at_level(lines[lo_best], lines[hi_best], first, (a, b), judge_on)),
        (f"level {last}", at_level(lines[hi_best], lines[lo_best], last, (b, a), judge_on))])


def direction(acc: pd.DataFrame, study: str, early, late) -> Verdict:
    """H_eval ``early`` beats ``late`` at the first pruned level and ``late`` beats ``early``
    at the last (masks of every find value averaged; all seeds)."""
    levels = pruned_levels(acc, study)
    if len(levels) < 2:
        return verdicts.not_judged("fewer than two pruned levels")
    a = points(acc, study, eval=early, lpr_from=None)
    b = points(acc, study, eval=late, lpr_from=None)
    if a.empty or b.empty:
        return verdicts.not_run(f"eval value {_fmt(early if a.empty else late)} not in the grid")
    na, nb = f"eval {_fmt(early)}", f"eval {_fmt(late)}"
    return verdicts.all_of([(f"level {levels[0]}", at_level(a, b, levels[0], (na, nb))),
                            (f"level {levels[-1]}", at_level(b, a, levels[-1], (nb, na)))])


def _fig4(acc, find_acc, name, figure, s) -> list[dict]:
    text = (f"{name.replace('_', ' ')}: the smaller LR_find gives better pruned models "
            "although it is worse dense")
    moves = (f"{name.replace('_', ' ')}: the best LR_eval moves from the higher to the lower "
             "value as sparsity grows")
    if s is None or len(s.find) < 2:
        return [claim("Q5", figure, text, verdicts.not_run(f"no {name} study")),
                claim("Q5", figure, moves, verdicts.not_run(f"no {name} study"))]
    small, large = min(s.find), max(s.find)
    pruned = order(points(acc, name, find=small, lpr_from=None),
                   points(acc, name, find=large, lpr_from=None),
                   (f"LR_find {small:g}", f"LR_find {large:g}"))
    worse_dense = verdicts.above(dense(find_acc, name, large), dense(find_acc, name, small),
                                 (f"dense {large:g}", f"dense {small:g}"))
    evals = sorted(v for v in s.eval if v is not None)
    return [claim("Q5", figure, text, verdicts.all_of([("pruned", pruned),
                                                       ("dense", worse_dense)])),
            claim("Q5", figure, moves, direction(acc, name, evals[-1], evals[0])
                  if len(evals) >= 2 else verdicts.not_run("one eval value"))]


def _fig5(acc, name, figure, s) -> dict:
    text = f"{name.replace('_', ' ')}: the best configuration is decoupled"
    if s is None:
        return claim("Q6", figure, text, verdicts.not_run(f"no {name} study"))
    levels = pruned_levels(acc, name)
    per_level = {lv: best_vs_best(acc, name, lv) for lv in levels}
    if name != "structured_batch_size":
        return claim("Q6", figure, text + " (at each filter sparsity)",
                     verdicts.at_each_level(per_level))
    # H21: for batch size only at low sparsity
    low, high = per_level[levels[0]], per_level[levels[-1]]
    not_high = Verdict(None if high.holds is None else not high.holds, high.statistic,
                       high.why, high.status)
    return claim("Q6", figure, text + " at the lowest filter sparsity, not at the highest "
                 "(H21: for batch size only at low sparsity)",
                 verdicts.all_of([(f"level {levels[0]} decoupled best", low),
                                  (f"level {levels[-1]} not", not_high)]))


def _fig6(lpr: pd.DataFrame, studies: dict, levels: list[int]) -> list[dict]:
    out = []
    for name, direction_ in (("lr", None), ("batch_size", "larger"),
                             ("weight_decay", "smaller")):
        what = WHAT[name]
        s = studies.get(name)
        if s is None or lpr.empty:
            out.append(claim("Q7", "Fig 6", f"{what}_find changes the LPR",
                             verdicts.not_run(f"no {name} study")))
            continue
        between, within = lpr_spread(lpr, name, levels)
        out.append(claim("Q7", "Fig 6", f"{what}_find changes the LPR (levels {levels}; the "
                         "largest spread of a layer's LPR across find values exceeds twice the "
                         "seeds' std)", Verdict(bool(between > 2 * within),
                                                f"spread {100 * between:.2f} pp vs seed std "
                                                f"{100 * within:.2f} pp")))
        lo, hi = min(s.find), max(s.find)
        if direction_ is None:
            e_lo, e_hi = (early_lpr(lpr, name, levels, v) for v in (lo, hi))
            out.append(claim("Q7", "Fig 6 vs Fig 8", "LR_find and the early layers' LPR (Fig 6: "
                             "a small LR_find prunes them more; Fig 8: a high one does)",
                             Verdict(None, f"early layers' LPR: LR_find {lo:g} "
                                     f"{100 * verdicts.mean_of(e_lo):.2f}%, {hi:g} "
                                     f"{100 * verdicts.mean_of(e_hi):.2f}%",
                                     "the captions contradict each other")))
            continue
        a, b = (hi, lo) if direction_ == "larger" else (lo, hi)
        out.append(claim("Q7", "Fig 6", f"a {direction_} {what}_find prunes the early layers "
                         "more (their mean LPR, paired over seeds)",
                         verdicts.above(early_lpr(lpr, name, levels, a),
                                        early_lpr(lpr, name, levels, b),
                                        (f"{what}_find {a:g}", f"{what}_find {b:g}"))))
    return out


def _fig7(acc: pd.DataFrame, c, s) -> dict:
    """Fig 7 with roles from this run: the *good* finder is the one of the pair whose regular
    masks train better under the common H_eval."""
    regular = {v: points(acc, c.study, find=v, eval=c.eval) for v in (c.good, c.bad)}
    levels, _ = common_levels(*regular.values())
    means = {v: verdicts.mean_of(seed_means(x, levels)) if levels else np.nan
             for v, x in regular.items()}
    good, bad = (c.good, c.bad) if not means[c.bad] > means[c.good] else (c.bad, c.good)
    roles = (f"roles from this run: {good:g} finds the better masks ({100 * means[good]:.2f}% "
             f"vs {100 * means[bad]:.2f}%)" + (" — H21's labels are the other way round"
                                               if good != c.good else ""))
    blue = points(acc, c.study, find=bad, eval=c.eval, lpr_from=good)
    orange = points(acc, c.study, find=good, eval=c.eval, lpr_from=bad)
    green = regular[good]
    v = verdicts.all_of([
        ("good H_find with the bad LPR (orange) is worse than the regular good run (green)",
         order(green, orange, ("green", "orange"))),
        ("bad H_find with the good LPR (blue) does about as well as green",
         order(blue, green, ("blue", "green"), close=True))])
    return claim("Q8", "Fig 7", f"{c.study}: a good H_find forced to a bad run's LPR is worse; a "
                 f"bad H_find given a good run's LPR does as well ({roles})",
                 Verdict(v.holds, f"{roles}; {v.statistic}", v.why, v.status))


def _fig8(acc, lpr, studies, levels) -> list[dict]:
    wd0, lr = studies.get("wd0"), studies.get("lr")
    text = "with WD_find = 0, LR_find changes the LPR less (over the same LR_find values)"
    common = sorted(set(wd0.find) & set(lr.find)) if wd0 and lr else []
    if len(common) < 2 or lpr.empty:
        out = [claim("Q9", "Fig 8a/b", text, verdicts.not_run(
            "needs the wd0 and lr studies with two LR_find values in common"))]
    else:
        s0, _ = lpr_spread(lpr, "wd0", levels, common)
        s1, _ = lpr_spread(lpr, "lr", levels, common)
        out = [claim("Q9", "Fig 8a/b", text, Verdict(
            bool(s0 < s1), f"largest LPR spread across LR_find {common}: {100 * s0:.2f} pp at "
                           f"WD 0 vs {100 * s1:.2f} pp with weight decay"))]
    text = "WD_find = 0: a larger LR_find does better (evaluated at one LR_eval)"
    if wd0 is None or len(wd0.find) < 2:
        return out + [claim("Q9", "Fig 8c", text, verdicts.not_run("no wd0 study"))]
    small, large = min(wd0.find), max(wd0.find)
    return out + [claim("Q9", "Fig 8c", text, order(
        points(acc, "wd0", find=large), points(acc, "wd0", find=small),
        (f"LR_find {large:g}", f"LR_find {small:g}")))]


def _fig9(acc, s, low) -> dict:
    text = ("early pruning: pruning at the earliest epoch is worst; the intermediate epochs "
            "beat pruning at convergence; with the low LR_find, pruning at the latest early "
            "epoch beats convergence too")
    if s is None or len(s.find) < 2:
        return claim("Q10", "Fig 9", text, verdicts.not_run("no early_pruning study with two "
                                                            "pruning epochs"))
    lines = {v: points(acc, s.name, find=v) for v in s.find}
    epochs = sorted(v for v in s.find if v is not None)
    first = epochs[0]
    parts = [(f"epoch {_fmt(v)} > epoch {first:g}",
              order(lines[v], lines[first], (f"epoch {_fmt(v)}", f"epoch {first:g}")))
             for v in s.find if v != first]
    if None in s.find:
        parts += [(f"epoch {v:g} > convergence",
                   order(lines[v], lines[None], (f"epoch {v:g}", "convergence")))
                  for v in epochs[1:]]
    if low is not None and None in low.find and len(low.find) >= 2:
        late = max(v for v in low.find if v is not None)
        parts.append((f"low LR: epoch {late:g} > convergence",
                      order(points(acc, low.name, find=late), points(acc, low.name, find=None),
                            (f"epoch {late:g}", "convergence"))))
    return claim("Q10", "Fig 9", text, verdicts.all_of(parts))


def _appendix_grid(acc, name, qid, figure, s) -> list[dict]:
    """A2/A4/A6: the find order at every fixed H_eval, and where the best H_eval moves."""
    what = WHAT[name]
    if s is None:
        return [claim(qid, figure, f"{what}_find order and best {what}_eval",
                      verdicts.not_run(f"no {name} study"))]
    finds, evals = sorted(s.find), sorted(v for v in s.eval if v is not None)
    if name == "lr":
        text = ("at each fixed LR_eval, LR_find order 0.1 > 0.2 > 0.05 > 0.5 (by rank on this "
                "grid: 2nd > 3rd > 1st > 4th)")
        if len(finds) != 4:
            v = verdicts.not_judged(f"the grid has {len(finds)} LR_find values, not 4")
        else:
            ranks = [finds[1], finds[2], finds[0], finds[3]]
            v = _per_eval(acc, name, evals, list(zip(ranks, ranks[1:])), what)
        moves = ("the best LR_eval is the larger of the two largest at the first pruned level "
                 "and the smaller at the last (H21: 0.5, then 0.2)")
        early, late = (evals[-1], evals[-2]) if len(evals) >= 2 else (None, None)
    else:
        better = max(finds) if name == "batch_size" else min(finds)
        worse = min(finds) if name == "batch_size" else max(finds)
        text = (f"at each fixed {what}_eval, a {'larger' if name == 'batch_size' else 'smaller'}"
                f" {what}_find is better ({better:g} vs {worse:g})")
        v = _per_eval(acc, name, evals, [(better, worse)], what)
        if name == "batch_size":  # H21: 256 best at low-to-medium sparsity, 512 at high
            moves = (f"the best {what}_eval moves up as sparsity grows (H21: 256, then 512)")
            early, late = (evals[-2], evals[-1]) if len(evals) >= 2 else (None, None)
        else:  # H21: 5e-4 at low sparsity, 1e-4 at high
            moves = (f"the best {what}_eval moves down as sparsity grows (H21: 5e-4, then 1e-4)")
            early, late = (evals[1], evals[0]) if len(evals) >= 2 else (None, None)
    out = [claim(qid, figure, text, v)]
    out.append(claim(qid, figure, moves, direction(acc, name, early, late) if early is not None
                     else verdicts.not_run("one eval value")))
    return out


def _per_eval(acc, study, evals, pairs, what) -> Verdict:
    parts = []
    for e in evals:
        for a, b in pairs:
            parts.append((f"{what}_eval {e:g}: {a:g} > {b:g}",
                          order(points(acc, study, find=a, eval=e),
                                points(acc, study, find=b, eval=e),
                                (f"{what}_find {a:g}", f"{what}_find {b:g}"))))
    return verdicts.all_of(parts)


def _abstract(acc, find_acc, studies, judged: list[dict]) -> dict:
    """Q16: some H_find gives a worse dense network but masks that train substantially
    better (by at least 1 point; both parts tested at 5% / m over the m ordered pairs of
    find values), and the LPR carries it (Fig 7's claim holds)."""
    text = ("some H_find gives a worse dense network but masks that train substantially "
            "(≥ 1 pp) higher, and the LPR carries the effect (Fig 7)")
    pairs = [(name, a, b) for name in ("lr", "batch_size", "weight_decay") if name in studies
             for a in studies[name].find for b in studies[name].find if a != b]
    if not pairs:
        return claim("Q16", "Abstract", text, verdicts.not_run("no lr, batch_size or "
                                                               "weight_decay study"))
    alpha = verdicts.ALPHA / len(pairs)
    found, tried = [], 0
    for name, a, b in pairs:
        worse = verdicts.above(dense(find_acc, name, b), dense(find_acc, name, a),
                               (f"dense {b:g}", f"dense {a:g}"), alpha=alpha)
        better = order(points(acc, name, find=a, lpr_from=None),
                       points(acc, name, find=b, lpr_from=None),
                       (f"pruned {a:g}", f"pruned {b:g}"), alpha=alpha, min_pp=1.0)
        tried += worse.judged and better.judged
        if worse.holds and better.holds:
            found.append(f"{name} {a:g} vs {b:g}: {worse.statistic}; {better.statistic}")
    if found:
        effect = Verdict(True, "; ".join(found))
    elif tried:
        effect = Verdict(False, f"no pair of the {len(pairs)} passes both parts at "
                                f"{100 * alpha:.3g}% each")
    else:
        effect = verdicts.not_judged("no pair has enough seeds on both sides")
    fig7 = [c["verdict"] for c in judged if c["id"] == "Q8"]
    lpr = (verdicts.not_run("no LPR-constrained runs") if not fig7 else
           Verdict(True, "Fig 7 holds") if any(v.holds for v in fig7) else
           Verdict(False, "Fig 7 does not hold") if all(v.holds is False for v in fig7) else
           verdicts.not_judged("Fig 7 not judged"))
    return claim("Q16", "Abstract", text, verdicts.all_of([("worse dense, better pruned", effect),
                                                           ("the LPR carries it", lpr)]))


def judge_a9(acc: pd.DataFrame, find_acc: pd.DataFrame) -> list[dict]:
    """Q15 (Fig A9, ResNet-18 on Tiny ImageNet, study ``lr``): LR_find 0.05 ≈ 0.2 ≫ 0.8 at
    every LR_eval; 0.8 trains the best dense network; its coupled mask falls below a random
    baseline."""
    part = acc[(acc["study"] == "lr") & (acc["pruning"] == LOTTERY)]
    finds = sorted(part["find"].dropna().unique())
    if len(finds) < 2:
        return [claim("Q15", "Fig A9", "Tiny ImageNet: LR_find orderings",
                      verdicts.not_run("fewer than two LR_find values"))]
    large, small = finds[-1], finds[:-1]
    out = []
    for e in sorted(part["eval"].dropna().unique()):
        lines = {f: points(acc, "lr", find=f, eval=e) for f in finds}
        parts = [(f"{f:g} > {large:g}", order(lines[f], lines[large],
                                              (f"LR_find {f:g}", f"LR_find {large:g}")))
                 for f in small]
        if len(small) >= 2:
            parts.append((f"{small[0]:g} ≈ {small[1]:g}",
                          order(lines[small[0]], lines[small[1]],
                                (f"LR_find {small[0]:g}", f"LR_find {small[1]:g}"),
                                close=True)))
        out.append(claim("Q15", "Fig A9", f"LR_eval {e:g}: LR_find "
                         + " ≈ ".join(f"{f:g}" for f in small) + f" ≫ {large:g}",
                         verdicts.all_of(parts)))
    dense_large = dense(find_acc, "lr", large)
    out.append(claim("Q15", "Fig A9", f"LR {large:g} trains the best dense network",
                     verdicts.all_of([(f"dense {large:g} > {f:g}", verdicts.above(
                         dense_large, dense(find_acc, "lr", f),
                         (f"dense {large:g}", f"dense {f:g}"))) for f in small])))
    lottery_large = points(acc, "lr", find=large, eval=large)
    for baseline in ("global_random", "preserve_lpr"):
        base = points(acc, "lr", baseline, find=large, eval=large)
        out.append(claim("Q15", "Fig A9", f"coupled LR {large:g} falls below the "
                         f"{BASELINES[baseline]} baseline",
                         order(base, lottery_large, (BASELINES[baseline], f"lottery {large:g}"))))
    return out
