"""The smoke scale: the paper's params shrunk by one function (``scales.smoke``) on synthetic
data in the canonical file layouts, so that every code path of the paper scale runs in CI:
every network, dataset, study, variant, measure and section. Its numbers mean nothing."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import PINNED_KEYS, run_keys

from lt_core import config, data, experiments, loop, models, notebooks, scales
from lt_core.data import DataError
from lt_core.papers import h21

REPO = Path(__file__).resolve().parents[2]
PAPER = sorted(p.stem for p in (REPO / "params" / "paper").glob("*.yaml"))


@pytest.mark.parametrize("name", PAPER)
def test_smoke_keeps_everything_but_sizes(name, smoke_data):
    paper = config.read_yaml(REPO / "params" / "paper" / f"{name}.yaml")
    smoke = scales.smoke(paper, str(smoke_data))
    experiment = experiments.experiment_of(paper)
    assert experiments.experiment_of(smoke) == experiment
    experiments.load(smoke)  # a valid config
    for key in ("models", "model", "measures"):
        assert smoke.get(key) == paper.get(key)
    if experiment in experiments.READERS:
        return
    assert smoke["seeds"] == paper["seeds"][:1]
    assert smoke["data"]["root"] == str(smoke_data)
    if experiment == "z19_iterative":
        assert smoke["pruning"]["arms"] == paper["pruning"]["arms"]
        assert smoke["pruning"]["levels"] == 2
    if experiment == "z19_supermasks":
        assert smoke["max_power"] == 2
        assert smoke["learned"]["init_values"] == paper["learned"]["init_values"][:2]
    if experiment == "h21_decoupling":
        for s, p in zip(smoke["studies"], paper["studies"], strict=True):
            assert s["name"] == p["name"] and s["vary"] == p["vary"]
            assert len(s["find"]) == min(2, len(p["find"]))
            assert bool(s.get("filters")) == bool(p.get("filters"))
            assert bool(s.get("rewind_epochs")) == bool(p.get("rewind_epochs"))
            assert s.get("lr_rewinding") == p.get("lr_rewinding")
        assert len(smoke["constrained"]) == len(paper["constrained"])
        assert smoke["a9"]["model"] == paper["a9"]["model"]  # A9 on ResNet-18 too
        assert smoke["levels"] == smoke["a9"]["levels"] == 2
    if experiment == "l23_layerwise":
        assert smoke["overlap"]["model"] == paper["overlap"]["model"]
        assert smoke["levels"] == smoke["overlap"]["level"] == 2


def test_smoke_lengths_keep_every_schedule_feature():
    """Milestones, warmup, truncation and late rewinding survive the shrink: each is at least
    one iteration and inside the shortened schedule."""
    from lt_core import schedule

    cfg = h21.load(scales.smoke(config.read_yaml(REPO / "params/paper/05_decoupling.yaml")))
    n = data.smoke.TRAIN
    for s in cfg.studies:
        for side in ("find", "eval"):
            for v in getattr(s, side):
                p = schedule.plan(h21.phase_train(cfg, s, side, v), n)
                assert len(p.milestones) == 2 and 0 < p.milestones[0] < p.milestones[1] < p.total
                if s.name == "warmup":
                    assert p.warmup >= 1
                if s.name.startswith("early_pruning") and side == "find" and v is not None:
                    assert 1 <= p.stop < p.total
        if s.rewind_epochs:
            assert s.rewind_epochs * n / cfg.train.batch_size < 1  # levels up to 1 iteration


def test_smoke_data_go_through_the_real_loaders(smoke_data):
    for name, shape in (("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32)),
                        ("tiny_imagenet", (3, 64, 64))):
        ds = data.load(name, smoke_data, validation="z19")
        assert ds.input_shape == shape and ds.name.endswith("-smoke")
        assert "synthetic" in ds.description and "mean nothing" in ds.description
        assert ds.sizes()["val"] == data.smoke.VAL
    assert data.load("tiny_imagenet", smoke_data).num_classes == 200


def test_a_damaged_smoke_file_fails_its_checksum(tmp_path):
    root = data.smoke.write(tmp_path / "d")
    images = root / "mnist" / "train-images-idx3-ubyte.gz"
    import gzip

    raw = bytearray(gzip.decompress(images.read_bytes()))
    raw[-1] ^= 0xFF
    images.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="fails its checksum"):
        data.load("mnist", root)


def test_smoke_data_of_another_version_are_refused_or_replaced_in_the_cache(tmp_path,
                                                                          monkeypatch):
    """A copy written with other sizes (an older lt_core wrote 25 training images, fewer than
    a shrunk batch of 512): an error naming the fix for a folder the user gave, written
    again in lt_core's own cache."""
    import json

    from lt_core import scales

    root = data.smoke.write(tmp_path / "cache" / "smoke-data")
    marker = root / data.smoke.MARKER
    marker.write_text(json.dumps({**json.loads(marker.read_text()), "version": 1, "train": 25}))
    with pytest.raises(DataError, match="another version of lt_core; delete the folder"):
        data.smoke.write(root)
    monkeypatch.delenv("LT_DATA", raising=False)
    monkeypatch.setenv("LT_CACHE", str(tmp_path / "cache"))
    assert scales.smoke_data_root() == root
    assert json.loads(marker.read_text())["train"] == data.smoke.TRAIN


@pytest.mark.parametrize("model, width", [("resnet20", 4), ("vgg16", 8)])
def test_structured_pruning_on_batchnorm_networks_end_to_end(model, width, smoke_data,
                                                            tmp_path):
    """H21 Fig 5 on ResNet-20 and VGG-16: the eval run's mask covers the removed filters'
    BatchNorm scale and shift, which stay 0 (frozen) through training; percent remaining
    counts the prunable weights only."""
    cfg = h21.load({
        "model": model, "width": width, "store": str(tmp_path), "seeds": [0], "levels": 0,
        "lpr_levels": [0],
        "data": {"root": str(smoke_data), "dataset": "cifar10", "validation": "none"},
        "train": {"optimizer": "sgd", "lr": 0.05, "batch_size": 8, "iterations": 2,
                  "last_batch": "keep", "eval_every": 2, "divergence": "non_finite"},
        "studies": [{"name": "structured_lr", "vary": "lr", "find": [0.05], "eval": [0.1],
                     "filters": [0.3], "baselines": False}]})
    result = h21.run(cfg, progress=False)
    point = result.points[result.points["level"] == 1].iloc[0]
    key, level = point["key"], int(point["stored_level"])
    final, next_mask = result.store.tensors(key, level)["final"], result.store.masks(key, level)
    net = models.build(model, (3, 32, 32), width=width)
    find = result.finds["key"].iloc[0]
    mask = h21.filter_masks(net, result.store.tensors(find, 0)["final"], 0.3)
    units = h21.unit_layers(net)
    removed = 0
    for layer, bn in units.items():
        gone = mask[layer].flatten(1).sum(1) == 0
        removed += int(gone.sum())
        for part in ("weight", "bias"):  # masked with the filter, frozen at 0 in training
            assert torch.equal(mask[f"{bn}.{part}"], (~gone).float())
            assert (final[f"{bn}.{part}"][gone] == 0).all()
            # carried over to the next mask as it was: the rule prunes prunable tensors only
            assert torch.equal(next_mask[f"{bn}.{part}"], (~gone).float())
        assert (final[layer][gone] == 0).all()
    assert removed == int(0.3 * sum(net.get_parameter(n).shape[0] for n in units))
    kept = sum(int(mask[n].sum()) for n in net.prune_rates)
    assert result.store.level(key, level).percent_remaining == pytest.approx(100 * kept / models.count_prunable(net))
    acc = result.accuracy
    assert acc[acc["level"] == 1]["percent_remaining"].iloc[0] == pytest.approx(
        result.store.level(key, level).percent_remaining)


def test_a9_departures_are_against_its_own_paper_settings():
    from lt_core.papers.h21.experiment import departures, paper_config

    paper = paper_config()
    a9 = loop.DataInfo("tiny-imagenet+noval+imagenetnorm+cropflip4", "", {}, (3, 64, 64))
    assert departures(paper.a9, a9, a9=True) == []
    assert departures(paper.a9, a9, a9=False) != []  # ResNet-20's settings are not A9's
    main = loop.DataInfo("cifar10+noval+norm+cropflip4", "", {}, (3, 32, 32))
    assert departures(paper, main) == []
    jpeg = loop.DataInfo("cifar10-jpg+noval+norm+cropflip4", "", {}, (3, 32, 32))
    assert [str(d) for d in departures(paper, jpeg)] == ["data cifar10-jpg instead of cifar10"]


def test_every_notebook_executes_at_smoke_scale_and_run_reaches_every_experiment(
        smoke_data, tmp_path, monkeypatch):
    """Every notebook through papermill at smoke scale; then ``run --scale smoke`` on every
    paper params file exits 0 reading the same store (nothing is trained twice)."""
    monkeypatch.setenv("LT_DATA", str(smoke_data))
    store = tmp_path / "runs"
    failures = notebooks.execute("smoke", store=str(store), out_dir=tmp_path)
    assert failures == []
    assert run_keys(store) == PINNED_KEYS["smoke"]  # see test_notebooks
    for name in PAPER:
        values = config.read_yaml(REPO / "params" / "paper" / f"{name}.yaml")
        params = tmp_path / f"{name}.yaml"
        params.write_text(__import__("yaml").safe_dump({**values, "store": str(store)}))
        out = subprocess.run([sys.executable, "-m", "lt_core", "run", "--scale", "smoke",
                              str(params)], capture_output=True, text=True, cwd=REPO,
                             env={**__import__("os").environ, "LT_DATA": str(smoke_data)})
        assert out.returncode == 0, (name, out.stderr[-3000:])
        assert "Traceback" not in out.stderr
    assert run_keys(store) == PINNED_KEYS["smoke"]  # nothing trained twice
