"""H21 (lt_core.papers.h21): structured masks and verdicts on hand-built tensors and
frames; the experiment at tiny scale on the embedded digits: which trainings are shared,
what the baselines and constrained runs count, where eval runs start."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from conftest import h21_accuracy
from torch import nn

from lt_core import config, loop, models
from lt_core.config import ConfigError
from lt_core.papers import h21
from lt_core.store import RunStore

matplotlib.use("Agg")


# ---- one-shot structured pruning ----------------------------------------------------------


class Tiny(nn.Module):
    """conv(2) -> BN -> conv(3) -> BN -> linear(2): the second conv is the only eligible one."""

    output_layer = "fc.weight"

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(2)
        self.conv2 = nn.Conv2d(2, 3, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3, 2)
        self.prune_rates = {"conv1.weight": 0.2, "conv2.weight": 0.2, "fc.weight": 0.2}


def test_filter_masks_remove_the_units_of_smallest_mean_magnitude_with_their_batchnorm():
    net = Tiny()
    assert h21.unit_layers(net) == {"conv2.weight": "bn2"}  # not the first, not the last
    w = {"conv1.weight": torch.ones(2, 1, 1, 1), "fc.weight": torch.ones(2, 3),
         # filter means of |w|: 0.5, 0.1, 0.3
         "conv2.weight": torch.tensor([[0.4, -0.6], [0.1, -0.1], [0.3, 0.3]]).view(3, 2, 1, 1)}
    m = h21.filter_masks(net, w, 0.5)  # floor(0.5 x 3) = 1 unit: the 0.1 one
    assert m["conv2.weight"].flatten().tolist() == [1, 1, 0, 0, 1, 1]
    assert m["bn2.weight"].tolist() == [1, 0, 1] and m["bn2.bias"].tolist() == [1, 0, 1]
    assert m["conv1.weight"].all() and m["fc.weight"].all()
    m = h21.filter_masks(net, w, 0.7)  # 2 units: 0.1 and 0.3
    assert m["bn2.weight"].tolist() == [1, 0, 0]


# ---- analyses on hand-made frames -----------------------------------------------------------



ACC = h21_accuracy({
    ("lottery", 0.1, 0.1): [[0.90, 0.92], [0.91, 0.93], [0.88, 0.90]],
    ("lottery", 0.1, 0.5): [[0.95, 0.95], [0.94, 0.96], [0.93, None]],
    ("lottery", 0.5, 0.1): [[0.90, 0.92], [0.97, 0.97], [0.96, 0.96]],
    ("lottery", 0.5, 0.5): [[0.95, 0.95], [0.80, 0.82], [0.70, 0.72]],
    ("global_random", 0.5, 0.5): [[0.95, 0.95], [0.85, 0.85], [0.75, 0.75]],
})


def test_curves_never_average_over_a_failed_seed():
    c = h21.analysis.curves(ACC)
    failed = h21.analysis.select(c, pruning="lottery", find=0.1, eval=0.5, level=2)
    assert failed["failed"].item() and np.isnan(failed["mean"].item())
    ok = h21.analysis.select(c, pruning="lottery", find=0.1, eval=0.1, level=1)
    assert ok["mean"].item() == pytest.approx(0.92) and ok["std"].item() == pytest.approx(
        np.std([0.91, 0.93], ddof=1))
    assert set(c[c["coupled"]]["find"]) == {0.1, 0.5}


def test_best_coupled_vs_decoupled_per_level():
    best = h21.analysis.best_coupled_vs_decoupled(h21.analysis.curves(ACC), "lr").set_index("level")
    # level 1: coupled 0.92 (0.1/0.1) vs 0.81 (0.5/0.5); decoupled 0.97 (0.5/0.1) vs 0.95
    assert best.loc[1, "coupled_mean"] == pytest.approx(0.92)
    assert (best.loc[1, "decoupled_find"], best.loc[1, "decoupled_eval"]) == (0.5, 0.1)
    # level 2: the failed pair (0.1/0.5) is left out, not averaged
    assert best.loc[2, "decoupled_mean"] == pytest.approx(0.96)


def test_layerwise_pruning_ratios_and_the_global_random_reference():
    masks = pd.DataFrame([
        {"study": "lr", "find": 0.1, "lpr_from": None, "seed": 0, "level": 1, "layer": "a",
         "depth": 0, "kept": 60, "numel": 100},
        {"study": "lr", "find": 0.1, "lpr_from": None, "seed": 0, "level": 1, "layer": "b",
         "depth": 1, "kept": 20, "numel": 20}])
    lpr = h21.analysis.layerwise_pruning_ratios(masks)
    assert lpr["lpr"].tolist() == pytest.approx([0.4, 0.0])
    assert lpr["fraction_pruned"].tolist() == pytest.approx([40 / 120] * 2)
    means = h21.analysis.lpr_means(lpr, "lr")
    assert means["global_random"].tolist() == pytest.approx([1 / 3] * 2)


def test_invalid_parameters_name_the_field():
    base = {"model": "lenet_300_100", "levels": 2, "lpr_levels": [1],
            "train": {"optimizer": "sgd", "lr": 0.1, "iterations": 10}}
    cases = [
        ({"studies": [{"name": "lr", "vary": "lr", "find": [0.0], "eval": [0.1]}]},
         "studies[lr].find: lr must be > 0"),
        ({"studies": [{"name": "b", "vary": "batch_size", "find": [64.5], "eval": [64]}]},
         "a batch size is an integer"),
        ({"lpr_levels": [3]}, "lpr_levels [3] outside the levels 0..2"),
        ({"studies": [{"name": "lr", "vary": "lr", "find": [0.1], "eval": [0.1]}],
          "constrained": [{"study": "lr", "good": 0.1, "bad": 0.5, "eval": 0.1}]},
         "constrained[0]: good and bad must be find values"),
        ({"studies": [{"name": "lr", "vary": "lr", "find": [0.1], "eval": [0.1],
                       "baselines": "yes"}]}, "must be true or false"),
    ]
    for extra, message in cases:
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            h21.load({**base, **extra})


def test_the_default_training_is_the_papers_file_and_keeps_its_key():
    train = h21.load({"model": "lenet_300_100", "levels": 2, "lpr_levels": [1]}).train
    paper = h21.experiment.paper_config().train
    assert train == paper
    # the key of the default as code wrote it (epochs 110, milestones [55, 83]) before the
    # paper's file held it
    assert config.content_hash(config.key_dict(train)) == (
        "3496e008dbffd0b3e87a0ada7ebad9121761d14b224e30a6ee9fcbb0cc40c114")


def test_learning_rates_and_weight_decays_share_a_population_batch_sizes_do_not():
    import types

    cfg = h21.load({
        "model": "lenet_300_100", "levels": 1, "lpr_levels": [1], "train": TRAIN,
        "studies": [{"name": "lr", "vary": "lr", "find": [0.02, 0.1], "eval": [0.02]},
                    {"name": "weight_decay", "vary": "weight_decay", "find": [0, 1e-3],
                     "eval": [1e-3]},
                    {"name": "batch_size", "vary": "batch_size", "find": [64, 128],
                     "eval": [128], "baselines": False}]})
    data = types.SimpleNamespace(splits={"train": (None, torch.zeros(1000))}, name="toy")
    plan = h21.Plan(cfg, data, models.build("lenet_300_100", (1, 28, 28)),
                            RunStore("unused"))  # keys only: nothing is written
    trains = {(f.study.name, f.value): f.run.train for f in plan.finds}
    assert trains[("lr", 0.02)] == trains[("lr", 0.1)] == trains[("weight_decay", 0)]
    assert trains[("batch_size", 64)] != trains[("batch_size", 128)]
    lrs = {(f.study.name, f.value): (f.run.lr, f.run.weight_decay) for f in plan.finds}
    assert lrs[("lr", 0.1)] == (0.1, 1e-3) and lrs[("weight_decay", 0)] == (0.05, 0.0)


# ---- the experiment at tiny scale -----------------------------------------------------------

TRAIN = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3,
         "batch_size": 128, "iterations": 8, "last_batch": "keep", "eval_every": 100}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    cfg = h21.load({
        "model": "lenet_300_100", "levels": 2, "lpr_levels": [1, 2], "seeds": [0], "device": "cpu",
        "data": {"dataset": "mnist", "normalize": "none", "augment": "none"},
        "train": TRAIN,
        "studies": [
            {"name": "lr", "vary": "lr", "find": [0.02, 0.1], "eval": [0.02, 0.1]},
            {"name": "late_rewinding", "vary": "lr", "find": [0.1], "eval": [0.05],
             "rewind_epochs": 0.125, "baselines": False},
            {"name": "lr_rewinding", "vary": "lr", "find": [0.1], "eval": [0.05],
             "lr_rewinding": True, "baselines": False},
            {"name": "early_pruning", "vary": "stop_epoch", "find": [0.125, None],
             "eval": [None], "baselines": False},
            {"name": "structured_lr", "vary": "lr", "find": [0.1], "eval": [0.05],
             "filters": [0.5], "baselines": False},
        ],
        "constrained": [{"study": "lr", "good": 0.02, "bad": 0.1, "eval": 0.02}],
        "store": str(tmp_path_factory.mktemp("runs"))})
    return h21.run(cfg, progress=False)


def lines(result, **where):
    return h21.analysis.select(result.points, **where)


def find_key(result, study, value, lpr_from=None):
    return h21.analysis.select(result.finds, study=study, find=value, lpr_from=lpr_from)["key"].item()


def next_masks(result, key, level):
    return result.store.masks(key, level - 1)


def test_coupled_pairs_read_the_find_runs_own_training(result):
    for v in (0.02, 0.1):
        coupled = lines(result, study="lr", pruning="lottery", find=v, eval=v, lpr_from=None)
        assert set(coupled["key"]) == {find_key(result, "lr", v)}
        assert list(coupled["stored_level"]) == list(coupled["level"])
    decoupled = lines(result, study="lr", pruning="lottery", find=0.02, eval=0.1, lpr_from=None)
    assert (decoupled["key"] != find_key(result, "lr", 0.02)).all()
    # level 0 (the dense network under H_eval) is the find run of that value
    assert decoupled[decoupled["level"] == 0]["key"].item() == find_key(result, "lr", 0.1)


def test_an_eval_run_trains_exactly_as_the_find_run_would(result):
    """What makes reading the find's training for a coupled pair sound: training the find
    run's mask M^(2) from its init under H_find gives the find run's level 2, bit for bit."""
    key = find_key(result, "lr", 0.1)
    data = loop.data_mod.load("mnist", None, "cpu", validation="none")
    model = models.build("lenet_300_100", data.input_shape)
    train = h21.phase_train(result.config, result.config.study("lr"), "eval", 0.1)
    run = loop.Run({"kind": "test-eval"}, 0, config.Arm("magnitude", selection="global"),
                      train, start_mask=next_masks(result, key, 2))
    (k,) = loop.prune_loop(model, data, [run], 0, result.store, torch.device("cpu"), False)
    assert result.store.level(k, 0).test_acc_at_end == result.store.level(key, 2).test_acc_at_end


def test_baselines_and_constrained_runs_keep_the_references_counts(result):
    find = find_key(result, "lr", 0.1)
    lpr = lines(result, study="lr", pruning="preserve_lpr", find=0.1)["key"].iloc[0]
    glob = lines(result, study="lr", pruning="global_random", find=0.1)["key"].iloc[0]
    blue = find_key(result, "lr", 0.1, lpr_from=0.02)  # bad value, the good run's counts
    good = find_key(result, "lr", 0.02)
    for level in (1, 2):
        ref, ref_good = next_masks(result, find, level), next_masks(result, good, level)
        for name in ref:
            assert int(next_masks(result, lpr, level)[name].sum()) == int(ref[name].sum())
            assert int(next_masks(result, blue, level)[name].sum()) == int(ref_good[name].sum())
        total = sum(int(m.sum()) for m in ref.values())
        assert sum(int(m.sum()) for m in next_masks(result, glob, level).values()) == total
        assert not torch.equal(next_masks(result, lpr, level)["fc.weight"], ref["fc.weight"])


def test_the_two_random_baselines_draw_independently(result):
    """Global random and preserve LPR once drew from one stream, so within a layer one kept
    set was a subset of the other (and equal where the counts were)."""
    lpr = lines(result, study="lr", pruning="preserve_lpr", find=0.1)["key"].iloc[0]
    glob = lines(result, study="lr", pruning="global_random", find=0.1)["key"].iloc[0]
    for level in (1, 2):
        a = next_masks(result, lpr, level)["fc_layers.0.weight"].bool()
        b = next_masks(result, glob, level)["fc_layers.0.weight"].bool()
        assert (a & ~b).any() and (b & ~a).any()  # neither contains the other


def test_global_random_is_as_large_as_its_ticket_under_the_threshold_rule(tmp_path):
    """OpenLTH's threshold prunes n + 1 (more on ties); the baseline keeps exactly as many
    weights as the ticket, not its own ceil(0.2 x remaining)."""
    cfg = h21.load({
        "model": "lenet_300_100", "levels": 2, "lpr_levels": [1], "seeds": [0],
        "device": "cpu", "count": "threshold",
        "data": {"dataset": "mnist", "normalize": "none", "augment": "none"}, "train": TRAIN,
        "studies": [{"name": "lr", "vary": "lr", "find": [0.1], "eval": [0.1]}],
        "store": str(tmp_path)})
    res = h21.run(cfg, progress=False)
    find = find_key(res, "lr", 0.1)
    glob = lines(res, study="lr", pruning="global_random", find=0.1)["key"].iloc[0]
    for level in (1, 2):
        ticket = sum(int(m.sum()) for m in next_masks(res, find, level).values())
        assert sum(int(m.sum()) for m in next_masks(res, glob, level).values()) == ticket


def test_variants_start_where_the_find_run_rewinds_or_stopped(result):
    store = result.store
    # late rewinding: k = 0.125 epochs of 32 = 4; the eval starts from the find's state at k
    ev = lines(result, study="late_rewinding", pruning="lottery", level=1)["key"].item()
    cfg = store.config(ev)
    assert cfg["rewind_iteration"] == 4 and cfg["start"][1] == "rewind_point"
    point = store.level(cfg["start"][0], 0)
    assert point.iterations[-1] == 4 and store.level(ev, 0).iterations[0] == 4
    # LR rewinding: the find's biases go on from their trained values; the eval of level 2
    # starts from the find's trained weights of level 1
    key = find_key(result, "lr_rewinding", 0.1)
    rec = store.tensors(key, 0)
    assert torch.equal(rec["next_start"]["fc.bias"], rec["final"]["fc.bias"])
    ev = lines(result, study="lr_rewinding", pruning="lottery", level=2)["key"].item()
    assert store.config(ev)["start"] == [key, "trained", 1]
    # early pruning: the find trains 4 of the schedule's 8 iterations
    key = find_key(result, "early_pruning", 0.125)
    assert store.level(key, 1).iterations[-1] == 4


def test_structured_eval_trains_with_whole_units_and_their_batchnorm_removed(result):
    row = lines(result, study="structured_lr", pruning="lottery", level=1).iloc[0]
    final = result.store.tensors(row["key"], 0)["final"]
    kept_rows = (final["fc_layers.1.weight"] != 0).any(1)
    assert int((~kept_rows).sum()) == 50  # half of the 100 units of the one eligible layer
    assert row["percent_remaining"] == pytest.approx(100 * (1 - 50 * 300 / 266_200))


def test_rerun_trains_nothing_and_reads_the_same_frames(result):
    again = h21.run(result.config, progress=False)
    pd.testing.assert_frame_equal(again.accuracy, result.accuracy)
    assert not result.accuracy["failed"].any() and len(result.failures()) == 0


def _lines(fig) -> list[np.ndarray]:
    """The y values of every line drawn with points (not the x markers of failed points)."""
    return [np.asarray(line.get_ydata(), float) for ax in fig.axes for line in ax.get_lines()
            if line.get_marker() not in ("x", "None", None, "") and len(line.get_ydata())]


def test_every_figure_draws_its_lines_and_the_claims_and_the_lpr_explorer(result):
    drawn = {figure: h21.figures.h21_figure(result, figure, study) for figure, study in (
        ("fig1", None), ("fig2", "lr"), ("fig3", None), ("fig4", None), ("fig5", None),
        ("fig6", "lr"), ("fig7", None), ("fig8", None), ("fig9", None))}
    for figure, fig in drawn.items():
        if figure == "fig8":  # no wd0 study here: no figure
            assert fig is None
            continue
        assert _lines(fig), figure
    # Figure 1: each coupled run's line is its mean over seeds at every level
    c = result.curves
    for v in (0.02, 0.1):
        want = h21.analysis.select(c, study="lr", pruning="lottery", find=v, eval=v,
                               lpr_from=None).sort_values("level")["mean"].to_numpy()
        assert any(len(y) == len(want) and (np.allclose(y, want) or np.allclose(y, 100 * want))
                   for y in _lines(drawn["fig1"])), v
    claims = result.claims()
    assert set(claims["id"]) >= {f"Q{i}" for i in range(1, 15) if i != 15} | {"Q16"}
    contradicted = claims[claims["claim"].str.startswith("LR_find and the early")]["verdict"]
    assert contradicted.item().why == "the captions contradict each other"
    explorer = h21.figures.lpr_explorer(h21.analysis.lpr_means(result.lpr, "lr"), "LR")
    per_find = explorer.children[-1].children
    assert len(per_find) == 2 and len(per_find[0].children) == 3  # levels 0..2 (0 blank)
    assert per_find[0].children[1].value and not per_find[0].children[0].value
    assert "stand-in" in result.describe("tiny") and "not a paper-scale" in result.describe("t")
    assert math.isclose(result.accuracy["fraction_pruned"].max(), 0.36)
