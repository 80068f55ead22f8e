"""A page says "Paper scale" only when its whole resolved configuration is the paper's: every
field changed in turn must take that away (issue 12, item 3)."""

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lt_core import config, experiments, loop
from lt_core.papers import z19
from lt_core.store import RunStore

PAPER = Path(__file__).resolve().parents[2] / "params" / "paper"
SIZES = {"fc": 55_000, "conv2": 45_000, "conv4": 45_000, "conv6": 45_000}
DATA = {"fc": "mnist", "conv2": "cifar10", "conv4": "cifar10", "conv6": "cifar10"}


def paper_values(name):
    return yaml.safe_load((PAPER / f"{name}.yaml").read_text())


def result_for(exp, data_names=None, tmp="runs-unused"):
    """A Result as run_iterative returns it, without training: the data it would have used."""
    data = {m: loop.DataInfo((data_names or DATA)[m], "data", {"train": SIZES[m]}, (1, 1, 1))
            for m in exp.models}
    result = z19.experiment.Result(exp, pd.DataFrame(columns=["key", "model", "seed"]), data,
                                   "cpu", RunStore(tmp))
    result.summary = pd.DataFrame({"failed": pd.Series(dtype=bool)})  # no runs, none failed
    return result


def changed(values, path, value):
    out = copy.deepcopy(values)
    *parents, leaf = path.split(".")
    node = out
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = value(node.get(leaf)) if callable(value) else value
    return out


ITERATIVE_CHANGES = [
    ("train.batch_size", 50),
    ("train.eval_every", 50),
    ("train.optimizer", "sgd"),
    ("train.weight_decay", 1e-4),
    ("train.lr", 1e-3),
    ("train.iterations", 1000),
    ("pruning.levels", 10),
    ("pruning.arms", lambda arms: arms[:-1]),
    ("seeds", [0, 1, 2]),
]


@pytest.mark.parametrize("name", ["01_mask_criteria", "02_mask1_actions", "03_mask0_actions"])
def test_iterative_pages_say_paper_scale_only_at_the_papers_settings(name):
    values = paper_values(name)
    assert "**Paper scale:**" in result_for(experiments.config(values)).describe("paper")
    for path, value in ITERATIVE_CHANGES:
        page = result_for(experiments.config(changed(values, path, value))).describe("paper")
        assert "Paper scale" not in page, path
    embedded = result_for(experiments.config(values), {**DATA, "fc": "mnist-embedded-5k"})
    assert "Paper scale" not in embedded.describe("paper")


SUPERMASK_CHANGES = [
    ("learned.batch_size", 200),
    ("learned.samples", 5),
    ("learned.init_values", [-2.0, 0.0, 2.0]),
    ("learned.lr", 10.0),
    ("learned.iterations", 2000),
    ("learned.length_unit", "iterations"),
    ("learned.early_stop", True),
    ("learned.eval_every", 500),
    ("max_power", 12),
    ("criteria", ["large_final", "large_final_same_sign"]),
    ("dense.batch_size", 50),
    ("dense.eval_every", 50),
    ("dense.optimizer", "sgd"),
    ("seeds", [0]),
]


def test_supermask_page_says_paper_scale_only_at_the_papers_settings():
    values = paper_values("04_supermasks")

    def page(v):
        cfg = config.load(v, z19.config.Supermasks)
        no_learned = pd.DataFrame({"failed": pd.Series(dtype=bool)})
        dense = result_for(cfg.dense_experiment())
        return z19.supermasks.SupermasksResult.of(cfg, None, no_learned, dense).describe("paper")

    assert "**Paper scale:**" in page(values)
    for path, value in SUPERMASK_CHANGES:
        assert "Paper scale" not in page(changed(values, path, value)), path
