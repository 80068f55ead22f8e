"""How an experiment departs from the paper's: the whole resolved configuration compared, field
by field, with the paper's configuration of the same kind of experiment.

The paper's configurations are the paper-scale params files (``params/paper/``), resolved
like any other: a page says "Paper scale" only when nothing differs. A departure is either a
*setting* (it changes what is measured: training, data, lengths, the evaluation) or a
*sample* (fewer seeds, networks, lines or c values: the same quantity, measured on less);
the scorecard judges a number only without setting departures for its network.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import Train


@dataclass(frozen=True)
class Departure:
    what: str  # the field, in the words of the params files (e.g. "train.batch_size")
    this: object
    paper: object
    network: str | None = None  # None: the experiment as a whole
    # "setting": it changes what is measured; "sample": it measures the same on less (seeds,
    # networks, lines)
    effect: str = "setting"

    def __str__(self) -> str:
        where = f"{self.network} " if self.network else ""
        return f"{where}{self.what} {_show(self.this)} instead of {_show(self.paper)}"


def _show(value: object) -> str:
    if value is None or (isinstance(value, tuple | list | set | frozenset) and not value):
        return "none"
    if dataclasses.is_dataclass(value):  # e.g. H21's constrained pairs
        return "(" + ", ".join(f"{f.name} {_show(getattr(value, f.name))}"
                               for f in dataclasses.fields(value)) + ")"
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, tuple | list):
        return ", ".join(str(v) if isinstance(v, int) else _show(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def train_diff(this: Train, paper: Train, network: str, prefix: str) -> list[Departure]:
    """``diff`` of two trainings (Adam has no momentum to differ in)."""
    skip = {f"{prefix}.momentum"} if this.optimizer == paper.optimizer == "adam" else set()
    return diff(this, paper, f"{prefix}.", frozenset(skip), network)


RUNTIME = frozenset({"store", "device", "executor", "ray", "data.root"})  # never a departure


def diff(this: object, paper: object, prefix: str = "", skip: frozenset = RUNTIME,
         network: str | None = None) -> list[Departure]:
    """Field by field, where a config differs from the paper's (both the same dataclass):
    nested sections by their dotted names, lists of named sections (H21's studies) by name,
    seeds by their number (a sample, not a setting). ``network``: the network whose settings
    these are (L23's per-network settings), None for the experiment as a whole."""
    out = []
    for f in dataclasses.fields(this):
        name = f"{prefix}{f.name}"
        a, b = getattr(this, f.name), getattr(paper, f.name)
        if name in skip or a == b:
            continue
        if f.name == "seeds":
            if len(a) != len(b):
                out.append(Departure("number of seeds", len(a), len(b), effect="sample"))
        elif dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
            out += diff(a, b, f"{name}.", skip, network)
        elif _named(a) and _named(b):
            ours = {x.name: x for x in a}
            for x in b:
                if x.name not in ours:
                    out.append(Departure(f"{name}[{x.name}]", "not run", "run", effect="sample"))
                else:
                    out += diff(ours[x.name], x, f"{name}[{x.name}].", skip, network)
            out += [Departure(f"{name}[{x.name}]", "run", "not in the paper", effect="sample")
                    for x in a if x.name not in {y.name for y in b}]
        else:
            out.append(Departure(name, a, b, network))
    return out


def _named(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(
        dataclasses.is_dataclass(x) and hasattr(x, "name") for x in value)


def verdict(departures: list[Departure]) -> str:
    """The one visible sentence that says whether a result is comparable with the paper."""
    if departures:
        return ("**This is not a paper-scale result:** it runs with "
                + "; ".join(map(str, departures)) + ".")
    return "**Paper scale:** the paper's settings, seeds and data."


def blocking(departures: list[Departure], network: str | None = None,
             prefixes: tuple[str, ...] | None = None) -> list[Departure]:
    """The setting departures that make one network's number (None: any number of the
    experiment) incomparable: its data, and the fields starting with one of ``prefixes``
    (None: every field) of the whole experiment or this network."""
    return [d for d in departures if d.effect == "setting"
            and (network is None or d.network in (None, network))
            and (prefixes is None or d.what == "data" or d.what.startswith(prefixes))]


def _short(value: object) -> str:
    return str(len(value)) if isinstance(value, frozenset | tuple | list) else str(value)


def checked_at(scale: str, deps: list[Departure], paper_settings: bool) -> str:
    """Where a verdict was reached: this scale, or the paper's settings (with what it ran
    fewer of)."""
    if not paper_settings:
        return f"{scale} scale"
    fewer = [f"{d.what} {_short(d.this)} of {_short(d.paper)}" for d in deps
             if d.effect == "sample"]
    return "paper settings" + (f" ({'; '.join(fewer)})" if fewer else "")
