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
from functools import cache

from .config import PAPER_DATASET, PAPER_TRAIN_SIZE, Experiment, Supermasks, Train, load, read_yaml
from .files import resource

PAPER_PARAMS = resource("params", "_params") / "paper"


@dataclass(frozen=True)
class Departure:
    what: str  # the field, in the words of the params files (e.g. "train.batch_size")
    this: object
    paper: object
    network: str | None = None  # None: the experiment as a whole
    kind: str = "setting"  # "setting" or "sample"

    def __str__(self) -> str:
        where = f"{self.network} " if self.network else ""
        return f"{where}{self.what} {_show(self.this)} instead of {_show(self.paper)}"


def _show(value: object) -> str:
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(map(str, value))) + "}"
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@cache
def paper_configs() -> dict[str, Experiment | Supermasks]:
    """The paper-scale params files, by notebook name, loaded as configs."""
    from .experiments import kind_of

    out = {}
    for path in sorted(PAPER_PARAMS.glob("[0-9][0-9]_*.yaml")):
        values = read_yaml(path)
        if kind_of(values) == "z19_supermasks":
            out[path.stem] = load(values, Supermasks)
        elif kind_of(values) == "z19_iterative":
            out[path.stem] = load(values, Experiment)
    return out


def _train(this: Train, paper: Train, network: str, prefix: str) -> list[Departure]:
    skip = {"momentum"} if this.optimizer == paper.optimizer == "adam" else set()
    return [Departure(f"{prefix}.{f.name}", getattr(this, f.name), getattr(paper, f.name),
                      network)
            for f in dataclasses.fields(Train)
            if f.name not in skip and getattr(this, f.name) != getattr(paper, f.name)]


def _common(models: list[str], seeds: list[int], data_names: dict[str, str],
            paper_models: list[str], paper_seeds: list[int]) -> list[Departure]:
    out = []
    if set(models) != set(paper_models):
        out.append(Departure("models", tuple(models), tuple(paper_models), kind="sample"))
    if len(seeds) != len(paper_seeds):
        out.append(Departure("number of seeds", len(seeds), len(paper_seeds), kind="sample"))
    for model in models:
        if model not in PAPER_DATASET:  # the protocol on another network: nothing to compare
            out.append(Departure("network", model, "a Z19 network"))
        elif data_names[model] != PAPER_DATASET[model]:
            out.append(Departure("data", data_names[model], PAPER_DATASET[model], model))
    return out


def iterative(exp: Experiment, data_names: dict[str, str]) -> list[Departure]:
    """Departures of an iterative-pruning experiment from the paper figure with the same lines
    (or, when no figure has exactly these lines, the one sharing most of them)."""
    figures = {k: v for k, v in paper_configs().items() if isinstance(v, Experiment)}
    arms = frozenset(a.label for a in exp.pruning.arms)
    name = max(figures, key=lambda k: (
        arms == {a.label for a in figures[k].pruning.arms},
        len(arms & {a.label for a in figures[k].pruning.arms})))
    paper = figures[name]
    out = _common(exp.models, exp.seeds, data_names, paper.models, paper.seeds)
    paper_arms = frozenset(a.label for a in paper.pruning.arms)
    if arms != paper_arms:
        out.append(Departure(f"pruning.arms (Z19 {name})", arms, paper_arms, kind="sample"))
    if exp.pruning.rounds != paper.pruning.rounds:
        out.append(Departure("pruning.rounds", exp.pruning.rounds, paper.pruning.rounds))
    for model in exp.models:
        if model in PAPER_DATASET:
            out += _train(exp.train_for(model), paper.train_for(model), model, "train")
    return out


def supermasks(cfg: Supermasks, data_names: dict[str, str], train_sizes: dict[str, int]
               ) -> list[Departure]:
    """Departures of a supermask experiment (dense run, heuristic and learned masks)."""
    paper = paper_configs()["04_supermasks"]
    out = _common(cfg.models, cfg.seeds, data_names, paper.models, paper.seeds)
    if set(cfg.criteria) != set(paper.criteria):
        out.append(Departure("criteria", frozenset(cfg.criteria), frozenset(paper.criteria),
                             kind="sample"))
    if cfg.max_power != paper.max_power:
        out.append(Departure("max_power", cfg.max_power, paper.max_power))
    this, ref = cfg.learned, paper.learned
    if set(this.init_values) != set(ref.init_values):
        out.append(Departure("learned.init_values", frozenset(this.init_values),
                             frozenset(ref.init_values), kind="sample"))
    if this.samples != ref.samples:
        out.append(Departure("learned.samples", this.samples, ref.samples))
    for model in cfg.models:
        dense = Experiment(models=[model], train=cfg.dense)
        out += _train(dense.train_for(model), paper.dense_experiment().train_for(model), model,
                      "dense")
        paper_size = PAPER_TRAIN_SIZE[PAPER_DATASET[model]]
        out += _train(this.train_for(model, train_sizes[model]),
                      ref.train_for(model, paper_size), model, "learned")
        if this.early_stop_for(model) != ref.early_stop_for(model):
            out.append(Departure("learned.early_stop", this.early_stop_for(model),
                                 ref.early_stop_for(model), model))
    return out


RUNTIME = frozenset({"store", "device", "executor", "ray", "data.root"})  # never a departure


def diff(this: object, paper: object, prefix: str = "", skip: frozenset = RUNTIME
         ) -> list[Departure]:
    """Field by field, where a config differs from the paper's (both the same dataclass):
    nested sections by their dotted names, lists of named sections (H21's studies) by name,
    seeds by their number (a sample, not a setting)."""
    out = []
    for f in dataclasses.fields(this):
        name = f"{prefix}{f.name}"
        a, b = getattr(this, f.name), getattr(paper, f.name)
        if name in skip or a == b:
            continue
        if f.name == "seeds":
            if len(a) != len(b):
                out.append(Departure("number of seeds", len(a), len(b), kind="sample"))
        elif dataclasses.is_dataclass(a) and dataclasses.is_dataclass(b):
            out += diff(a, b, f"{name}.", skip)
        elif _named(a) and _named(b):
            ours = {x.name: x for x in a}
            for x in b:
                if x.name not in ours:
                    out.append(Departure(f"{name}[{x.name}]", "not run", "run", kind="sample"))
                else:
                    out += diff(ours[x.name], x, f"{name}[{x.name}].", skip)
            out += [Departure(f"{name}[{x.name}]", "run", "not in the paper", kind="sample")
                    for x in a if x.name not in {y.name for y in b}]
        else:
            out.append(Departure(name, a, b))
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


def blocking(departures: list[Departure], network: str, prefixes: tuple[str, ...]
             ) -> list[Departure]:
    """The setting departures that make one network's number incomparable: its data, and
    the fields starting with one of ``prefixes`` of the whole experiment or this network."""
    return [d for d in departures if d.kind == "setting" and d.network in (None, network)
            and (d.what == "data" or d.what.startswith(prefixes))]
