"""How a Z19 experiment departs from the paper's: the figure with the same lines (iterative pruning) or the supermask chapter, field by field (``departures.Departure``)."""

from __future__ import annotations

from functools import cache

from ...config import PAPER_PARAMS, load, read_yaml
from ...departures import Departure, train_diff
from .config import PAPER_DATASET, PAPER_TRAIN_SIZE, Experiment, Supermasks

# What must be the paper's for a verdict on one network of the iterative experiment.
PAPER_FIELDS = ("train.", "pruning.levels")


@cache
def paper_configs() -> dict[str, Experiment | Supermasks]:
    """Z19's paper-scale params files, by notebook name, loaded as configs (each names its
    experiment)."""
    classes = {cls.EXPERIMENT: cls for cls in (Experiment, Supermasks)}
    out = {}
    for path in sorted(PAPER_PARAMS.glob("[0-9][0-9]_*.yaml")):
        values = read_yaml(path)
        if values.get("experiment") in classes:
            out[path.stem] = load(values, classes[values["experiment"]])
    return out




def _common(models: list[str], seeds: list[int], data_names: dict[str, str],
            paper_models: list[str], paper_seeds: list[int]) -> list[Departure]:
    out = []
    if set(models) != set(paper_models):
        out.append(Departure("models", tuple(models), tuple(paper_models), effect="sample"))
    if len(seeds) != len(paper_seeds):
        out.append(Departure("number of seeds", len(seeds), len(paper_seeds), effect="sample"))
    for model in models:
        if model not in PAPER_DATASET:  # the protocol on another network: nothing to compare
            out.append(Departure("network", model, "a Z19 network"))
        elif data_names[model] != PAPER_DATASET[model]:
            out.append(Departure("data", data_names[model], PAPER_DATASET[model], model))
    return out


def figure(exp: Experiment) -> str:
    """The notebook of the paper figure with the same lines as ``exp`` (or, when no figure
    has exactly these lines, the one sharing most of them)."""
    figures = {k: v for k, v in paper_configs().items() if isinstance(v, Experiment)}
    arms = frozenset(a.label for a in exp.pruning.arms)
    return max(figures, key=lambda k: (
        arms == {a.label for a in figures[k].pruning.arms},
        len(arms & {a.label for a in figures[k].pruning.arms})))


def iterative(exp: Experiment, data_names: dict[str, str]) -> list[Departure]:
    """Departures of an iterative-pruning experiment from the paper figure with the same lines
    (or, when no figure has exactly these lines, the one sharing most of them)."""
    name = figure(exp)
    paper = paper_configs()[name]
    arms = frozenset(a.label for a in exp.pruning.arms)
    out = _common(exp.models, exp.seeds, data_names, paper.models, paper.seeds)
    paper_arms = frozenset(a.label for a in paper.pruning.arms)
    if arms != paper_arms:
        out.append(Departure(f"pruning.arms (Z19 {name})", arms, paper_arms, effect="sample"))
    if exp.pruning.levels != paper.pruning.levels:
        out.append(Departure("pruning.levels", exp.pruning.levels, paper.pruning.levels))
    for model in exp.models:
        if model in PAPER_DATASET:
            out += train_diff(exp.train_for(model), paper.train_for(model), model, "train")
    return out


def supermasks(cfg: Supermasks, data_names: dict[str, str], train_sizes: dict[str, int]
               ) -> list[Departure]:
    """Departures of a supermask experiment (dense run, heuristic and learned masks)."""
    paper = paper_configs()["04_supermasks"]
    out = _common(cfg.models, cfg.seeds, data_names, paper.models, paper.seeds)
    if set(cfg.criteria) != set(paper.criteria):
        out.append(Departure("criteria", frozenset(cfg.criteria), frozenset(paper.criteria),
                             effect="sample"))
    if cfg.max_power != paper.max_power:
        out.append(Departure("max_power", cfg.max_power, paper.max_power))
    this, ref = cfg.learned, paper.learned
    if set(this.init_values) != set(ref.init_values):
        out.append(Departure("learned.init_values", frozenset(this.init_values),
                             frozenset(ref.init_values), effect="sample"))
    if this.samples != ref.samples:
        out.append(Departure("learned.samples", this.samples, ref.samples))
    for model in cfg.models:
        dense = Experiment(models=[model], train=cfg.dense)
        out += train_diff(dense.train_for(model), paper.dense_experiment().train_for(model), model,
                      "dense")
        paper_size = PAPER_TRAIN_SIZE[PAPER_DATASET[model]]
        out += train_diff(this.train_for(model, train_sizes[model]),
                      ref.train_for(model, paper_size), model, "learned")
        if this.early_stop_for(model) != ref.early_stop_for(model):
            out.append(Departure("learned.early_stop", this.early_stop_for(model),
                                 ref.early_stop_for(model), model))
    return out
