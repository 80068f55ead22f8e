"""How a step computes (``Train.precision``, ``compile``, ``cuda_graphs``): fp32 is the
numbers lt_core computed before these options existed; bf16 and compiled steps stay within
a stated tolerance of them; tf32 and CUDA graphs change nothing on a CPU."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lt_core import data, engine, models
from lt_core.arithmetic import Arithmetic
from lt_core.config import Train, key_dict
from lt_core.provenance import cpu_kind

# Two short trainings' numbers, computed at commit 166eaf2 (before ``precision`` existed) by
# ``runs()`` below with the executions lt_core now picks on a CPU (FC: vmap; ResNet-20:
# members in turn, NCHW), on an AMD EPYC whose generation was not recorded; and ``pinned``:
# the same numbers on recorded kinds of CPU (``provenance.cpu_kind``), which must reproduce
# bit for bit there (another generation's kernels sum in another order).
BEFORE = json.loads((Path(__file__).parent / "fp32_numbers.json").read_text())
PINNED = BEFORE["pinned"].get(f"{cpu_kind()}; torch {torch.__version__}")


def runs(**train) -> dict:
    """FC with Adam (vmap) and ResNet-20 (width 4) with SGD (members in turn), two seeds
    each: each member's test losses and a hash of the final states."""
    out = {}
    toy = data.synthetic({"train": 300, "val": 100, "test": 100}, shape=(1, 8, 8))
    images = data.synthetic({"train": 64, "val": 16, "test": 32}, shape=(3, 16, 16))
    cases = (
        ("fc-adam", models.build("fc", toy.input_shape), toy,
         Train(optimizer="adam", lr=1e-2, iterations=30, eval_every=10, batch_size=20,
               **train)),
        ("resnet20-sgd", models.build("resnet20", images.input_shape, width=4), images,
         Train(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-4, iterations=6,
               eval_every=3, batch_size=16, divergence="non_finite", **train)))
    for name, model, ds, cfg in cases:
        members = [engine.Member(seed=s, init=models.initial_state(model, s)) for s in (0, 1)]
        results = engine.train(model, members, ds, cfg, progress=False)
        h = hashlib.sha256()
        for r in results:
            for k in sorted(r.final):
                h.update(r.final[k].contiguous().numpy().tobytes())
        out[name] = {"test_loss": [r.metrics["test_loss"].tolist() for r in results],
                     "final_sha256": h.hexdigest()}
    return out


@pytest.mark.parametrize("train", [{}, {"precision": "fp32"}, {"precision": "tf32"},
                                   {"cuda_graphs": True}], ids=str)
def test_fp32_computes_the_numbers_of_before(train):
    """The default, fp32 named, and the options that only act on CUDA: on a CPU, the numbers
    lt_core computed before they existed (bit for bit on the same kind of CPU and torch)."""
    if PINNED is not None:  # the pin's thread count: the order of its sums
        threads = torch.get_num_threads()
        torch.set_num_threads(PINNED["threads"])
        try:
            assert runs(**train) == PINNED["runs"]
        finally:
            torch.set_num_threads(threads)
    else:  # another CPU's kernels round differently: measured 9e-7 (FC) and 9e-5 (ResNet-20)
        # from one EPYC generation to another, 2.5e-4 here on one thread instead of two
        now = runs(**train)
        for name, before in BEFORE["runs"].items():
            np.testing.assert_allclose(now[name]["test_loss"], before["test_loss"], rtol=1e-3)


def test_precision_and_compilation_are_part_of_a_key_only_away_from_their_defaults():
    assert key_dict(Train()) == key_dict(Train(precision="fp32", compile=False))
    assert "precision" not in key_dict(Train())
    assert key_dict(Train(precision="bf16"))["precision"] == "bf16"
    assert key_dict(Train(compile=True))["compile"] is True


def test_bf16_keeps_fp32_weights_and_statistics_and_lands_near_fp32():
    """LeNet-300-100 on the embedded digits, 100 Adam steps, 2 seeds: bf16 (autocast) within
    1.5 points of fp32's test accuracy; weights, optimizer state and
    BatchNorm statistics stay float32 (ResNet-20, a few steps)."""
    digits = data.load("mnist", None)
    model = models.build("lenet_300_100", digits.input_shape)
    members = [engine.Member(seed=s, init=models.initial_state(model, s)) for s in (0, 1)]
    acc = {}
    for precision in ("fp32", "bf16"):
        cfg = Train(optimizer="adam", lr=1.2e-3, iterations=100, eval_every=50, batch_size=60,
                    precision=precision)
        acc[precision] = np.array([r.test_acc_at_end for r in
                                   engine.train(model, members, digits, cfg, progress=False)])
    assert (acc["fp32"] > 0.85).all()  # it learned
    assert np.abs(acc["bf16"] - acc["fp32"]).max() <= 0.015, acc
    images = data.synthetic({"train": 64, "val": 16, "test": 32}, shape=(3, 16, 16))
    resnet = models.build("resnet20", images.input_shape, width=4)
    cfg = Train(optimizer="sgd", lr=0.05, momentum=0.9, iterations=4, eval_every=2,
                batch_size=16, divergence="non_finite", precision="bf16")
    result = engine.train(resnet, [engine.Member(0, models.initial_state(resnet, 0))], images,
                          cfg, progress=False)[0]
    assert {t.dtype for n, t in result.final.items() if "num_batches" not in n} == {torch.float32}
    assert np.isfinite(result.metrics["test_loss"]).all()


def test_a_compiled_step_gives_eager_numbers_within_float_tolerance():
    """torch.compile of the vmapped FC population's loss: the same test losses within 1e-4
    relative (measured: 1e-7), not bit for bit (the compiler fuses and reorders)."""
    eager = runs()["fc-adam"]["test_loss"]
    toy = data.synthetic({"train": 300, "val": 100, "test": 100}, shape=(1, 8, 8))
    model = models.build("fc", toy.input_shape)
    members = [engine.Member(seed=s, init=models.initial_state(model, s)) for s in (0, 1)]
    cfg = Train(optimizer="adam", lr=1e-2, iterations=30, eval_every=10, batch_size=20,
                compile=True)
    compiled = [r.metrics["test_loss"] for r in engine.train(model, members, toy, cfg,
                                                              progress=False)]
    np.testing.assert_allclose(compiled, eager, rtol=1e-4)


def test_tf32_and_cuda_graphs_act_on_cuda_only():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert Arithmetic(Train(cuda_graphs=True), cuda).mode == "reduce-overhead"
    assert Arithmetic(Train(cuda_graphs=True), cpu).mode is None
    assert Arithmetic(Train(compile=True, cuda_graphs=True), cpu).mode == "default"
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with Arithmetic(Train(precision="tf32"), cuda).matmul_mode():  # flags only: no GPU needed
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before
    with Arithmetic(Train(precision="tf32"), cpu).matmul_mode():
        assert (torch.backends.cuda.matmul.allow_tf32,
                torch.backends.cudnn.allow_tf32) == before


def test_a_step_makes_no_host_round_trip(monkeypatch):
    """Between fetching a batch and the optimizer's update nothing reads a tensor's value on
    the host (``.item()``, ``.cpu()``, ``bool(t)``, ...): what a CUDA graph can capture, and
    what lets a GPU queue steps without waiting. Evaluations may; they are not steps."""
    from lt_core import optim

    in_step = []
    reads = []
    at_position, step = engine.Batches.at_position, optim.PopulationOptimizer.step

    def starting(self, pos):
        in_step.append(True)
        return at_position(self, pos)

    def ending(self, grads, factor=1.0):
        step(self, grads, factor)
        in_step.clear()

    def host(method):
        original = getattr(torch.Tensor, method)

        def read(self, *args, **kwargs):
            if in_step:
                reads.append(method)
            return original(self, *args, **kwargs)
        return read

    monkeypatch.setattr(engine.Batches, "at_position", starting)
    monkeypatch.setattr(optim.PopulationOptimizer, "step", ending)
    for method in ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__"):
        monkeypatch.setattr(torch.Tensor, method, host(method))
    runs()  # FC (vmap, Adam) and ResNet-20 (members in turn, SGD, crop+flip)
    assert reads == []
