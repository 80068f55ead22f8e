"""L23: lottery tickets found with layerwise importance measures (paper_specs.md Notebook 6).

Lottery-ticket rewinding as L23 runs it (6.2), on THE pruning loop (``lottery.prune_loop``):
per network and seed, the dense network is pretrained for k iterations once (shared by every
measure); level 0 trains from that state; after each level, every prunable tensor's unpruned
weights are scored by an importance measure (``masks.importance``), the scores of all tensors
are pooled, and OpenLTH's rule prunes: tau = the n-th smallest score with
n = ceil(0.2 x remaining), keep score > tau; then all parameters and buffers rewind to the
state at k. All measures x seeds of a network train as one population.

Section 5 (multiple tickets per initialisation) on one network: the overlap of the tickets
of several measures at one level, and the partial re-initialisation test: re-run the same
procedure from an init that keeps theta_0 only on the overlap (fresh Kaiming draws
elsewhere). The analyses themselves are pure functions in ``analysis``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import pandas as pd
import torch

from . import analysis, engine, executor, lottery, models, paper, schedule, seeds, verdicts
from . import data as data_mod
from . import departures as departures_mod
from .config import (
    Arm,
    ConfigError,
    Data,
    Executor,
    L23Measure,
    RayOptions,
    Train,
    from_dict,
    key_dict,
)
from .store import RunStore, unpack_mask

L23Model = Literal["lenet_300_100", "resnet20", "vgg16", "resnet18"]
MEASURES: tuple[str, ...] = ("magnitude", "l1", "l2", "softmax", "minmax")  # L23 Table 2's


@dataclass(frozen=True)
class Setting:
    """One network's training, data and pruning as L23 ran it (Appendix A)."""

    dataset: str
    train: Train
    rewind_iteration: int  # k: pretrain k iterations, every level rewinds there
    levels: int  # pruning levels after the dense level 0
    normalize: str  # data.load's option
    augment: str
    # OpenLTH's rule for the output layer: never pruned, counted in the remaining weights
    # (its LeNet and VGG-16 defaults); ResNet-20's and ResNet-18's are pruned (OpenLTH's
    # defaults, and L23 App. C discusses ResNet-18's output layer being pruned less).
    ignore_output_layer: bool = False


def _sgd(lr: float, batch: int, epochs: int, momentum: float, wd: float,
         milestones: list[float], eval_epochs: int, per_epoch: int) -> Train:
    # eval_every is ours (L23 reports the end of training only): a few evaluations per level.
    return Train(optimizer="sgd", lr=lr, batch_size=batch, epochs=epochs, momentum=momentum,
                 weight_decay=wd, milestones=milestones, last_batch="keep",
                 eval_every=eval_epochs * per_epoch)


# paper_specs.md 6.1: iterations per epoch ceil(N / batch) (OpenLTH keeps the last batch);
# ResNet-20's batch "238" in the paper is a typo for 128 (391 iterations per epoch).
# The output layer: L23 ran OpenLTH, whose defaults leave LeNet's and VGG-16's unpruned
# (pruning_layers_to_ignore = fc.weight, still counted in the remaining weights) and prune the
# ResNets'; L23 App. C reports ResNet-18's output layer pruned less than others, so pruned.
# LeNet's choice was measured against Table 2 (both rules, README "L23's output layer").
PAPER: dict[str, Setting] = {
    "lenet_300_100": Setting("mnist", _sgd(0.1, 128, 40, 0.0, 0.0, [], 4, 469), 0, 24,
                             "dataset", "none", ignore_output_layer=True),
    "resnet20": Setting("cifar10", _sgd(0.1, 128, 160, 0.9, 1e-4, [80, 120], 10, 391), 1000,
                        40, "imagenet", "crop_flip"),
    "vgg16": Setting("cifar10", _sgd(0.1, 128, 160, 0.9, 1e-4, [80, 120], 10, 391), 2000, 35,
                     "imagenet", "crop_flip", ignore_output_layer=True),
    "resnet18": Setting("tiny_imagenet", _sgd(0.2, 256, 200, 0.9, 1e-4, [100, 150], 10, 391),
                        1000, 40, "imagenet", "crop_flip"),
}
# The papers' names, as in book/paper_numbers/l23_table2.csv.
NETWORK_NAMES = {"lenet_300_100": "LeNet-300-100", "resnet20": "ResNet-20", "vgg16": "VGG-16",
                 "resnet18": "ResNet-18"}
MEASURE_NAMES = {"magnitude": "Magnitude", "l1": "L1", "l2": "L2", "softmax": "SoftMax",
                 "minmax": "MinMax", "lamp": "LAMP"}


@dataclass(frozen=True)
class Overlap:
    """Section 5: the tickets of ``measures`` at ``level`` of one network and seed (one
    initialisation), and the partial re-initialisation from ``reinit_seeds`` fresh draws."""

    model: L23Model | None = None  # None: the first network
    measures: list[L23Measure] = field(default_factory=lambda: ["magnitude", "l1", "l2"])
    level: int = 15  # 96.48% sparse
    seed: int = 0
    reinit_seeds: list[int] = field(default_factory=lambda: [0, 1, 2])  # [] skips the test

    def __post_init__(self) -> None:
        if len(set(self.measures)) < 2 or len(set(self.measures)) != len(self.measures):
            raise ConfigError(f"overlap.measures must list at least two distinct measures "
                              f"(got {self.measures})")
        if self.level < 1:
            raise ConfigError(f"overlap.level must be >= 1 (got {self.level})")
        if len(set(self.reinit_seeds)) != len(self.reinit_seeds):
            raise ConfigError(f"overlap.reinit_seeds must be distinct (got {self.reinit_seeds})")


@dataclass(frozen=True)
class Layerwise:
    """The L23 experiment: importance measures x seeds per network, and section 5."""

    models: list[L23Model] = field(default_factory=lambda: ["lenet_300_100"])
    data: Data = field(default_factory=Data)  # root (dataset: the network's, PAPER)
    # Fields of config.Train that replace L23's settings for every network (e.g. epochs).
    train: dict = field(default_factory=dict)
    levels: int | None = None  # None: the paper's per network
    rewind_iteration: int | None = None  # None: the paper's per network
    ignore_output_layer: bool | None = None  # None: the paper's per network (Setting)
    measures: list[L23Measure] = field(default_factory=lambda: list(MEASURES))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    overlap: Overlap = field(default_factory=Overlap)
    device: str = "auto"
    store: str = "runs"
    executor: Executor = "local"  # where populations train (lt_core.executor)
    ray: RayOptions = field(default_factory=RayOptions)

    def __post_init__(self) -> None:
        for name in ("models", "measures", "seeds"):
            values = getattr(self, name)
            if not values or len(set(values)) != len(values):
                raise ConfigError(f"{name} must list distinct values (got {values})")
        if self.levels is not None and self.levels < 0:
            raise ConfigError(f"levels must be >= 0 (got {self.levels})")
        if self.rewind_iteration is not None and self.rewind_iteration < 0:
            raise ConfigError(f"rewind_iteration must be >= 0 (got {self.rewind_iteration})")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be one of auto, cpu, cuda, cuda:N (got {self.device!r})")
        for model in self.models:
            s = self.setting(model)  # the train overrides make a valid Train for every network
            if data_mod.normalize_problem(s.normalize, s.dataset, data_mod.CHANNELS[s.dataset]):
                raise ConfigError(f"models: {model} normalises its data by ImageNet's statistics "
                                  f"in L23, which need 3-channel images; {s.dataset} has 1: set "
                                  "data.dataset: cifar10 (or leave it unset: each network's "
                                  "own), or use lenet_300_100 on mnist")
        ov = self.overlap
        if self.overlap_model not in self.models:
            raise ConfigError(f"overlap.model {ov.model} is not one of models {self.models}")
        if ov.seed not in self.seeds:
            raise ConfigError(f"overlap.seed {ov.seed} is not one of seeds {self.seeds}")
        missing = [m for m in ov.measures if m not in self.measures]
        if missing:
            raise ConfigError(f"overlap.measures {missing} are not in measures {self.measures}")
        levels = self.setting(self.overlap_model).levels
        if ov.level > levels:
            raise ConfigError(f"overlap.level {ov.level} exceeds the {levels} levels of "
                              f"{self.overlap_model}")

    @property
    def overlap_model(self) -> str:
        return self.overlap.model or self.models[0]

    def setting(self, model: str) -> Setting:
        """The network's L23 setting with this experiment's replacements."""
        p = PAPER[model]
        values = dataclasses.asdict(p.train)
        if "iterations" in self.train:  # a length in iterations replaces the paper's epochs
            values["epochs"] = None
        train = from_dict(Train, {**values, **self.train}, "train")
        return dataclasses.replace(
            p, dataset=self.data.dataset or p.dataset, train=train,
            levels=p.levels if self.levels is None else self.levels,
            rewind_iteration=(p.rewind_iteration if self.rewind_iteration is None
                              else self.rewind_iteration),
            ignore_output_layer=(p.ignore_output_layer if self.ignore_output_layer is None
                                 else self.ignore_output_layer))


def arm(measure: str, ignore_output_layer: bool = False) -> Arm:
    """L23's rule: the measure's scores pooled over all prunable tensors, OpenLTH's threshold
    (and, where the setting says so, OpenLTH's unpruned output layer)."""
    return Arm(measure, selection="global", fraction=0.2, count="threshold",
               ignore_output_layer=ignore_output_layer)


def run_config(model: str, data_name: str, s: Setting, measure: str, seed: int) -> dict:
    """The canonical config of one ticket run (its key). ``scores: float64``: measures are
    ranked in the precision they are computed in (they were rounded to float32 before)."""
    return {"kind": "l23_ticket", "model": model, "data": data_name, "train": key_dict(s.train),
            **key_dict(arm(measure, s.ignore_output_layer)),
            "rewind_iteration": s.rewind_iteration, "seed": seed, "scores": "float64"}


def load_data(cfg: Layerwise, model: str, device: torch.device | str = "cpu"
              ) -> data_mod.Dataset:
    """The network's data as L23 used it: no validation split (all training examples
    train, the test set tests), OpenLTH's normalisation and augmentation."""
    s = cfg.setting(model)
    return data_mod.load(s.dataset, cfg.data.root, device, validation="none",
                         normalize=s.normalize, augment=s.augment)


def run(cfg: Layerwise, progress: bool = True) -> LayerwiseResult:
    """Run (or resume) every network's tickets, then section 5's partial re-initialisation;
    finished levels in the store are never recomputed."""
    device = engine.resolve_device(cfg.device)
    if device.type == "cuda":  # §5: tickets differ by their measure, not by kernel choices
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    store = RunStore(cfg.store)
    ex = executor.make(cfg.executor, cfg.ray)  # populations of one level train at once on Ray
    rows, info = [], {}
    for model_name in cfg.models:
        s = cfg.setting(model_name)
        data = load_data(cfg, model_name, device)
        info[model_name] = lottery.DataInfo(data.name, data.description, data.sizes(),
                                            data.input_shape)
        net = models.build(model_name, data.input_shape, data.num_classes)
        # The end-of-level weights are kept for the network section 5 analyses only: the
        # large networks' would take tens of GB.
        keep = model_name == cfg.overlap_model
        pairs = [(m, seed) for m in cfg.measures for seed in cfg.seeds]
        runs = [lottery.Run(run_config(model_name, data.name, s, m, seed), seed,
                            arm(m, s.ignore_output_layer), s.train,
                            rewind_iteration=s.rewind_iteration, keep_final=keep)
                for m, seed in pairs]
        keys = lottery.prune_loop(net, data, runs, s.levels, store, device, progress,
                                  name=model_name, executor=ex)
        rows += [{"key": k, "model": model_name, "measure": m, "seed": seed, "kind": "ticket",
                  "reinit_seed": None} for k, (m, seed) in zip(keys, pairs)]
        if keep and cfg.overlap.reinit_seeds:
            rows += _partial_reinit(cfg, model_name, net, data, s, store, device, progress,
                                    {(m, seed): k for k, (m, seed) in zip(keys, pairs)}, ex)
    return LayerwiseResult(cfg, pd.DataFrame(rows), info, str(device), store)


def _partial_reinit(cfg: Layerwise, model_name: str, net: torch.nn.Module,
                    data: data_mod.Dataset, s: Setting, store: RunStore, device: torch.device,
                    progress: bool, tickets: dict[tuple, str], ex) -> list[dict]:
    """Section 5's test: from theta_0' (theta_0 on the overlap O of the measures' tickets at
    the overlap level, fresh Kaiming draws on every other prunable weight, everything else
    theta_0), the same procedure, same data order, to that level; one run per measure and
    re-initialisation seed. None when a ticket run failed before that level."""
    ov = cfg.overlap
    keys = [tickets[(m, ov.seed)] for m in ov.measures]
    if not all(_reached(store, k, ov.level - 1) for k in keys):  # level L-1 chose the ticket
        return []
    overlap = analysis.overlap_mask([ticket(store, k, ov.level) for k in keys])
    theta_0 = models.initial_state(net, ov.seed)
    pairs = [(m, r) for m in ov.measures for r in ov.reinit_seeds]
    runs = []
    for m, r in pairs:
        fresh = models.initial_state(net, seeds.derive(ov.seed, "partial-reinit", r))
        init = analysis.partial_reinit(theta_0, fresh, overlap)
        runs.append(lottery.Run(run_config(model_name, data.name, s, m, ov.seed),
                                ov.seed, arm(m, s.ignore_output_layer), s.train,
                                rewind_iteration=s.rewind_iteration, init=init))
    keys = lottery.prune_loop(net, data, runs, ov.level, store, device, progress,
                              name=f"{model_name} partial re-init", executor=ex)
    return [{"key": k, "model": model_name, "measure": m, "seed": ov.seed, "kind": "reinit",
             "reinit_seed": r} for k, (m, r) in zip(keys, pairs)]


def ticket(store: RunStore, key: str, level: int) -> dict[str, torch.Tensor]:
    """The mask a run trained with at ``level`` (the ticket at that level): the mask its
    previous level chose; level 0's is all ones."""
    if level == 0:
        return {n: torch.ones(p["shape"]) for n, p in store.load_round(key, 0)["next_mask"].items()}
    return {n: unpack_mask(p) for n, p in store.load_round(key, level - 1)["next_mask"].items()}


def _short_of(store: RunStore, key: str, level: int) -> str | None:
    """Why a run has no ticket at ``level`` (it stopped before choosing it), or None."""
    stop = lottery.stop_reason(store, key)
    return stop[1] if stop is not None and stop[0] < level else None


def _reached(store: RunStore, key: str, level: int) -> bool:
    """Whether a run trained ``level`` and every level before it without diverging."""
    return all(store.has_round(key, n) and store.load_round(key, n)["failed_at"] is None
               for n in range(level + 1))


# The files each dataset's paper runs read (data.Dataset.name before its option tags).
PAPER_DATA = {"mnist": "mnist", "cifar10": "cifar10", "tiny_imagenet": "tiny-imagenet"}
SEEDS = 3  # L23: mean and std over 3 runs
# Table 2's rows; L23 Table 1's layers of ResNet-18, in our names.
TABLE1_LAYERS = {"Conv1": "conv1.weight", "Downsample1": "layer2.0.downsample.0.weight",
                 "Conv17": "layer4.1.conv2.weight", "FC": "fc.weight"}


@dataclass
class LayerwiseResult:
    """What the notebook needs: the runs, and which scale, data and device produced them.
    Every analysis reads the store; the computations are ``analysis``'s."""

    config: Layerwise
    runs: pd.DataFrame  # one row per run: key, model, measure, seed, kind, reinit_seed
    data: dict[str, lottery.DataInfo]  # per network
    device: str
    store: RunStore

    @property
    def data_names(self) -> str:
        return ", ".join(sorted({d.name for d in self.data.values()}))

    def record(self, key: str, level: int) -> dict:
        return self.store.load_round(key, level)

    # -- tables of runs --------------------------------------------------------------------
    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per run and level: model, measure, seed, kind (ticket | reinit),
        reinit_seed, level, percent_remaining, sparsity_pct, test_acc (at the end of
        training, as L23 reports), failed, failed_at, wall_s."""
        s = self.store.summary(list(self.runs["key"]))
        info = self.runs.set_index("key")[["model", "measure", "kind", "reinit_seed"]]
        s = s.drop(columns=["member", "early_stop_iteration"]).join(info, on="run").rename(
            columns={"round": "level", "test_acc_at_early_stop": "test_acc"})
        s["sparsity_pct"] = 100.0 - s["percent_remaining"]
        return s[["run", "model", "measure", "seed", "kind", "reinit_seed", "level",
                  "percent_remaining", "sparsity_pct", "test_acc", "failed", "failed_at",
                  "collapsed", "wall_s"]]

    def ticket_levels(self) -> pd.DataFrame:
        """The ticket runs' levels that trained without diverging."""
        s = self.summary
        return s[(s["kind"] == "ticket") & ~s["failed"]]

    def failures(self) -> list[str]:
        """One line per run that diverged (``engine.divergence``): from that level on it has
        no result, and every table, figure and verdict leaves it out; and one for section
        5's partial re-initialisation when a ticket it needs did not reach the overlap level
        (it is then not trained)."""
        out = []
        for r in self.runs.itertuples():
            stop = lottery.stop_reason(self.store, r.key)
            if stop is not None:
                out.append(f"{r.model} {r.measure} seed {r.seed}"
                           + (f" (partial re-init {int(r.reinit_seed)})" if r.kind == "reinit"
                              else "") + f": {stop[1]}")
        ov, model = self.config.overlap, self.config.overlap_model
        if ov.reinit_seeds and not (self.runs["kind"] == "reinit").any():
            short = [f"the {m} ticket {why}" for m in ov.measures
                     if (why := _short_of(self.store, self._key(model, m, ov.seed), ov.level))]
            out.append(f"{model} partial re-init of {', '.join(ov.measures)} seed {ov.seed} "
                       f"(re-init seeds {', '.join(map(str, ov.reinit_seeds))}): not trained, "
                       + "; ".join(short))
        return out

    def _key(self, model: str, measure: str, seed: int, kind: str = "ticket",
             reinit_seed: int | None = None) -> str:
        r = self.runs
        r = r[(r["model"] == model) & (r["measure"] == measure) & (r["seed"] == seed)
              & (r["kind"] == kind)]
        if reinit_seed is not None:
            r = r[r["reinit_seed"] == reinit_seed]
        return r["key"].iloc[0]

    def _finals(self, key: str, level: int) -> list[dict[str, torch.Tensor]]:
        """End-of-training weights of levels 0..``level`` of a run."""
        out = []
        for n in range(level + 1):
            rec = self.store.load_round(key, n)
            if "final" not in rec:
                raise RuntimeError(
                    f"run {key} ({self.store.config(key)['model']}) was stored without its "
                    f"end-of-level weights (it was not overlap.model when it ran); delete "
                    f"{self.store.root / key} to recompute it with them")
            out.append(rec["final"])
        return out

    def start_state(self, model: str, seed: int) -> dict[str, torch.Tensor]:
        """theta_{0,k}: the state every level of a seed's tickets starts from (the init when
        k = 0, else the stored rewind point)."""
        s = self.config.setting(model)
        net = models.build(model, self.data[model].input_shape, _classes(s.dataset))
        if s.rewind_iteration == 0:
            return models.initial_state(net, seed)
        probe = lottery.Run(run_config(model, self.data[model].name, s, self.config.measures[0],
                                       seed), seed, arm(self.config.measures[0]), s.train,
                            rewind_iteration=s.rewind_iteration)
        key = self.store.key(lottery.rewind_point_config(probe, self.data[model].name))
        return self.store.load_round(key, 0)["state"]

    # -- analyses --------------------------------------------------------------------------
    @cached_property
    def layer_sparsity(self) -> pd.DataFrame:
        """LPR per prunable tensor of every ticket at every level it trained (L23 Figure 1,
        Appendices C and D): model, measure, seed, level, layer, depth, numel, kept,
        lpr_pct."""
        frames = []
        for r in self.ticket_levels().itertuples():
            f = analysis.layer_sparsity(ticket(self.store, r.run, r.level))
            frames.append(f.assign(model=r.model, measure=r.measure, seed=r.seed, level=r.level))
        return pd.concat(frames, ignore_index=True)

    @cached_property
    def overlaps(self) -> pd.DataFrame:
        """The overlap of the tickets of overlap.measures of every network, seed and level
        all of them trained (L23 §5, Appendix B.3): the columns of ``analysis.overlap`` and
        model, seed, level."""
        measures = self.config.overlap.measures
        t = self.ticket_levels()
        t = t[t["measure"].isin(measures)]
        frames = []
        for (model, seed, level), g in t.groupby(["model", "seed", "level"]):
            if len(g) < len(measures):  # a measure's run diverged before this level
                continue
            masks = {m: ticket(self.store, k, level) for m, k in zip(g["measure"], g["run"])}
            frames.append(analysis.overlap(masks).assign(model=model, seed=seed, level=level))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _section5(self) -> tuple[str, dict[str, str], dict[str, dict], dict]:
        """The overlap network, its ticket runs per measure, their tickets at the overlap
        level and the overlap O (seed overlap.seed)."""
        ov, model = self.config.overlap, self.config.overlap_model
        keys = {m: self._key(model, m, ov.seed) for m in ov.measures}
        failed = [m for m, k in keys.items() if not _reached(self.store, k, ov.level)]
        if failed:
            raise RuntimeError(f"{model} {', '.join(failed)} seed {ov.seed} did not reach "
                               f"level {ov.level} (diverged): no overlap to analyse")
        tickets = {m: ticket(self.store, k, ov.level) for m, k in keys.items()}
        return model, keys, tickets, analysis.overlap_mask(list(tickets.values()))

    @cached_property
    def stability(self) -> pd.DataFrame:
        """L23 Figure 2 at the overlap level: per ticket connection of each measure, the std
        of its end-of-level values over levels 0..L and whether its sign flipped
        (``analysis.stability``), with a measure column."""
        model, keys, tickets, o = self._section5()
        level = self.config.overlap.level
        return pd.concat([analysis.stability(self._finals(k, level), tickets[m], o)
                          .assign(measure=m) for m, k in keys.items()], ignore_index=True)

    @cached_property
    def movement(self) -> pd.DataFrame:
        """L23 Figure 3: in the first layer, each ticket connection's value at the rewind
        point and at the end of the overlap level (``analysis.movement``)."""
        model, keys, tickets, o = self._section5()
        level, seed = self.config.overlap.level, self.config.overlap.seed
        layer = next(iter(o))
        start = self.start_state(model, seed)[layer]
        return pd.concat([analysis.movement(start, self._finals(k, level)[-1][layer],
                                            tickets[m][layer], o[layer])
                          .assign(measure=m, layer=layer) for m, k in keys.items()],
                         ignore_index=True)

    @cached_property
    def reinit(self) -> pd.DataFrame:
        """The partial re-initialisation test: per measure, re-initialisation seed and tensor,
        the overlap's connections in the new ticket at the overlap level, observed vs
        expected (``analysis.reinit_overlap``). Empty when the test did not run."""
        model, _, _, o = self._section5()
        level = self.config.overlap.level
        frames = []
        for r in self.runs[self.runs["kind"] == "reinit"].itertuples():
            if not _reached(self.store, r.key, level - 1):  # M' is chosen at the end of L-1
                continue
            frames.append(analysis.reinit_overlap(o, ticket(self.store, r.key, level))
                          .assign(measure=r.measure, reinit_seed=int(r.reinit_seed)))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @cached_property
    def init_ranges(self) -> pd.DataFrame:
        """L23 Table 1's init column, for our ResNet-18 (Tiny ImageNet shapes, every seed):
        per layer, the min and max of the initial weights, and the central 98% interval of
        the extremes of that many draws of our initialiser (``analysis.extreme_range``): no
        training needed, so it is checked at every scale."""
        net = models.build("resnet18", (3, 64, 64), 200)
        rows = []
        for s in self.config.seeds:
            state = models.initial_state(net, s)
            for name, layer in TABLE1_LAYERS.items():
                w = state[layer]
                std = math.sqrt(2.0 / w[0].numel())  # Kaiming normal, fan_in, gain sqrt(2)
                lo, hi = analysis.extreme_range(std, w.numel())
                rows.append({"layer": name, "tensor": layer, "seed": s, "min": float(w.min()),
                             "max": float(w.max()), "extreme_lo": lo, "extreme_hi": hi})
        return pd.DataFrame(rows)

    def overlap_at_level(self) -> pd.DataFrame:
        """Section 5's overlap table: ``overlaps()`` of the overlap network and seed at the
        overlap level."""
        ov, o = self.config.overlap, self.overlaps
        if o.empty:
            return o
        return o[(o["model"] == self.config.overlap_model) & (o["seed"] == ov.seed)
                 & (o["level"] == ov.level)].reset_index(drop=True)

    # -- the paper's numbers -----------------------------------------------------------------
    def table2(self) -> pd.DataFrame:
        """L23 Table 2 next to this build: per network, level (the paper's steps that ran
        here) and measure, this build's mean, std and n of the test accuracy over seeds (in %)
        and the paper's; ``tolerance`` = max(0.1, 2 s sqrt(1/3 + 1/n)) percentage points,
        two standard errors of the difference of the two means when the paper's std s is the
        run-to-run std of both; ``comparable`` where this network ran at the paper's
        settings."""
        t2 = paper.load("l23_table2")
        ok = self.ticket_levels()
        rows = []
        for model in self.config.models:
            net = NETWORK_NAMES[model]
            mine = ok[ok["model"] == model]
            for r in t2[t2["network"] == net].itertuples():
                if r.criterion == "Dense":
                    values = mine[mine["level"] == 0].drop_duplicates("seed")["test_acc"]
                    measure = "dense"
                else:
                    measure = {v: k for k, v in MEASURE_NAMES.items()}[r.criterion]
                    values = mine[(mine["level"] == r.steps) & (mine["measure"] == measure)][
                        "test_acc"]
                if values.empty:
                    continue
                failed = self._failed_by(model, None if measure == "dense" else measure,
                                         r.steps)
                at = mine[(mine["level"] == r.steps) & (mine["measure"] == measure)
                          & mine["collapsed"].map(bool)] if measure != "dense" else mine[:0]
                collapsed = [f"seed {c.seed}: {', '.join(c.collapsed)}" for c in at.itertuples()]
                n = len(values)
                tol = max(0.1, 2.0 * r.std * math.sqrt(1.0 / SEEDS + 1.0 / n))
                mean = 100.0 * values.mean()
                rows.append({
                    "model": model, "level": r.steps, "sparsity_pct": r.sparsity_pct,
                    "measure": measure, "mean": mean,
                    "std": 100.0 * values.std(ddof=1) if n > 1 else float("nan"), "n": n,
                    "paper_mean": r.mean, "paper_std": r.std, "diff": mean - r.mean,
                    "tolerance": tol, "within": abs(mean - r.mean) <= tol,
                    "chance_pct": CHANCE_PCT.get(self.config.setting(model).dataset, 10.0),
                    "comparable": not self.network_departures(model), "failed": failed,
                    "collapsed": collapsed})
        return pd.DataFrame(rows)

    def _failed_by(self, model: str, measure: str | None, level: int) -> list[str]:
        """The ticket runs of a network (and measure) that diverged at or before ``level``."""
        f = self.summary
        f = f[(f["kind"] == "ticket") & (f["model"] == model) & f["failed"]
              & (f["level"] <= level)]
        if measure is not None:
            f = f[f["measure"] == measure]
        return [f"{r.measure} seed {r.seed} (level {r.level})" for r in f.itertuples()]

    # -- scale -----------------------------------------------------------------------------
    def network_departures(self, model: str) -> list[str]:
        """How a network's training and data depart from L23's (not its number of levels,
        seeds or measures: those change how much was run, not the numbers)."""
        s, p = self.config.setting(model), PAPER[model]
        out = []
        if _length(s.train) != _length(p.train):
            out.append(f"{model} {_length(s.train)} per level instead of {_length(p.train)}")
        for f in dataclasses.fields(Train):
            if f.name in ("eval_every", "epochs", "iterations"):
                continue  # eval_every is ours: L23 reports the end of training
            ours, theirs = getattr(s.train, f.name), getattr(p.train, f.name)
            if ours != theirs:
                out.append(f"{model} train.{f.name} {_fmt(ours)} instead of {_fmt(theirs)}")
        if s.rewind_iteration != p.rewind_iteration:
            out.append(f"{model} rewinding to iteration {s.rewind_iteration} instead of "
                       f"{p.rewind_iteration}")
        if s.ignore_output_layer != p.ignore_output_layer:
            rule = {True: "not pruned (OpenLTH's rule)", False: "pruned"}
            out.append(f"{model} output layer {rule[s.ignore_output_layer]} instead of "
                       f"{rule[p.ignore_output_layer]}")
        name = self.data[model].name.split("+")[0]
        if name != PAPER_DATA[p.dataset]:
            out.append(f"{model} on {name} instead of the full {PAPER_DATA[p.dataset]}")
        return out

    def departures(self) -> list[str]:
        """Everything that departs from L23's experiment; empty at paper scale."""
        cfg = self.config
        out = [d for m in cfg.models for d in self.network_departures(m)]
        for m in cfg.models:
            if cfg.setting(m).levels < PAPER[m].levels:
                out.append(f"{m} {cfg.setting(m).levels} levels instead of {PAPER[m].levels}")
        if len(cfg.seeds) != SEEDS:
            out.append(f"{len(cfg.seeds)} seed{'s' * (len(cfg.seeds) > 1)} instead of {SEEDS}")
        missing = [m for m in MEASURES if m not in cfg.measures]
        if missing:
            out.append(f"without the measures {', '.join(missing)}")
        ov, ref = cfg.overlap, paper_config()
        ours = (cfg.overlap_model, ov.level, sorted(ov.measures))
        theirs = (ref.overlap_model, ref.overlap.level, sorted(ref.overlap.measures))
        if ours != theirs:
            out.append(f"section 5 on {ours[0]} at level {ours[1]} with {', '.join(ours[2])} "
                       f"instead of {theirs[0]} at level {theirs[1]} with "
                       f"{', '.join(theirs[2])}")
        return out

    def describe(self, scale: str) -> str:
        """Markdown: the scale, data and device of this result and how it departs from the
        paper's settings."""
        cfg = self.config
        head = (f"**Scale: {scale}.** {len(cfg.measures)} measures ({', '.join(cfg.measures)}) "
                f"x {len(cfg.seeds)} seed{'s' * (len(cfg.seeds) > 1)}. **Device:** {self.device}.")
        lines = []
        for m in cfg.models:
            s, d = cfg.setting(m), self.data[m]
            length = schedule.plan(s.train, d.sizes["train"]).total
            lines.append(
                f"**{m}:** {s.levels} levels after the dense level 0, each {length:,} "
                f"iterations (batch {s.train.batch_size}, SGD lr {s.train.lr:g}, momentum "
                f"{s.train.momentum:g}, weight decay {s.train.weight_decay:g}), rewinding to "
                f"iteration {s.rewind_iteration}. **Output layer:** "
                + ("never pruned but counted in the remaining weights (OpenLTH's rule)"
                   if s.ignore_output_layer else "pruned with the other layers")
                + f". **Data:** {d.description}; sizes {d.sizes}.")
        ov = cfg.overlap
        lines.append(f"**Section 5** on {cfg.overlap_model}, seed {ov.seed}: the tickets of "
                     f"{', '.join(ov.measures)} at level {ov.level}; partial re-initialisation "
                     f"with {len(ov.reinit_seeds)} fresh draw{'s' * (len(ov.reinit_seeds) != 1)}.")
        return "\n\n".join([head, *lines, *lottery.failure_note(self.failures()),
                             departures_mod.verdict(self.departures())])


@functools.cache
def paper_config() -> Layerwise:
    """L23's experiment at the paper's settings: ``params/paper/06_layerwise.yaml``."""
    from .config import load
    from .scales import PARAMS

    return load(str(PARAMS / "paper" / "06_layerwise.yaml"), Layerwise)


def _length(train: Train) -> str:
    if train.iterations is not None:
        return f"{train.iterations:,} iterations"
    return f"{train.epochs:g} epochs"


def _fmt(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _classes(dataset: str) -> int:
    return 200 if dataset == "tiny_imagenet" else 10


# ----------------------------------------------------------------------------------------------
# What the chapter claims, checked; the scorecard's rows


OVERLAP_LITTLE_PCT = 50.0  # "overlap very little": less than half of each ticket is shared


def claims(result: LayerwiseResult) -> pd.DataFrame:
    """L23's qualitative claims about its tickets, judged on this build's runs: one row per
    claim with where the paper makes it and its ``verdicts.Verdict``. Section 5's are judged
    at the overlap level of the overlap network and seed, over its connections (one
    initialisation: the sample is the connections, by one-sided rank and count tests at
    5%); Appendix C's at the same level, over seeds."""
    ov, model = result.config.overlap, result.config.overlap_model
    rows = []

    def row(claim: str, source: str, verdict: verdicts.Verdict) -> None:
        rows.append({"claim": claim, "source": source, "verdict": verdict})

    o = result.overlap_at_level()
    little = (f"tickets of {', '.join(ov.measures)} overlap little: the connections all of "
              f"them keep are less than {OVERLAP_LITTLE_PCT:g}% of each ticket (L23: 9.34%) at "
              f"level {ov.level}")
    try:
        st = result.stability
    except RuntimeError as err:  # a ticket diverged before the overlap level
        why = verdicts.not_judged(str(err))
        for claim, source in ((little, "L23 §5, abstract"),
                              ("connections in the overlap vary less across levels",
                               "L23 §5, Fig. 2 left"),
                              ("connections in the overlap flip sign less often",
                               "L23 §5, Fig. 2 right"),
                              ("in the first layer, connections in the overlap moved further "
                               "from the rewind point", "L23 §5, Fig. 3")):
            row(claim, source, why)
        return pd.DataFrame(rows, columns=["claim", "source", "verdict"])
    pct = o[o["layer"] == "all"].set_index("measure")["pct_of_ticket"]
    row(little, "L23 §5, abstract", verdicts.Verdict(
        bool((pct < OVERLAP_LITTLE_PCT).all()),
        "overlap as % of each ticket: " + ", ".join(f"{m} {v:.2f}%" for m, v in pct.items())))
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
    ls = result.layer_sparsity
    ls = ls[(ls["model"] == model) & (ls["level"] == ov.level)]
    net = models.build(model, result.data[model].input_shape, _classes(
        result.config.setting(model).dataset))
    first, last = next(iter(net.prune_rates)), net.output_layer
    ignored = result.config.setting(model).ignore_output_layer
    layers = [first] if ignored else [first, last]
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
    return pd.DataFrame(rows, columns=["claim", "source", "verdict"])


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
CHANCE_PCT = {"tiny_imagenet": 0.5}  # else 10 classes: 10%


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


def scorecard_rows(result: LayerwiseResult, scale: str) -> list[dict]:
    """This chapter's rows of the reproduction scorecard (``scorecard.build``'s columns):
    Table 2 cell by cell, Table 1's init ranges, section 5's numbers and the claims above."""
    rows = []
    for r in result.table2().itertuples():
        spread = f" ± {r.std:.2f}" if r.n > 1 else ""
        rows.append({"claim": f"top-1 accuracy, {MEASURE_NAMES.get(r.measure, 'dense network')}, "
                              f"level {r.level} ({r.sparsity_pct:.2f}% sparse)",
                     "network": r.model, "source": "L23 Table 2",
                     "paper says": f"{r.paper_mean:.2f}% ± {r.paper_std:.2f}",
                     "scale": "paper" if r.comparable else scale,
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
                     "scale": "paper" if r18_paper else scale,
                     "verdict": verdicts.word(verdicts.Verdict(ok, ""), r18_paper, scale)})
    rows += _section5_rows(result, scale)
    paper_settings = not result.network_departures(result.config.overlap_model)
    for c in claims(result).itertuples():
        rows.append({"claim": c.claim, "network": result.config.overlap_model,
                     "source": c.source, "paper says": "holds", "this build": "",
                     "statistic": c.verdict.statistic or c.verdict.why,
                     "scale": "paper" if paper_settings else scale,
                     "verdict": verdicts.word(c.verdict, paper_settings, scale)})
    names = ", ".join(sorted({d.name for d in result.data.values()}))
    return [{**_card_columns(r, scale), "paper": "L23", "data": names,
             "seeds": len(result.config.seeds)} for r in rows]


def _card_columns(row: dict, scale: str) -> dict:
    """A row in ``scorecard.COLUMNS``: where it was checked."""
    where = row.pop("scale")
    checked = ("paper settings" if where == "paper" else
               "any scale (no training)" if where.startswith("any") else f"{scale} scale")
    return {**row, "checked at": checked}


def _section5_rows(result: LayerwiseResult, scale: str) -> list[dict]:
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
            "scale": "paper" if comparable else scale}
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


def _reinit_groups(result: LayerwiseResult, model: str) -> dict[str, tuple[str, list[str]]]:
    """The paper's layer groups (their CSV names) -> our tensors: the initial few
    convolutions (every conv before the first downsampling: the stem and the first stage),
    the output layer, the 1x1 convs."""
    net = models.build(model, result.data[model].input_shape, _classes(
        result.config.setting(model).dataset))
    shapes = {n: p.shape for n, p in net.named_parameters()}
    convs = [n for n in net.prune_rates if len(shapes[n]) == 4]
    first_down = next((i for i, n in enumerate(convs) if shapes[n][-2:] == (1, 1)), len(convs))
    initial = [n for n in convs[:first_down] if not n.startswith(("layer2", "layer3", "layer4"))]
    return {"initial_convs": ("the initial convs (the stem and the first stage)",
                              initial or convs[:1]),
            "fc": ("output layer (paper: the FC)", [net.output_layer]),
            "1x1conv": ("1x1 convs", [n for n in convs if shapes[n][-2:] == (1, 1)])}


def collapse_note(result: LayerwiseResult) -> str:
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


def claim_words(table: pd.DataFrame, scale: str, paper_settings: bool) -> list[str]:
    """Each claim's verdict in the book's words (for the page's legend)."""
    return [verdicts.word(v, paper_settings, scale) for v in table["verdict"]]


def describe_claims(table: pd.DataFrame, scale: str, paper_settings: bool) -> str:
    """Markdown: each claim with its verdict in words where it was reached, and the
    statistic behind it."""
    words = claim_words(table, scale, paper_settings)
    lines = [f"- **{w}**: {c.claim} ({c.source})."
             + (f" {c.verdict.statistic}." if c.verdict.statistic else "")
             for w, c in zip(words, table.itertuples())]
    where = ("at the paper's settings" if paper_settings else
             f"at {scale} scale: what these runs show, not a paper-scale result")
    return f"Checked {where}:\n\n" + "\n".join(lines)
