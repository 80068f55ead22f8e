"""The engine against plain PyTorch: three members trained as one population equal three
separate ordinary loops (nn.Module with nn.BatchNorm2d, torch.optim.SGD with momentum and
weight decay, the same schedule, batches and augmentation) in weights, BatchNorm running
statistics and evaluation accuracy.

Both sides compute in float64. In float32 the gradients of BatchNorm's parameters alone carry
a rounding error of up to 1e-3 relative (sums with heavy cancellation; measured: a 1e-7
perturbation of a ResNet-20 moves them by that much in float32 and by 2e-7 in float64), and
training amplifies it, so two correct float32 implementations part after a few steps."""

import pytest
import torch
import torch.nn.functional as F

from lt_core import engine, models, schedule, seeds
from lt_core.config import Train
from lt_core.data import synthetic_images
from lt_core.data.augment import crop_flip, draws

CFG = Train(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4, batch_size=12,
            iterations=55, eval_every=25, last_batch="keep", milestones=[4.0, 7.0],
            warmup_epochs=1.0)  # 6 iterations per epoch, the last one of 4 examples
LRS, WDS = [None, 0.02, None], [None, None, 5e-4]  # per-member overrides (H21's grids)


@pytest.fixture(autouse=True)
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture(scope="module")
def images():
    ds = synthetic_images({"train": 64, "val": 0, "test": 60}, shape=(3, 16, 16), seed=3)
    return ds.with_options(validation="none", normalize="imagenet", augment="crop_flip")


def plain_loop(model: torch.nn.Module, seed: int, lr: float, wd: float, data) -> torch.nn.Module:
    """One network as a user would train it, fed the engine's batches and augmentation."""
    x_train, y_train = data.splits["train"]
    plan = schedule.plan(CFG, len(y_train))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=CFG.momentum, weight_decay=wd)
    order = seeds.generator(seed, "data-order")
    model.train()
    for step in range(plan.stop):
        epoch, pos = divmod(step, plan.per_epoch)
        if pos == 0:
            perm = torch.randperm(len(y_train), generator=order)
            aug = draws(seed, epoch, len(y_train), data.augment.padding)
        sl = slice(pos * CFG.batch_size, (pos + 1) * CFG.batch_size)
        idx = perm[sl]
        x = data.inputs(crop_flip(x_train[idx], aug[:, sl], data.augment.padding))
        for group in opt.param_groups:
            group["lr"] = lr * plan.factor(step)
        loss = F.cross_entropy(model(x), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.mark.parametrize("name, width, strategy", [
    ("resnet20", 4, "loop"), ("resnet20", 4, "vmap"), ("vgg16", 8, "loop"),
])
def test_population_equals_plain_pytorch_loops(images, name, width, strategy):
    model = models.build(name, images.input_shape, width=width)
    members = [engine.Member(seed=s, init=models.initial_state(model, s), lr=lr, weight_decay=wd)
               for s, lr, wd in zip((0, 1, 2), LRS, WDS)]
    execution = engine.Execution(strategy)  # NCHW: the CPU path (lt_core.device)
    results = engine.train(model, members, images, CFG, progress=False, execution=execution)
    x_test, y_test = images.splits["test"]
    for m, res in zip(members, results):
        ref = models.build(name, images.input_shape, width=width)
        ref.load_state_dict(models.initial_state(ref, m.seed))
        plain_loop(ref, m.seed, m.lr or CFG.lr, m.weight_decay or CFG.weight_decay, images)
        state = ref.state_dict()
        assert set(state) == set(res.final)
        for key, value in state.items():  # parameters and running statistics
            error = (res.final[key] - value).abs().max().item()
            assert error <= 1e-6 * max(value.abs().max().item(), 1.0), (key, error)
        ref.eval()
        with torch.no_grad():
            acc = (ref(images.inputs(x_test)).argmax(1) == y_test).float().mean().item()
        # The engine's own evaluation of the final state (a run that learned nothing on this
        # toy task is marked failed, so its recorded end accuracy is NaN by design).
        engine_acc = engine.evaluate(model, [res.final], images, device="cpu")[0]
        assert abs(engine_acc - acc) <= 1 / len(y_test) + 1e-6
        assert res.iterations.tolist() == [0, 25, 50, 55]
        assert int(res.final["bn.num_batches_tracked" if name == "resnet20"
                             else "layers.1.num_batches_tracked"]) == 55
