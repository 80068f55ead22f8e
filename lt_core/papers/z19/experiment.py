"""Z19's iterative pruning (Figures 1-4, S1-S5) on the one pruning loop (``loop.prune_loop``): every
network x arm x seed of the experiment is a run; the result reads the store."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from ... import config as config_mod
from ... import data as data_mod
from ... import departures as departures_mod
from ... import engine, models, view
from ... import result as result_mod
from ...config import Arm
from ...executor import RayExecutor
from ...executor import make as make_executor
from ...loop import DataInfo, Run, failed_runs, prune_loop
from ...store import RunStore
from . import claims
from . import departures as z19_departures
from .config import Experiment


@dataclass
class Result(result_mod.Result):
    """Z19's iterative pruning read back: ``runs`` has one row per run (key, model, seed,
    label: its arm in the figures' words, criterion, actions); ``summary`` and ``metrics``
    read the store."""

    VERDICT_FIELDS = z19_departures.PAPER_FIELDS

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per run and level (see RunStore.summary), labelled by network and arm."""
        return self._label(self.store.summary(list(self.runs["key"])))

    @cached_property
    def metrics(self) -> pd.DataFrame:
        return self._label(self.store.metrics(list(self.runs["key"])))

    def _label(self, frame: pd.DataFrame) -> pd.DataFrame:
        info = self.runs.set_index("key")[["model", "label"]]
        frame = frame.drop(columns="line").join(info, on="run").rename(columns={"label": "line"})
        return frame

    def head(self, scale: str) -> str:
        exp = self.config
        return (f"**Scale: {scale}.** {len(exp.pruning.arms)} arms x {len(exp.seeds)} seeds, "
                f"{exp.pruning.levels} pruning levels. **Device:** {self.device}.")

    def paragraphs(self) -> list[str]:
        """Per network one line of training settings and data."""
        lines = []
        for model in self.config.models:
            tr = self.config.train_for(model)
            d = self.data[model]
            lines.append(f"**{model}:** {tr.iterations:,} iterations per training (batch "
                         f"{tr.batch_size}, {tr.optimizer} lr {tr.lr:g}), evaluated every "
                         f"{tr.eval_every}. **Data:** {d.description}; sizes {d.sizes}.")
        return lines

    def failures(self) -> list[str]:
        """One line per run that failed (``engine.divergence``): from that level on it has no
        result, and every table, figure and score leaves it out."""
        return failed_runs(self.summary)

    def departures(self) -> list[departures_mod.Departure]:
        """How this result departs from the paper's settings; empty at paper scale."""
        return z19_departures.iterative(self.config, self.data_name_by_model)

    def claims(self) -> pd.DataFrame:
        """Every Z19 claim whose lines this experiment ran, judged (``claims.judged``)."""
        return claims.judged(self)

    def scorecard_rows(self, scale: str) -> list[dict]:
        return claims.scorecard_rows(self, scale)

    def report(self) -> str:
        """Plain text for the command line: every run's levels."""
        return self.summary.drop(columns=["run"]).to_string(index=False)

    def to_pack(self) -> dict:
        """What a pack carries of this result (``lt_core.view``); ``from_pack`` reads it."""
        return {"runs": view.frame_to(self.runs), "data": view.data_to(self.data),
                "device": self.device}

    def final_level_accuracy(self) -> pd.DataFrame:
        """Mean, min and max test accuracy at early stopping in the sparsest level reached."""
        s = self.summary[~self.summary["failed"]]
        last = s[s["level"] == s.groupby("model")["level"].transform("max")]
        return last.groupby(["model", "line"]).agg(
            percent_remaining=("percent_remaining", "mean"),
            mean=("test_acc_at_early_stop", "mean"), min=("test_acc_at_early_stop", "min"),
            max=("test_acc_at_early_stop", "max"), seeds=("seed", "count"),
        ).sort_values(["model", "mean"], ascending=[True, False])


def run_config(exp: Experiment, model: str, data_name: str, arm: Arm, seed: int) -> dict:
    """The canonical config of one run (``config.run_config``): the arm's criterion and
    actions, its selection only where not Z19's layerwise."""
    return config_mod.run_config("iterative_pruning", model, data_name, exp.train_for(model),
                                 seed, arm)


def from_pack(exp: Experiment, value: dict, store: RunStore) -> Result:
    """The result a pack carries (``Result.to_pack``), read from ``store``."""
    return Result(exp, view.frame_from(value["runs"]), view.data_from(value["data"]),
                  value["device"], store)


def run_iterative(exp: Experiment, progress: bool = True) -> Result:
    """Run (or resume) the experiment; finished levels in the store are never recomputed.

    With ``executor: ray`` the networks' loops run side by side, so that the populations of
    different networks train at once too."""
    device = engine.resolve_device(exp.device)
    store = RunStore(exp.store)
    ex = make_executor(exp.executor, exp.ray)

    def network(model_name: str) -> tuple[DataInfo, list[dict]]:
        data = data_mod.load(exp.dataset_for(model_name), exp.data.root, device,
                             **exp.data.options())
        model = models.build(model_name, data.input_shape, data.num_classes)
        pairs = [(arm, s) for arm in exp.pruning.arms for s in exp.seeds]
        runs = [Run(run_config(exp, model_name, data.name, arm, s), s, arm,
                    exp.train_for(model_name)) for arm, s in pairs]
        keys = prune_loop(model, data, runs, exp.pruning.levels, store, device, progress,
                          name=model_name, executor=ex)
        info = DataInfo(data.name, data.description, data.sizes(), data.input_shape)
        return info, [{"key": key, "model": model_name, "label": arm.label,
                       **dataclasses.asdict(arm), "seed": seed}
                      for key, (arm, seed) in zip(keys, pairs)]

    if isinstance(ex, RayExecutor) and len(exp.models) > 1:
        with ThreadPoolExecutor(len(exp.models)) as pool:
            done = list(pool.map(network, exp.models))
    else:
        done = [network(m) for m in exp.models]
    data_info = {m: info for m, (info, _) in zip(exp.models, done)}
    rows = [row for _, rs in done for row in rs]
    return Result(exp, pd.DataFrame(rows), data_info, str(device), store)


