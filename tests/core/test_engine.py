import numpy as np
import pytest
import torch

from lt_core import data, engine, models
from lt_core.config import Train


def fc(toy):
    return models.build("fc", toy.input_shape)


def member(model, seed, **kw):
    return engine.Member(seed=seed, init=models.initial_state(model, seed), **kw)


def random_mask(model, seed, keep=0.6):
    g = torch.Generator().manual_seed(seed)
    params = dict(model.named_parameters())
    return {n: (torch.rand(params[n].shape, generator=g) < keep).float() for n in model.prune_rates}


@pytest.mark.parametrize("cfg", [
    Train(optimizer="adam", lr=1e-2, iterations=30, eval_every=10, batch_size=20),
    Train(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.05, iterations=30, eval_every=10,
          batch_size=20),
])
def test_pruned_weights_stay_exactly_at_frozen_values(toy, cfg):
    model = fc(toy)
    mask = random_mask(model, 0)
    frozen = {n: torch.full_like(m, 0.125) for n, m in mask.items()}  # non-zero frozen value
    members = [member(model, 0, mask=mask), member(model, 1, mask=mask, frozen=frozen)]
    res = engine.train(model, members, toy, cfg, progress=False)
    for r, values in zip(res, (None, frozen)):
        for name, m in mask.items():
            pruned = r.final[name][m == 0]
            expected = 0.0 if values is None else 0.125
            assert torch.equal(pruned, torch.full_like(pruned, expected))  # bit-exact
            kept_init = models.initial_state(model, r.seed)[name][m == 1]
            assert not torch.equal(r.final[name][m == 1], kept_init)  # the rest did train


def test_population_matches_separate_runs(toy):
    model = fc(toy)
    cfg = Train(iterations=20, eval_every=5, batch_size=20, lr=1e-3)
    seeds = [3, 7, 11]
    together = engine.train(model, [member(model, s) for s in seeds], toy, cfg, progress=False)
    for s, pop in zip(seeds, together):
        alone = engine.train(model, [member(model, s)], toy, cfg, progress=False)[0]
        for name in pop.final:
            torch.testing.assert_close(pop.final[name], alone.final[name], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(pop.metrics["val_loss"], alone.metrics["val_loss"], rtol=1e-4)
        np.testing.assert_array_equal(pop.iterations, [0, 5, 10, 15, 20])


def test_same_seed_is_bit_identical(toy):
    model = fc(toy)
    cfg = Train(iterations=15, eval_every=5, batch_size=20, lr=1e-3)
    a, b = (engine.train(model, [member(model, 4)], toy, cfg, progress=False)[0] for _ in range(2))
    assert all(torch.equal(a.final[n], b.final[n]) for n in a.final)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k])


def test_diverging_member_is_marked_failed_and_others_continue(toy):
    model = fc(toy)
    cfg = Train(optimizer="sgd", lr=0.05, momentum=0.9, iterations=20, eval_every=5, batch_size=20)
    bad = member(model, 1, lr=1e4)  # its own learning rate: explodes to inf/NaN
    res = engine.train(model, [member(model, 0), bad], toy, cfg, progress=False)
    good_alone = engine.train(model, [member(model, 0)], toy, cfg, progress=False)[0]
    assert not res[0].failed and res[1].failed and res[1].failed_at > 0
    assert np.isnan(res[1].metrics["test_acc"][-1])
    # No result, least of all the untrained network's accuracy at iteration 0.
    assert res[1].early_stop_iteration is None and np.isnan(res[1].test_acc_at_early_stop)
    np.testing.assert_allclose(res[0].metrics["val_loss"], good_alone.metrics["val_loss"], rtol=1e-4)


@pytest.mark.parametrize("loss, index", [
    ([2.3, 1.0, 0.5], None),  # learning
    ([2.3, 22.0, 2.0], None),  # a spike below 10x the start that recovers
    ([2.3], None),  # nothing to judge yet
    ([2.3, np.nan, np.nan], 1),  # non-finite
    ([2.3, 1.0, np.inf], 2),
    ([2.3, 1.0, 23.5], 2),  # above 10 x 2.3 = 23
    ([2.3, 2.3, 2.4], 1),  # never below the start: early stopping would pick the untrained net
    ([np.nan, 1.0], 0),
])
def test_divergence_is_non_finite_exploding_or_never_improving(loss, index):
    assert engine.divergence(np.array(loss)) == index


def test_finite_but_exploding_adam_member_fails_and_the_other_does_not(toy):
    model = fc(toy)
    cfg = Train(optimizer="adam", lr=1e-3, iterations=20, eval_every=10, batch_size=20)
    bad = member(model, 1, lr=1e6)  # the loss explodes but stays finite
    res = engine.train(model, [member(model, 0), bad], toy, cfg, progress=False)
    assert not res[0].failed and res[1].failed and res[1].failed_at == 10
    assert res[1].early_stop_iteration is None and np.isnan(res[1].test_acc_at_early_stop)


def test_per_member_learning_rates_match_separate_runs(toy):
    model = fc(toy)
    for opt in ("adam", "sgd"):
        cfg = Train(optimizer=opt, lr=1e-3, iterations=10, eval_every=5, batch_size=20)
        mixed = engine.train(model, [member(model, 0, lr=1e-3), member(model, 0, lr=3e-3)], toy, cfg,
                             progress=False)
        alone = engine.train(model, [member(model, 0)], toy, Train(**{**cfg.__dict__, "lr": 3e-3}),
                             progress=False)[0]
        for n in alone.final:
            torch.testing.assert_close(mixed[1].final[n], alone.final[n], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_optimizer_matches_torch_optim(toy, optimizer):
    """The engine's Adam and SGD with momentum (fused kernels) equal torch.optim's."""
    model = fc(toy)
    cfg = Train(optimizer=optimizer, iterations=5, eval_every=5, batch_size=300, lr=1e-3)
    res = engine.train(model, [member(model, 0)], toy, cfg, progress=False)[0]  # 1 batch = all
    ref = fc(toy)
    ref.load_state_dict(models.initial_state(model, 0))
    opt = (torch.optim.Adam(ref.parameters(), lr=1e-3) if optimizer == "adam"
           else torch.optim.SGD(ref.parameters(), lr=1e-3, momentum=0.9))
    x, y = toy.splits["train"]
    for _ in range(5):  # a full batch is the same set in any order
        loss = torch.nn.functional.cross_entropy(ref(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    for n, p in ref.named_parameters():
        torch.testing.assert_close(res.final[n], p.detach(), rtol=1e-4, atol=1e-6)


def test_early_stopping_is_minimum_validation_loss():
    r = engine.MemberResult(
        seed=0, iterations=np.array([0, 100, 200, 300]),
        metrics={"val_loss": np.array([2.0, 0.5, 0.4, 0.45]), "test_acc": np.array([.1, .8, .9, .95])},
        final={})
    assert r.early_stop_iteration == 200 and r.test_acc_at_early_stop == 0.9


def test_keep_best_returns_the_parameters_at_the_early_stopping_iteration(toy):
    model = fc(toy)
    cfg = Train(optimizer="sgd", lr=0.5, momentum=0.9, iterations=40, eval_every=5, batch_size=20)
    res = engine.train(model, [member(model, 2)], toy, cfg, progress=False, keep_best=True)[0]
    stop = res.early_stop_iteration
    assert 0 < stop < 40  # lr 0.5 overfits/oscillates: the minimum is inside the run
    # The same member trained for exactly `stop` iterations ends where `best` was taken.
    short = Train(**{**cfg.__dict__, "iterations": stop})
    again = engine.train(model, [member(model, 2)], toy, short, progress=False)[0]
    for name, value in again.final.items():
        assert torch.equal(res.best[name], value), name


@pytest.mark.parametrize("name, optimizer", [("fc", "adam"), ("fc", "sgd"), ("resnet20", "sgd")])
def test_a_members_numbers_do_not_depend_on_its_neighbours(name, optimizer):
    """Bit-identical alone, with 2 or with 16 others, in any position (on CPU)."""
    shape = (1, 28, 28) if name == "fc" else (3, 8, 8)
    ds = data.synthetic({"train": 64, "val": 32, "test": 32}, shape=shape)
    model = models.build(name, shape, width=None if name == "fc" else 2)
    cfg = Train(optimizer=optimizer, lr=0.05 if optimizer == "sgd" else 1e-3, batch_size=8,
                iterations=6, eval_every=3, weight_decay=1e-3)
    target = member(model, 5, lr=0.04 if optimizer == "sgd" else None)
    alone = engine.train(model, [target], ds, cfg, progress=False)[0]
    for others, position in ((1, 1), (16, 0), (16, 9)):
        crowd = [member(model, 100 + k, lr=0.01 * (k + 1)) for k in range(others)]
        crowd.insert(position, target)
        res = engine.train(model, crowd, ds, cfg, progress=False)[position]
        for key in alone.final:
            assert torch.equal(res.final[key], alone.final[key]), (others, position, key)
        for key in alone.metrics:
            np.testing.assert_array_equal(res.metrics[key], alone.metrics[key])
