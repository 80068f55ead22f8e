"""Planning: every training of an experiment is a ``loop.Run``; the plan's points say which
stored record answers which point of which figure."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn

from ... import config as config_mod
from ... import criteria, loop, models, schedule
from ... import data as data_mod
from ...config import Arm, Train
from ...store import RunStore
from .config import Decoupling, Study, phase_train
from .structured import filter_masks


@dataclass
class Find:
    study: Study
    value: float | None
    seed: int
    train: Train
    run: loop.Run
    key: str = ""
    lpr_from: float | None = None  # Fig 7: the value whose run gives the per-layer counts


class Plan:
    """The runs of one experiment and, per figure point, where its result is stored."""

    def __init__(self, cfg: Decoupling, data: data_mod.Dataset, model: nn.Module,
                 store: RunStore):
        self.cfg, self.data, self.model, self.store = cfg, data, model, store
        self.n_train = len(data.splits["train"][1])
        self.finds: list[Find] = []
        self.followers: list[loop.Run] = []  # random baselines and Fig 7's runs
        self.points: list[dict] = []  # study, pruning, find, eval, lpr_from, seed, level, key,
        # stored_level
        self._masks: dict[tuple[str, int], dict] = {}  # (find key, level) -> M^(level)
        iterative = [s for s in cfg.studies if not s.structured]
        for s in cfg.studies:
            for v in s.find:
                for seed in cfg.seeds:
                    self.finds.append(self._find(s, v, seed))
        by = {(f.study.name, f.value, f.seed): f for f in self.finds}
        for c in cfg.constrained:  # blue: bad value, good counts; orange: good value, bad counts
            s = cfg.study(c.study)
            for value, counts in ((c.bad, c.good), (c.good, c.bad)):
                for seed in cfg.seeds:
                    ref = by[(s.name, counts, seed)]
                    self.finds.append(self._find(s, value, seed, ref))
        for s in iterative:
            if not s.baselines:
                continue
            for v in (v for v in s.find if v in s.eval):
                for seed in cfg.seeds:
                    self._baselines(s, v, by[(s.name, v, seed)])

    # -- runs ---------------------------------------------------------------------------
    def _config(self, kind: str, train: Train, seed: int, arm: Arm | None = None, **extra
                ) -> dict:
        width = {"width": self.cfg.width} if self.cfg.width is not None else {}
        return config_mod.run_config(kind, self.cfg.model, self.data.name, train, seed, arm,
                                     **extra, **width)

    def _rewind(self, study: Study, train: Train) -> int:
        """Late rewinding's iteration k under this training's schedule."""
        if not study.rewind_epochs:
            return 0
        per_epoch = schedule.plan(train, self.n_train, self.data.name).per_epoch
        return max(1, round(study.rewind_epochs * per_epoch))  # a rewind point is past step 0

    def _run(self, config: dict, train: Train, seed: int, arm: Arm, **kw) -> loop.Run:
        # Learning rate and weight decay ride on the run, so that runs differing only in them
        # share a population (the loop groups runs by their Train config).
        shared = dataclasses.replace(train, lr=self.cfg.train.lr,
                                     weight_decay=self.cfg.train.weight_decay)
        return loop.Run(config, seed, arm, shared, lr=train.lr,
                           weight_decay=train.weight_decay, **kw)

    def _arm(self, criterion: str, selection: str, study: Study) -> Arm:
        # the rule's count for the ticket; a criterion where all tie (random): exact counts
        count = "exact" if criteria.get(criterion).all_tie else self.cfg.count
        return Arm(criterion, mask1_action="continue" if study.lr_rewinding else "rewind",
                   selection=selection, fraction=self.cfg.fraction, count=count,
                   ignore_output_layer=self.cfg.ignore_output_layer)

    def _find(self, study: Study, value: float | None, seed: int, ref: Find | None = None
              ) -> Find:
        train = phase_train(self.cfg, study, "find", value)
        arm = self._arm("magnitude", "reference" if ref else "global", study)
        extra = {}
        k = self._rewind(study, train)
        if k:
            extra["rewind_iteration"] = k
        if ref is not None:
            extra["lpr_from"] = ref.key
        config = self._config("h21_find", train, seed, arm, **extra)
        run = self._run(config, train, seed, arm, rewind_iteration=k,
                        reference=ref.key if ref else None)
        return Find(study, value, seed, train, run, self.store.key(config),
                     ref.value if ref else None)

    def _baselines(self, study: Study, value: float | None, find: Find) -> None:
        train = phase_train(self.cfg, study, "eval", value)
        k = self._rewind(study, train)
        # Both keep as many weights as the ticket at every level (global random: in all,
        # preserve LPR: per layer), each from its own random stream ("stream": since
        # preserve LPR stopped sharing global random's, which made one mask a subset of the
        # other within a layer).
        for baseline, selection in (("global_random", "reference_total"),
                                    ("preserve_lpr", "reference")):
            arm = self._arm("random", selection, study)
            extra = {**({"rewind_iteration": k} if k else {}), "lpr_from": find.key,
                     "stream": "own"}
            config = self._config(f"h21_{baseline}", train, find.seed, arm, **extra)
            self.followers.append(self._run(config, train, find.seed, arm, rewind_iteration=k,
                                            reference=find.key))
            key = self.store.key(config)
            for level in range(self.cfg.levels + 1):
                self._point(study, baseline, find, value, level, key, level)

    def _point(self, study: Study, pruning: str, find: Find, eval_value: float | None,
               level: int, key: str | None, stored_level: int | None, **extra) -> None:
        self.points.append({"study": study.name, "pruning": pruning, "find": find.value,
                            "eval": eval_value, "lpr_from": find.lpr_from, "seed": find.seed,
                            "level": level, "key": key, "stored_level": stored_level, **extra})

    def iterative_runs(self) -> list[loop.Run]:
        runs = [f.run for f in self.finds if not f.study.structured] + self.followers
        return list({self.store.key(r.config): r for r in runs}.values())

    def structured_runs(self) -> list[loop.Run]:
        runs = [f.run for f in self.finds if f.study.structured]
        return list({self.store.key(r.config): r for r in runs}.values())

    # -- eval runs ----------------------------------------------------------------------
    def eval_runs(self, level: int) -> list[loop.Run]:
        """The eval runs of masks M^(level) (the finds' masks must be stored); the figure
        points they answer are recorded, coupled pairs pointing at the find's own training."""
        runs = {}
        for f in self.finds:
            study = f.study
            if level > (len(study.filters) if study.structured else self.cfg.levels):
                continue
            values = study.eval
            if f.lpr_from is not None:  # Fig 7: one H_eval
                values = [c.eval for c in self.cfg.constrained if c.study == study.name
                          and (f.value, f.lpr_from) in ((c.bad, c.good), (c.good, c.bad))]
            extra = {"filters_pruned": study.filters[level - 1] if level else 0.0} \
                if study.structured else {}
            why = self._no_mask(f, level)
            if why is not None:  # the find run has no mask M^(level): nothing to train
                for e in values:
                    self._point(study, "lottery", f, e, level, None, None, skipped=why, **extra)
                continue
            mask = None
            if study.structured and level:
                mask, extra = self._filter_mask(f, study.filters[level - 1])
            for e in values:
                run, key, stored_level = self._eval(f, e, level, mask)
                if run is not None:
                    runs[key] = run
                self._point(study, "lottery", f, e, level, key, stored_level, **extra)
        return list(runs.values())

    def _no_mask(self, f: Find, level: int) -> str | None:
        """Why find run ``f`` has no usable mask M^(level) (None if it has one): it diverged
        (or stopped) before ``level``; a structured mask needs the dense level 0; late
        rewinding needs a rewind point that did not diverge."""
        stop = loop.stop_reason(self.store, f.key)
        if stop is None:
            return None
        at, why = stop
        if f.study.structured:
            return f"the find run {why}" if level and at == 0 else None
        if at < level or (f.study.rewind_epochs and at == 0 and "rewind point" in why):
            return f"the find run {why}"
        return None

    def _eval(self, f: Find, e: float | None, level: int, mask: dict | None
              ) -> tuple[loop.Run | None, str, int]:
        """(run to train or None, key, level) of find run ``f``'s mask at ``level`` trained
        under H_eval = ``e`` (``mask``: a structured one; else read from the store)."""
        study = f.study
        train = phase_train(self.cfg, study, "eval", e)
        k = self._rewind(study, train)
        start_from = None
        if k:  # late rewinding: from the find run's state at its own iteration k
            point = loop.rewind_point_config(f.run, self.data.name)
            start_from = [self.store.key(point), "rewind_point", 0]
        elif study.lr_rewinding and level > 0:  # the find run's trained weights, masked
            start_from = [f.key, "trained", level - 1]
        mask_from = "dense" if level == 0 else [f.key, level] + (
            [study.filters[level - 1]] if study.structured else [])
        # The same training as one a find run did (coupled pairs): read that one.
        if level == 0 and start_from is None:  # all weights from the init: any such find run
            same = [g for g in self.finds if g.lpr_from is None and not g.study.rewind_epochs]
        else:  # the find run's own training of this mask (a structured mask never trained)
            same = [] if study.structured else [f]
        for g in same:
            if g.train == train and g.seed == f.seed:
                return None, g.key, level
        config = self._config("h21_eval", train, f.seed, mask=mask_from,
                              **({"start": start_from} if start_from else {}),
                              **({"rewind_iteration": k} if k else {}))
        key = self.store.key(config)
        if self.store.has_level(key, 0):
            return None, key, 0
        if level and mask is None:
            mask = self._mask(f.key, level)
        start = None
        if start_from is not None:
            rec = self.store.tensors(start_from[0], start_from[2])
            start = rec["state"] if start_from[1] == "rewind_point" else rec["next_start"]
        arm = self._arm("magnitude", "global", study)
        return (self._run(config, train, f.seed, arm, start_mask=mask, start=start,
                          rewind_iteration=k), key, 0)

    def _mask(self, key: str, level: int) -> dict:
        """M^(level) of a find run, read once for all its eval values."""
        if (key, level) not in self._masks:
            self._masks[(key, level)] = self.store.masks(key, level - 1)
        return self._masks[(key, level)]

    def _filter_mask(self, f: Find, fraction: float) -> tuple[dict, dict]:
        final = self.store.tensors(f.key, 0)["final"]
        mask = filter_masks(self.model, final, fraction)
        kept = sum(int(mask[n].sum()) for n in self.model.prune_rates)
        total = models.count_prunable(self.model)
        return mask, {"percent_remaining": 100.0 * kept / total, "filters_pruned": fraction}
