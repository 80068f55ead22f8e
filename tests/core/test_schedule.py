"""Learning-rate schedules, iterations per epoch, rewinding and truncation."""

import pytest
import torch

from lt_core import engine, models, schedule
from lt_core.config import ConfigError, Train
from lt_core.data import synthetic

SGD = dict(optimizer="sgd", lr=0.1, batch_size=10)


def test_iterations_per_epoch_drop_or_keep_the_last_batch():
    assert schedule.iterations_per_epoch(55_000, 60, "drop") == 916  # Z19: int(N/60)
    assert schedule.iterations_per_epoch(50_000, 128, "keep") == 391  # OpenLTH: ceil(N/B)
    assert schedule.iterations_per_epoch(100, 10, "keep") == 10


def test_milestones_and_warmup_by_global_step():
    plan = schedule.plan(Train(**SGD, epochs=10, milestones=[4, 8], warmup_epochs=2), 100)
    assert (plan.per_epoch, plan.total, plan.stop, plan.milestones, plan.warmup) == (
        10, 100, 100, (40, 80), 20)
    expected = {0: 0.0, 5: 0.25, 19: 0.95, 20: 1.0, 39: 1.0, 40: 0.1, 79: 0.1, 80: 0.01, 99: 0.01}
    for step, factor in expected.items():
        assert plan.factor(step) == pytest.approx(factor), step


def test_truncated_schedule_keeps_the_milestones_of_the_long_one():
    plan = schedule.plan(Train(**SGD, epochs=110, milestones=[55, 83], stop_epoch=70), 100)
    assert plan.stop == 700 and plan.total == 1100 and plan.factor(650) == pytest.approx(0.1)


@pytest.mark.parametrize("fields, message", [
    (dict(epochs=10, milestones=[10]), "train.milestones \\[10\\] at or past the end"),
    (dict(epochs=10, warmup_epochs=10), "train.warmup_epochs 10 is as long as training"),
    (dict(epochs=10, stop_epoch=11), "train.stop_epoch 11 is past the end"),
    (dict(epochs=10, iterations=5), "set iterations or epochs, not both"),
    (dict(epochs=10, milestones=[5, 3]), "train.milestones must be increasing"),
])
def test_impossible_schedules_name_the_field(fields, message):
    with pytest.raises(ConfigError, match=message):
        Train(**SGD, **fields)


def test_milestone_past_the_end_in_iterations_is_found_with_the_data():
    with pytest.raises(ConfigError, match="train.milestones: epoch 3 is at or past the end"):
        schedule.plan(Train(**SGD, iterations=25, milestones=[3]), 100)  # 10 per epoch
    with pytest.raises(ConfigError, match="rewind_iteration 25 must be >= 0 and before the end"):
        schedule.check_rewind(25, schedule.plan(Train(**SGD, iterations=25), 100))


def test_rewinding_restarts_the_same_schedule_and_data_at_step_k():
    """Training 0 -> 20 equals training 0 -> 8 then 8 -> 20 except for the fresh optimizer:
    without momentum (SGD has no state then) the two are bit-identical."""
    toy = synthetic({"train": 60, "val": 20, "test": 20}, shape=(1, 4, 4))
    model = models.build("lenet_300_100", toy.input_shape)
    cfg = Train(optimizer="sgd", lr=0.05, momentum=0.0, batch_size=8, iterations=20,
                eval_every=4, milestones=[1.5])  # 7 per epoch: the drop lands at step 10
    member = engine.Member(seed=3, init=models.initial_state(model, 3))
    whole = engine.train(model, [member], toy, cfg, progress=False)[0]
    first = engine.train(model, [member], toy, cfg, progress=False, stop=8)[0]
    rest = engine.train(model, [engine.Member(seed=3, init=first.final)], toy, cfg,
                        progress=False, start=8)[0]
    assert first.iterations.tolist() == [0, 4, 8] and rest.iterations.tolist() == [8, 12, 16, 20]
    for name, value in whole.final.items():
        assert torch.equal(rest.final[name], value), name
