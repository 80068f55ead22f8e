"""Learned supermasks: the sampled mask and its straight-through gradient, on hand-built
tensors."""

import pytest
import torch

from lt_core import config, engine, models
from lt_core.config import Train
from lt_core.papers import z19


def sampled(w, m, seed=0):
    return z19.learned._SampledMask.apply(w, m, z19.learned._Sampler(seed))


def test_mask_sample_keeps_each_weight_with_probability_sigmoid_m():
    keep = torch.tensor([0.1, 0.5, 0.9])
    m = torch.logit(keep).repeat(20_000, 1)  # 20,000 draws of each probability
    w = torch.full_like(m, 2.0)
    out = sampled(w, m)
    assert set(out.unique().tolist()) <= {0.0, 2.0}  # w or 0, nothing in between
    frequency = (out != 0).float().mean(0)
    # 3 standard errors of a 20,000-draw mean: at most 0.0064.
    torch.testing.assert_close(frequency, keep, atol=0.0065, rtol=0)


def test_same_seed_same_samples_other_seed_other_samples():
    m, w = torch.zeros(1000), torch.ones(1000)
    assert torch.equal(sampled(w, m, 1), sampled(w, m, 1))
    assert not torch.equal(sampled(w, m, 1), sampled(w, m, 2))


def test_straight_through_gradient_is_w_times_sigmoid_derivative():
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    m = torch.tensor([[0.0, 1.0], [-1.0, 2.0]], requires_grad=True)
    upstream = torch.tensor([[1.0, 2.0], [-1.0, 0.5]])
    (sampled(w, m) * upstream).sum().backward()
    s = torch.sigmoid(m.detach())
    # The sample's value does not enter: d(w * b)/dm := w * s(1 - s), whatever b was drawn.
    torch.testing.assert_close(m.grad, upstream * w * s * (1 - s))


def test_weights_and_biases_stay_frozen_while_the_logits_train(toy):
    base = models.build("fc", toy.input_shape)
    members = [z19.learned.learned_member(base, seed, c) for seed, c in ((0, 0.0), (1, 2.0))]
    cfg = Train(optimizer="sgd", lr=10.0, momentum=0.9, batch_size=50, iterations=10,
                eval_every=5)
    res = engine.train(z19.learned.SupermaskNet(base), members, toy, cfg, progress=False)
    for member, r in zip(members, res):
        for name, start in member.init.items():
            if name.startswith("w."):
                assert torch.equal(r.final[name], start), name  # bit-exact
            else:
                assert not torch.equal(r.final[name], start), name  # the logits moved


# ---------------------------------------------------------------------------------------------
# A supermask as a file


def fc_masks(seed=0):
    g = torch.Generator().manual_seed(seed)
    net = models.build("fc", (1, 28, 28))
    params = dict(net.named_parameters())
    return {n: (torch.rand(params[n].shape, generator=g) < 0.3).float() for n in net.prune_rates}


HEADER = {"model": "fc", "input_shape": [1, 28, 28], "num_classes": 10, "seed": 3,
          "weights": "signed_constant", "test_acc": 0.5, "source": {}}


def test_file_round_trip_is_exact_and_one_bit_per_weight(tmp_path):
    masks = fc_masks()
    size = z19.maskfile.write(tmp_path / "m", HEADER, masks)
    bits = sum(m.numel() for m in masks.values())  # 266,200
    assert bits / 8 < size < bits / 8 + 2_000  # the bits, a header and a checksum
    back = z19.maskfile.read(tmp_path / "m", model="fc")
    assert all(torch.equal(back.masks[n], m) for n, m in masks.items())
    # The network: seed 3's initial weights, signed constant, times the mask.
    init = models.initial_state(models.build("fc", (1, 28, 28)), 3)
    w = init["fc1.weight"]
    expected = w.std(unbiased=False) * torch.sign(w) * masks["fc1.weight"]
    assert torch.equal(back.parameters()["fc1.weight"], expected)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:20_000], "truncated"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b[:5_000] + bytes([b[5_000] ^ 1]) + b[5_001:], "checksum mismatch"),
    (lambda b: b"PK" + b[2:], "not a supermask file"),
])
def test_damaged_file_is_one_line(tmp_path, damage, message):
    z19.maskfile.write(tmp_path / "m", HEADER, fc_masks())
    (tmp_path / "bad").write_bytes(damage((tmp_path / "m").read_bytes()))
    with pytest.raises(z19.maskfile.MaskFileError, match=message) as err:
        z19.maskfile.read(tmp_path / "bad")
    assert "\n" not in str(err.value)


def test_file_of_another_architecture_is_one_line(tmp_path):
    z19.maskfile.write(tmp_path / "m", HEADER, fc_masks())
    with pytest.raises(z19.maskfile.MaskFileError, match="a supermask of fc, not of conv2"):
        z19.maskfile.read(tmp_path / "m", model="conv2")
    # A header that claims Conv2 over FC's layers.
    z19.maskfile.write(tmp_path / "x", {**HEADER, "model": "conv2", "input_shape": [3, 32, 32]},
                   fc_masks())
    with pytest.raises(z19.maskfile.MaskFileError, match="do not match the conv2 network"):
        z19.maskfile.read(tmp_path / "x")


def test_export_rebuilds_the_runs_supermask_to_the_same_accuracy(tmp_path):
    cfg = config.load({"models": ["fc"], "dense": {"iterations": 30, "eval_every": 15},
                       "max_power": 3, "criteria": ["large_final_same_sign"],
                       "store": str(tmp_path / "runs")}, z19.config.Supermasks)
    table, _ = z19.supermasks.heuristic(cfg, progress=False)
    row = table[(table["weights"] == "signed_constant") & (table["power"] == 3)].iloc[0]
    sm, size = z19.maskfile.export(cfg.store, row["run"], 3, tmp_path / "fc.supermask")
    assert sm.header["test_acc"] == row["test_acc"]  # the run's own number
    back = z19.maskfile.read(tmp_path / "fc.supermask", model="fc")
    assert back.test_accuracy() == row["test_acc"]  # bit for bit
    assert size < z19.maskfile.float32_bytes("fc", (1, 28, 28)) / 30
