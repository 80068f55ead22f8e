"""L23's analyses (paper_specs.md 6.4), pure functions on masks and weights (dicts of tensors, prunable tensor name -> tensor): layer sparsity, overlap between tickets, stability of overlapping connections, partial re-initialisation.
"""

from __future__ import annotations

import math

import pandas as pd
import torch
from scipy import stats as sps

Masks = dict[str, torch.Tensor]


def layer_sparsity(masks: Masks) -> pd.DataFrame:
    """Per prunable tensor in network order (``depth`` 0..), and ``all``: its size, how many
    weights the mask keeps, and its layerwise pruning ratio LPR = 100 (1 - kept / numel)."""
    rows = [{"layer": n, "depth": d, "numel": m.numel(), "kept": int(m.sum())}
            for d, (n, m) in enumerate(masks.items())]
    rows.append({"layer": "all", "depth": len(rows), "numel": sum(r["numel"] for r in rows),
                 "kept": sum(r["kept"] for r in rows)})
    frame = pd.DataFrame(rows)
    frame["lpr_pct"] = 100.0 * (1.0 - frame["kept"] / frame["numel"])
    return frame


def overlap_mask(tickets: list[Masks]) -> Masks:
    """O: the connections every ticket keeps (per tensor, the logical and of the masks)."""
    first, *rest = tickets
    out = {n: m.bool().clone() for n, m in first.items()}
    for t in rest:
        for n in out:
            out[n] &= t[n].bool()
    return {n: m.to(torch.float32) for n, m in out.items()}


def overlap(tickets: dict[str, Masks]) -> pd.DataFrame:
    """The overlap O of several tickets (measure -> masks of one initialisation and level).

    One row per measure and tensor, and per measure ``all``: ``numel``, the ticket's
    ``kept`` = |M_c|, ``overlap`` = |O|, ``pct_of_connections`` = 100 |O| / numel (L23 §5:
    0.33% of all prunable connections) and ``pct_of_ticket`` = 100 |O| / |M_c| (9.34% of a
    ticket's connections; per layer, e.g. 68.78% in the first conv), and
    ``chance_pct_of_ticket``: what pct_of_ticket would be if the other tickets kept each
    connection independently at their density in that tensor."""
    o = overlap_mask(list(tickets.values()))
    rows = []
    for measure, masks in tickets.items():
        part = [{"measure": measure, "layer": n, "numel": m.numel(), "kept": int(m.sum()),
                 "overlap": int(o[n].sum())} for n, m in masks.items()]
        part.append({"measure": measure, "layer": "all", "numel": sum(r["numel"] for r in part),
                     "kept": sum(r["kept"] for r in part),
                     "overlap": sum(r["overlap"] for r in part)})
        rows += part
    frame = pd.DataFrame(rows)
    frame["pct_of_connections"] = 100.0 * frame["overlap"] / frame["numel"]
    frame["pct_of_ticket"] = 100.0 * frame["overlap"] / frame["kept"].where(frame["kept"] > 0)
    # Chance: the other tickets keeping each connection of this tensor independently, at
    # their densities in it (for "all", as if every tensor had the network's density).
    density = frame.pivot_table(index="layer", columns="measure", values="kept", sort=False)
    density = density.div(frame.groupby("layer", sort=False)["numel"].first(), axis=0)
    frame["chance_pct_of_ticket"] = [
        100.0 * density.loc[r.layer].drop(r.measure).prod() for r in frame.itertuples()]
    return frame


def stability(finals: list[Masks], ticket: Masks, overlap: Masks) -> pd.DataFrame:
    """L23 §5, Figure 2: for every connection of a ticket, the end-of-training values it had at
    each level that trained it (``finals``: one state per level 0..L; the masks nest, so a
    connection of the level-L ticket trained at every level), their population ``std``, and
    ``sign_flip``: its sign was not the same at every level (a value of exactly 0 counts as
    its own sign). One row per connection: layer, index, in_overlap, std, sign_flip."""
    frames = []
    for name, m in ticket.items():
        keep = m.flatten().bool()
        values = torch.stack([f[name].flatten()[keep] for f in finals]).double()  # [levels, n]
        signs = torch.sign(values)
        frames.append(pd.DataFrame({
            "layer": name, "index": keep.nonzero().squeeze(1).numpy(),
            "in_overlap": overlap[name].flatten()[keep].bool().numpy(),
            "std": values.std(0, unbiased=False).numpy(),
            "sign_flip": (signs != signs[0]).any(0).numpy()}))
    return pd.concat(frames, ignore_index=True)


def stability_summary(frame: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per ``by`` columns (e.g. measure), layer (and ``all``) and group (in the overlap or
    not): the number of connections, the mean and median std of their end-of-level values,
    how many flipped sign and the percentage that did."""
    both = pd.concat([frame, frame.assign(layer="all")], ignore_index=True)
    out = both.groupby([*by, "layer", "in_overlap"], sort=False).agg(
        connections=("std", "size"), mean_std=("std", "mean"), median_std=("std", "median"),
        sign_flips=("sign_flip", "sum")).reset_index()
    out["sign_flip_pct"] = 100.0 * out["sign_flips"] / out["connections"]
    return out


def movement(start: torch.Tensor, end: torch.Tensor, ticket: torch.Tensor,
             overlap: torch.Tensor) -> pd.DataFrame:
    """L23 Figure 3, for one tensor: each ticket connection's value at the start of training
    (the rewind point) and at the end of a level, and ``movement`` = |end - start|."""
    keep = ticket.flatten().bool()
    s, e = start.flatten()[keep].double(), end.flatten()[keep].double()
    return pd.DataFrame({"in_overlap": overlap.flatten()[keep].bool().numpy(),
                         "start": s.numpy(), "end": e.numpy(),
                         "movement": (e - s).abs().numpy()})


def partial_reinit(init: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor],
                   overlap: Masks) -> dict[str, torch.Tensor]:
    """theta_0' of L23 §5: every prunable tensor keeps ``init`` on the overlap and takes
    ``fresh`` (a new draw of the same initialiser) elsewhere; every other parameter and buffer
    (biases, BatchNorm) stays ``init`` (paper_specs.md decision 32)."""
    out = {n: t.clone() for n, t in init.items()}
    for n, o in overlap.items():
        out[n] = torch.where(o.bool(), init[n], fresh[n])
    return out


def reinit_overlap(overlap: Masks, ticket: Masks) -> pd.DataFrame:
    """Do the overlap's connections survive a partial re-initialisation (L23 §5)? Per tensor
    (and ``all``): ``observed`` = |O and M'| where M' is the new ticket, ``expected`` =
    |O| |M'| / numel if M' kept connections independently of O, and ``increase_pct`` =
    100 (observed / expected - 1) (the paper: +8.5..70% in the first convs, +440..480% in the
    FC, -3.2..20% in the 1x1 convs)."""
    rows = [{"layer": n, "numel": m.numel(), "overlap": int(overlap[n].sum()),
             "kept": int(m.sum()), "observed": int((overlap[n].bool() & m.bool()).sum())}
            for n, m in ticket.items()]
    frame = pd.DataFrame(rows)
    frame["expected"] = frame["overlap"] * frame["kept"] / frame["numel"]
    total = {"layer": "all", "numel": frame["numel"].sum(), "overlap": frame["overlap"].sum(),
             "kept": frame["kept"].sum(), "observed": frame["observed"].sum(),
             "expected": frame["expected"].sum()}  # the sum of the per-layer expectations
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    frame["increase_pct"] = 100.0 * (frame["observed"] / frame["expected"].where(
        frame["expected"] > 0) - 1.0)
    return frame


def extreme_range(std: float, n: int, q: float = 0.01) -> tuple[float, float]:
    """The central 1 - 2q interval of the largest of n independent N(0, std^2) draws (the
    smallest is its mirror image): P(max <= x) = Phi(x / std)^n, so x_p = std Phi^-1(p^(1/n)).
    Used to check that a paper's weight range at initialisation (L23 Table 1) is one our
    initialiser and layer size produce."""
    def quantile(p: float) -> float:
        return std * float(sps.norm.isf(-math.expm1(math.log(p) / n)))  # 1 - p^(1/n), exactly

    return quantile(q), quantile(1.0 - q)


def reinit_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """``reinit_overlap`` rows of several re-initialisations, per measure and tensor: the mean
    kept, observed and expected counts and the mean, min and max increase over chance."""
    return frame.groupby(["measure", "layer"], sort=False).agg(
        overlap=("overlap", "first"), kept=("kept", "mean"), observed=("observed", "mean"),
        expected=("expected", "mean"), increase_pct=("increase_pct", "mean"),
        increase_min=("increase_pct", "min"), increase_max=("increase_pct", "max"),
        reinits=("increase_pct", "size")).reset_index()
