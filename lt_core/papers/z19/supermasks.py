"""Supermasks (Z19 §5; paper_specs.md 4a, 4b): masks that alone make an untrained network work.

* **Heuristic**: a one-shot mask of the dense run for every criterion and prune power
  p = 0..24 (per-layer fraction 1 - (1 - q_l)^p), evaluated with no training on (i) the
  initial weights and (ii) the signed constant sigma_l * sign(w_i).
* **Learned**: masks trained by gradient descent on the frozen initial weights
  (``lt_core.papers.z19.learned``).

This module runs both and holds the result they make together (Table S2, Figure 4/S8).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from ... import data as data_mod
from ... import departures as departures_mod
from ... import engine, masks, models, seeds, view
from ... import result as result_mod
from ...provenance import environment
from ...store import RunStore
from . import departures as z19_departures
from . import experiment, table_s2
from . import learned as learned_mod
from .config import Supermasks


def signed_constant(w: torch.Tensor) -> torch.Tensor:
    """sigma_l * sign(w): sigma is the population std over all entries of the layer."""
    return w.std(unbiased=False) * torch.sign(w)


def masked_network(init: dict[str, torch.Tensor], mask: dict[str, torch.Tensor],
                   weights: str) -> dict[str, torch.Tensor]:
    """An untrained network's parameters: kernels (initial or signed constant) times the mask,
    biases as initialised (0)."""
    out = dict(init)
    for name, m in mask.items():
        w = init[name] if weights == "initial" else signed_constant(init[name])
        out[name] = w * m
    return out


# ----------------------------------------------------------------------------------------------
# The experiment: heuristic and learned supermasks in one run


@dataclass
class SupermasksResult(result_mod.Result):
    """Z19 §5's experiment: the heuristic masks' table, the learned masks' table and the
    dense runs both come from (its runs, data, device and store are theirs)."""

    heuristic: pd.DataFrame  # ``heuristic``'s table
    learned: pd.DataFrame  # ``learned``'s table
    dense: experiment.Result

    @classmethod
    def of(cls, cfg: Supermasks, heuristic: pd.DataFrame, learned: pd.DataFrame,
           dense: experiment.Result) -> SupermasksResult:
        return cls(cfg, dense.runs, dense.data, dense.device, dense.store, heuristic, learned,
                   dense)

    def head(self, scale: str) -> str:
        cfg = self.config
        return (f"**Scale: {scale}.** {len(cfg.seeds)} seeds; heuristic masks for "
                f"{len(cfg.criteria)} criteria at prune powers 0..{cfg.max_power}. "
                f"**Device:** {self.device}.")

    def paragraphs(self) -> list[str]:
        cfg, lines = self.config, [f"Dense run, {ln}" for ln in self.dense.paragraphs()]
        for model in cfg.models:
            tr = cfg.learned.train_for(model, self.data[model].sizes["train"])
            stop = ("the early-stopping iteration (minimum validation loss, evaluated every "
                    f"{tr.eval_every})" if cfg.learned.early_stop_for(model)
                    else "the end of training")
            lines.append(f"**{model} learned supermasks:** c in {cfg.learned.init_values}, "
                         f"{tr.iterations:,} iterations of SGD (momentum 0.9, lr {tr.lr:g}, "
                         f"batch {tr.batch_size}); accuracy at {stop} = mean over "
                         f"{cfg.learned.samples} passes over the test set, each batch of 2,500 "
                         "with a fresh mask sample.")
        return lines

    def failures(self) -> list[str]:
        """One line per failed run: dense runs (``Result.failures``), learned supermasks."""
        return self.dense.failures() + learned_mod.failed_learned(self.learned)

    def departures(self) -> list[departures_mod.Departure]:
        """How this supermask experiment departs from the paper's settings; empty at paper
        scale."""
        sizes = {model: d.sizes["train"] for model, d in self.data.items()}
        return z19_departures.supermasks(self.config, self.data_name_by_model, sizes)

    def claims(self, scale: str = "this run's") -> pd.DataFrame:
        """Table S2 and the §5 ordering: the paper's numbers next to this run's, with their
        verdicts (the scorecard's rows, so that a page shows what the scorecard says)."""
        return pd.DataFrame(self.scorecard_rows(scale))

    def scorecard_rows(self, scale: str) -> list[dict]:
        return table_s2.supermask_rows(self, scale)

    def conclusions(self, scale: str) -> str:
        """What this run shows, in the scorecard's verdicts (``table_s2.conclusions``)."""
        return table_s2.conclusions(self.scorecard_rows(scale), self.heuristic, self.learned)

    def report(self) -> str:
        return self.claims()[["network", "claim", "paper says", "this build", "verdict"]
                             ].to_string(index=False)

    def to_pack(self) -> dict:
        """What a pack carries of this result (``lt_core.view``): the dense runs' view, the
        heuristic runs (their tables are in the store) and the learned table."""
        runs = self.heuristic[["model", "run"]].drop_duplicates()
        return {"dense": self.dense.to_pack(), "heuristic_runs": runs.values.tolist(),
                "learned": view.frame_to(self.learned)}


def from_pack(cfg: Supermasks, value: dict, store: RunStore) -> SupermasksResult:
    """The result a pack carries (``SupermasksResult.to_pack``), read from ``store``."""
    rows = [row for model, key in value["heuristic_runs"]
            for row in _heuristic_rows(store, model, key)]
    dense = experiment.from_pack(cfg.dense_experiment(), value["dense"], store)
    return SupermasksResult.of(cfg, pd.DataFrame(rows, columns=HEURISTIC_COLUMNS),
                            view.frame_from(value["learned"]), dense)


def run(cfg: Supermasks, progress: bool = True) -> SupermasksResult:
    """Run (or resume) the dense runs, the heuristic masks and the learned masks."""
    table, dense = heuristic(cfg, progress)
    return SupermasksResult.of(cfg, table, learned_mod.learned(cfg, progress), dense)


# ----------------------------------------------------------------------------------------------
# Heuristic supermasks


def heuristic(cfg: Supermasks, progress: bool = True) -> tuple[pd.DataFrame, experiment.Result]:
    """Test accuracy of every (criterion, prune power, weights) one-shot mask, untrained.

    Returns the table (model, run: its key in the store, seed, criterion, power,
    percent_remaining, weights, test_acc) and the dense runs it came from (for the trained
    baseline).
    """
    dense = experiment.run_iterative(cfg.dense_experiment(), progress)
    device = engine.resolve_device(cfg.device)
    store = RunStore(cfg.store)
    rows = []
    for model_name in cfg.models:
        data, net = learned_mod.data_and_network(cfg, model_name, device)
        runs = dense.runs[dense.runs["model"] == model_name].drop_duplicates("seed")
        for dense_key, seed in zip(runs["key"], runs["seed"].astype(int)):
            if store.level(dense_key, 0).failed:  # Result.failures names it
                continue
            key = store.prepare({"kind": "heuristic_supermask", "dense_run": dense_key,
                                 "criteria": cfg.criteria, "max_power": cfg.max_power})
            if not store.has_level(key, 0):  # computed once; a finished table is reused
                with store.claim([key]):
                    if not store.has_level(key, 0):  # unless another process just made it
                        final = store.tensors(dense_key, 0)["final"]  # read only here
                        table = _heuristic_table(net, models.initial_state(net, seed), final,
                                                 seed, cfg, data, device)
                        store.save_level(key, 0, {"table": table, "env": environment(device)})
            rows += _heuristic_rows(store, model_name, key)
    # no rows if every dense run diverged
    return pd.DataFrame(rows, columns=HEURISTIC_COLUMNS), dense


HEURISTIC_COLUMNS = ["model", "run", "seed", "criterion", "power", "percent_remaining",
                     "weights", "test_acc"]


def _heuristic_rows(store: RunStore, model: str, key: str) -> list[dict]:
    """A heuristic-supermask run's table (stored with its level 0), one row per mask."""
    return [{"model": model, "run": key, **r} for r in store.level(key, 0).table]


def _heuristic_table(net: nn.Module, init: dict, final: dict, seed: int, cfg: Supermasks,
                     data: data_mod.Dataset, device: torch.device) -> list[dict]:
    rows = []
    for criterion in cfg.criteria:
        candidates, meta = [], []
        for power in range(cfg.max_power + 1):
            mask = heuristic_mask(criterion, init, final, net.prune_rates, seed, power)
            for weights in ("initial", "signed_constant"):
                candidates.append(masked_network(init, mask, weights))
                meta.append({"seed": seed, "criterion": criterion, "power": power,
                             "percent_remaining": 100.0 * masks.density(mask),
                             "weights": weights})
        accs = engine.evaluate(net, candidates, data, "test", device)
        rows += [{**m, "test_acc": float(a)} for m, a in zip(meta, accs)]
    return rows


def heuristic_mask(criterion: str, init: dict, final: dict, rates: dict, seed: int,
                   power: int) -> dict[str, torch.Tensor]:
    """The one-shot mask of one criterion at one prune power (seeded tie-break): the mask a
    heuristic supermask is evaluated with, and the one ``maskfile.export`` writes."""
    ones = {n: torch.ones_like(init[n]) for n in rates}
    gen = seeds.generator(seed, "heuristic", criterion, power)
    return masks.next_masks(criterion, init, final, ones, rates, gen, power)
