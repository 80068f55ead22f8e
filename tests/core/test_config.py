import dataclasses
import re
from pathlib import Path

import pytest

from lt_core import config, experiments, scales
from lt_core.config import ConfigError
from lt_core.papers import z19

PARAMS = sorted(Path(__file__).resolve().parents[2].glob("params/*/*.yaml"))


@pytest.mark.parametrize("path", PARAMS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_params_file_of_every_scale_loads_as_its_experiment(path):
    """timm-style: a new params file is tested without a new test; at paper scale also its
    smoke-scale shrink."""
    values = config.read_yaml(path)
    name, cfg = experiments.load(values)
    assert name == values["experiment"]  # every file names its experiment
    if path.parent.name == "paper":
        assert experiments.load(scales.smoke(values))[0] == name


def test_paper_settings_resolve_per_network():
    paper = experiments.config("params/paper/01_mask_criteria.yaml")
    assert paper.models == ["fc", "conv2", "conv4", "conv6"] and len(paper.pruning.arms) == 11
    # Unset training fields resolve to the paper's per-network settings (paper_specs.md 0.3).
    assert paper.train_for("fc").iterations == 50_380 and paper.train_for("fc").lr == 1.2e-3
    assert paper.train_for("conv6").iterations == 30_000 and paper.train_for("conv2").lr == 2e-4
    assert paper.dataset_for("conv4") == "cifar10" and paper.dataset_for("fc") == "mnist"


def test_arm_labels_name_what_differs_from_the_lottery_ticket():
    assert config.Arm("random").label == "random"
    assert config.Arm("large_final", "reinit").label == "large_final, reinit"
    assert config.Arm("large_final", mask0_action="init").label == "large_final, mask0 init"


@pytest.mark.parametrize("params, message", [
    ({"modle": "fc"}, "unknown field 'modle'; allowed: models, data,"),
    ({"train": {"optimiser": "adam"}}, "unknown field 'train.optimiser'"),
    ({"train": {"optimizer": "adma"}}, "field 'train.optimizer' must be one of adam, sgd"),
    ({"pruning": {"arms": [{"criterion": "large_finale"}]}},
     "field 'pruning.arms[0].criterion': unknown criterion 'large_finale'; choose one of large_final,"),
    ({"pruning": {"arms": [{"mask1_action": "rewnd"}]}},
     "field 'pruning.arms[0].mask1_action' must be one of rewind, reinit,"),
    ({"pruning": {"arms": [{"mask0_action": "init_or_0"}]}},
     "field 'pruning.arms[0].mask0_action' must be one of zero, init, init_or_zero,"),
    ({"train": {"lr": "fast"}}, "field 'train.lr' must be a number"),
    ({"train": {"iterations": 0}}, "train.iterations must be > 0"),
    ({"seeds": [1, 1]}, "seeds must be distinct"),
    ({"models": ["resnet"]}, "models: unknown network 'resnet'; choose from fc, conv2, conv4, conv6,"),
    ({"models": [5]}, "field 'models[0]' must be a string"),
    ({"train": {"lr": float("nan")}}, "field 'train.lr' must be a finite number (got nan)"),
    ({"train": {"lr": float("inf")}}, "field 'train.lr' must be a finite number (got inf)"),
    ({"train": {"momentum": -0.9}}, "train.momentum must be >= 0 (got -0.9)"),
    # the one data section, for every experiment
    ({"data": {"crop_padding": -1}}, "data.crop_padding must be >= 0 (got -1)"),
    ({"data": {"normalize": "imagenet"}}, "data.normalize: imagenet needs 3-channel images"),
    ({"experiment": "h21_decoupling", "model": "lenet_300_100", "a9": {
        "model": "resnet20", "data": {"crop_padding": -2}}},
     "a9.data.crop_padding must be >= 0 (got -2)"),
    ({"experiment": "h21_decoupling", "model": "lenet_300_100", "width": 8},
     "model: lenet_300_100 has no width option"),
    ({"experiment": "z19_supermasks", "data": {"dataset": "tiny_imagenet"}},
     "data.dataset: supermasks train on Z19's data (mnist, cifar10)"),
    ({"experiment": "z19_supermasks", "models": ["conv4"], "data": {"validation": "none"}},
     "data.validation: none leaves no validation split for the early stopping of conv4's"),
])
def test_invalid_field_is_named_in_one_line(params, message):
    with pytest.raises(ConfigError) as err:
        experiments.config(params)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_error_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: {batch_size: 60.5}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: field 'train.batch_size' must be an integer"):
        experiments.config(path)


def test_content_hash_is_pinned():
    # Changing this value silently orphans every stored run: bump SCHEMA_VERSION instead.
    assert config.content_hash({"a": 1, "b": [1, 2]}) == config.content_hash({"b": [1, 2], "a": 1})
    assert config.content_hash({"a": 1, "b": [1, 2]}) == (
        "ceb43bcbecb9110c6698ac9fda3aad598404f207121526617c22d0f36f5b59c2"
    )


def test_numbers_as_people_write_them(tmp_path):
    # YAML 1.1 reads 1e-3 and 1e6 (no dot) as strings; .nan and .inf as floats.
    path = tmp_path / "p.yaml"
    path.write_text("train: {lr: 1e-3, iterations: 5e4, batch_size: 1e2, weight_decay: 1E-4}\n")
    train = experiments.config(path).train
    assert (train.lr, train.iterations, train.batch_size, train.weight_decay) == (
        0.001, 50_000, 100, 0.0001)
    assert type(train.iterations) is int
    # The same number however written: the same config, so the same run key.
    assert train == experiments.config({"train": {"lr": 0.001, "iterations": 50_000, "batch_size": 100,
                                           "weight_decay": 0.0001}}).train
    path.write_text("train: {lr: 1e6}\n")
    assert experiments.config(path).train.lr == 1e6
    for text, message in [("lr: .nan", "must be a finite number (got nan)"),
                          ("lr: .inf", "must be a finite number (got inf)"),
                          ("lr: -.inf", "must be a finite number (got -inf)"),
                          ("batch_size: 6.05e1", "must be an integer (got '6.05e1')")]:
        path.write_text(f"train: {{{text}}}\n")
        with pytest.raises(ConfigError, match=re.escape(message)):
            experiments.config(path)
def test_learned_length_reads_z19s_numbers_as_epochs_or_iterations():
    epochs = z19.config.Learned()  # the default: Z19's code, --num_epochs at batch 250
    assert [epochs.train_for(m, n).iterations for m, n in (
        ("fc", 55_000), ("conv2", 45_000), ("conv4", 45_000), ("conv6", 45_000))] == [
        440_000, 360_000, 180_000, 144_000]
    assert epochs.train_for("fc", 3_500).iterations == 2000 * 14  # an epoch of this data
    iterations = z19.config.Learned(length_unit="iterations")  # Z19's text
    assert iterations.train_for("conv6", 45_000).iterations == 800
    assert z19.config.Learned(iterations=1234).train_for("fc", 55_000).iterations == 1234
    # Early stopping where the paper used it (S6.2: Conv4 and Conv6 overfit), unless set.
    assert [epochs.early_stop_for(m) for m in ("fc", "conv2", "conv4", "conv6")] == [
        False, False, True, True]
    assert z19.config.Learned(early_stop=True).early_stop_for("fc")


def test_boolean_field_is_checked():
    with pytest.raises(ConfigError, match="field 'learned.early_stop' must be true or false"):
        config.load({"learned": {"early_stop": "yes"}}, z19.config.Supermasks)


def test_every_experiments_result_is_one_result_with_its_own_answers():
    from lt_core.papers import h21, l23, z19
    from lt_core.result import Result

    results = [z19.Result, z19.supermasks.SupermasksResult, h21.Result, l23.LayerwiseResult]
    assert len(results) == len(experiments.registry())  # one result class per experiment
    own = ["departures", "failures", "claims", "scorecard_rows", "report", "head"]
    shared = ["describe", "checked_at", "paper_settings", "info", "env"]
    for cls in results:
        assert issubclass(cls, Result)
        assert [f.name for f in dataclasses.fields(cls)][:5] == [
            "config", "runs", "data", "device", "store"]
        for q in own:  # each paper answers these itself
            assert getattr(cls, q) is not getattr(Result, q), f"{cls.__qualname__}.{q}"
        for q in shared:  # and these once, for all
            assert getattr(cls, q) is getattr(Result, q), f"{cls.__qualname__}.{q}"


def test_a_page_that_only_reads_the_store_runs_nothing():
    with pytest.raises(ConfigError, match="'scorecard' is a page that reads the store"):
        experiments.run({"experiment": "scorecard"})
