"""L23 on the pruning loop at tiny scale on the embedded real digits: settings, rewinding,
the shared dense level, section 5's partial re-initialisation, the comparison with Table 2."""

import math

import pytest
import torch

from lt_core import banner, config, criteria, engine, loop, models, scorecard, seeds
from lt_core.config import ConfigError
from lt_core.papers import l23
from lt_core.store import RunStore

TINY = {"train": {"iterations": 20, "eval_every": 10}, "levels": 2, "seeds": [0],
        "measures": ["magnitude", "l1", "minmax"],
        "overlap": {"measures": ["magnitude", "l1"], "level": 2, "reinit_seeds": [0]},
        "device": "cpu"}


def load(values):
    return config.load(values, l23.Layerwise)


@pytest.mark.parametrize("values, message", [
    ({"train": {"epoch": 3}}, "unknown field 'train.epoch'"),
    ({"train": {"milestones": [50]}}, "train.milestones [50.0] at or past the end"),
    ({"levels": 3}, "overlap.level 15 exceeds the 3 levels of lenet_300_100"),
    ({"overlap": {"measures": ["l1"]}}, "overlap.measures must list at least two"),
    ({"measures": ["l1", "l2"]}, "overlap.measures ['magnitude'] are not in measures"),
    ({"models": ["resnet50"]}, "models: unknown network 'resnet50'; choose from fc"),
    ({"models": ["fc"]}, "fc has no L23 settings: set train.lr, train.epochs"),
    ({"models": ["mynets:Net"]}, "models: mynets:Net has no dataset of its own: set data.dataset"),
    ({"seeds": [1], "overlap": {"seed": 0}}, "overlap.seed 0 is not one of seeds [1]"),
])
def test_invalid_parameters_fail_in_one_line_naming_the_field(values, message):
    with pytest.raises(ConfigError) as err:
        load(values)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_l23_settings_and_replacements():
    lenet = load({}).setting("lenet_300_100")
    assert (lenet.train.lr, lenet.train.batch_size, lenet.train.epochs, lenet.train.momentum,
            lenet.train.last_batch, lenet.rewind_iteration, lenet.levels) == (
        0.1, 128, 40, 0.0, "keep", 0, 24)
    r18 = load({"models": ["resnet18"]}).setting("resnet18")
    assert (r18.data.dataset, r18.train.batch_size, r18.train.milestones, r18.rewind_iteration) == (
        "tiny_imagenet", 256, [100, 150], 1000)
    quick = load({"train": {"iterations": 50}}).setting("lenet_300_100")
    assert quick.train.iterations == 50 and quick.train.epochs is None
    # one data section: its choices replace the network's (L23: no validation split)
    plain = load({"data": {"normalize": "none", "root": "/d"}}).setting("lenet_300_100").data
    assert (plain.dataset, plain.validation, plain.normalize, plain.augment, plain.root) == (
        "mnist", "none", "none", "none", "/d")
    # any other network: L23's procedure, the experiment's learning rate, length and levels
    fc = load({"models": ["fc"], "train": {"lr": 0.05, "epochs": 2}, "levels": 3,
               "overlap": {"level": 2}}).setting("fc")
    assert (fc.data.dataset, fc.data.normalize, fc.train.optimizer, fc.train.lr, fc.train.epochs,
            fc.train.batch_size, fc.levels, fc.rewind_iteration, fc.ignore_output_layer) == (
        "mnist", "none", "sgd", 0.05, 2, 128, 3, 0, False)


def test_departures_at_the_papers_settings():
    cfg = load({"seeds": [0]})
    info = {"lenet_300_100": loop.DataInfo("mnist+noval+norm", "", {}, (1, 28, 28))}
    result = l23.LayerwiseResult(cfg, None, info, "cpu", RunStore("unused"))
    assert result.network_departures("lenet_300_100") == []
    assert list(map(str, result.departures())) == [
        "models lenet_300_100 instead of lenet_300_100, resnet20, vgg16, resnet18",
        "number of seeds 1 instead of 3",
        "overlap lenet_300_100 at level 15 with l1, l2, magnitude instead of resnet18 at "
        "level 15 with l1, l2, magnitude"]
    assert [d.effect for d in result.departures()] == ["sample", "sample", "setting"]
    embedded = {"lenet_300_100": loop.DataInfo("mnist-embedded-5k+noval+norm", "", {}, ())}
    short = l23.LayerwiseResult(load({"train": {"epochs": 2, "lr": 0.05}, "levels": 20}), None,
                                embedded, "cpu", RunStore("unused"))
    assert list(map(str, short.network_departures("lenet_300_100"))) == [
        "lenet_300_100 train length 2 epochs instead of 40 epochs",
        "lenet_300_100 train.lr 0.05 instead of 0.1",
        "lenet_300_100 data mnist-embedded-5k instead of mnist"]
    assert banner.reasons(short.departures()) == (
        "shorter training", "other training settings", "data subset", "fewer pruning levels",
        "section 5 on another network", "fewer networks")
    unnormalised = l23.LayerwiseResult(load({"data": {"normalize": "none"}}), None, info, "cpu",
                                       RunStore("unused"))
    assert list(map(str, unnormalised.network_departures("lenet_300_100"))) == [
        "lenet_300_100 data.normalize none instead of dataset"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    store = str(tmp_path_factory.mktemp("runs"))
    return l23.run(load({**TINY, "store": store}), progress=False)


def test_levels_prune_a_fifth_and_share_the_dense_level(result):
    s = result.summary
    tickets = s[s["role"] == "ticket"]
    assert sorted(tickets["level"].unique()) == [0, 1, 2] and not s["failed"].any()
    assert tickets[tickets["level"] == 0]["test_acc"].nunique() == 1  # trained once
    for key in tickets["run"].unique():
        measure = result.store.config(key)["criterion"]
        for level in (1, 2):
            before = l23.ticket(result.store, key, level - 1)
            kept = sum(int(m.sum()) for m in l23.ticket(result.store, key, level).values())
            assert kept == openlth_kept(measure, result.store.tensors(key, level - 1)["final"],
                                        before, ignore={"fc.weight"})
        assert "final" in result.store.level(key, 2).tensors  # kept for section 5


def openlth_kept(measure, final, mask, ignore=()):
    """What OpenLTH's sparse_global keeps, computed here by hand from the scores: n =
    ceil(0.2 x remaining over the whole mask), tau = the n-th smallest pooled score of the
    layers not ignored, keep > tau (so n + 1 go, more on ties)."""
    remaining = sum(int(m.sum()) for m in mask.values())
    pooled = torch.cat([criteria.importance(measure, final[n], m)[m.bool()]
                        for n, m in mask.items() if n not in ignore])
    n = math.ceil(round(0.2 * remaining, 9))
    tau = pooled.sort().values[n]
    return remaining - int((pooled <= tau).sum())


def test_partial_reinit_starts_from_the_overlap_of_theta_0(result):
    re = result.runs[result.runs["role"] == "reinit"]
    assert sorted(re["measure"]) == ["l1", "magnitude"]
    keys = {m: result._key("lenet_300_100", m, 0) for m in ("magnitude", "l1")}
    o = l23.analysis.overlap_mask([l23.ticket(result.store, k, 2) for k in keys.values()])
    net = models.build("lenet_300_100", (1, 28, 28))
    theta_0 = models.initial_state(net, 0)
    init = l23.analysis.partial_reinit(
        theta_0, models.initial_state(net, seeds.derive(0, "partial-reinit", 0)), o)
    assert result.store.config(re["key"].iloc[0])["init"] == loop.state_hash(init)
    kept = o["fc_layers.0.weight"].bool()
    assert torch.equal(init["fc_layers.0.weight"][kept], theta_0["fc_layers.0.weight"][kept])
    assert not torch.equal(init["fc_layers.0.weight"][~kept],
                           theta_0["fc_layers.0.weight"][~kept])
    f = result.reinit
    assert set(f["layer"]) == {"fc_layers.0.weight", "fc_layers.1.weight", "fc.weight", "all"}


def test_a_second_run_trains_nothing(result, monkeypatch):
    monkeypatch.setattr(engine, "train", lambda *a, **k: pytest.fail("trained"))
    again = l23.run(result.config, progress=False)
    assert again.runs["key"].tolist() == result.runs["key"].tolist()


def test_analyses_and_the_comparison_with_table_2(result):
    ls = result.layer_sparsity
    assert set(ls["measure"]) == {"magnitude", "l1", "minmax"} and ls["level"].max() == 2
    # minmax prunes the smallest weight of every layer at every level (L23 §3.3), but the
    # output layer, which LeNet's rule (OpenLTH's) never prunes
    mm = ls[(ls["measure"] == "minmax") & (ls["level"] == 1) & (ls["layer"] != "all")]
    out = mm["layer"] == "fc.weight"
    assert (mm[~out]["kept"] < mm[~out]["numel"]).all()
    assert (mm[out]["kept"] == mm[out]["numel"]).all()
    st = result.stability
    assert set(st["measure"]) == {"magnitude", "l1"} and (st["std"] >= 0).all()
    t2 = result.table2().set_index(["level", "measure"])
    assert t2.loc[(0, "dense"), "tolerance"] == pytest.approx(2 * 0.08 * math.sqrt(4 / 3))
    assert not t2["comparable"].any()  # embedded digits, 20 iterations
    text = result.describe("tiny")
    assert "**Scale: tiny.**" in text and "not a paper-scale result" in text


def test_scorecard_rows(result):
    rows = l23.claims.scorecard_rows(result, "tiny")
    assert all(set(r) == set(scorecard.COLUMNS) - {"scale"} for r in rows)  # build adds it
    assert all(r["checked at"] == "tiny scale" for r in rows if r["source"] == "L23 Table 2")
    t2 = [r for r in rows if r["source"] == "L23 Table 2"]
    assert t2 and all(r["verdict"] == "not comparable at tiny scale" for r in t2)
    assert not any(r["verdict"].startswith(("reproduced", "not reproduced")) for r in rows)
    assert not [r for r in rows if r["source"] == "L23 Table 1"]  # no ResNet-18 here
    claims = l23.claims.claims(result)
    assert len(claims) == 7 and all(v.holds is not None or v.why for v in claims["verdict"])
    assert claims["claim"].iloc[0].startswith("tickets of magnitude, l1 overlap little")
