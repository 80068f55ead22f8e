"""Learned supermasks: the sampled mask and its straight-through gradient, on hand-built
tensors."""

import torch

from lt_core import engine, models, supermask
from lt_core.config import Train


def sampled(w, m, seed=0):
    return supermask._SampledMask.apply(w, m, supermask._Sampler(seed))


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
    members = [supermask.learned_member(base, seed, c) for seed, c in ((0, 0.0), (1, 2.0))]
    cfg = Train(optimizer="sgd", lr=10.0, momentum=0.9, batch_size=50, iterations=10,
                eval_every=5)
    res = engine.train(supermask.SupermaskNet(base), members, toy, cfg, progress=False)
    for member, r in zip(members, res):
        for name, start in member.init.items():
            if name.startswith("w."):
                assert torch.equal(r.final[name], start), name  # bit-exact
            else:
                assert not torch.equal(r.final[name], start), name  # the logits moved
