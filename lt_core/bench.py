"""`make bench`: the engine against a hand-written loop, measured side by side in one process.

FC 300-100-10, batch 60, Adam, MNIST-shaped data in memory, a fixed number of steps. Each
configuration is timed in several interleaved repeats and the median is printed, so a noisy
neighbour on the machine hits all of them alike. Lines are ``name value``; the last one is
``population_vs_plain``, after ``supermask_vs_fc_step``: a learned-supermask step (SGD on mask
logits, a Bernoulli mask sample per forward) against an engine FC training step (Adam), both
at the supermask's batch 250 and the same population.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F

from . import engine, models, supermask
from .config import Train
from .data import synthetic


def plain_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int,
               batch: int = 60) -> float:
    """The honest reference: one network, tensors in memory, torch.optim.Adam (fused kernel,
    the fastest PyTorch offers, the same kernel the engine uses), no engine. ms per step."""
    opt = torch.optim.Adam(model.parameters(), lr=1.2e-3, fused=True)
    perm = torch.randperm(len(y))
    per_epoch = len(y) // batch

    def run(n: int) -> None:
        for i in range(n):
            idx = perm[(i % per_epoch) * batch : (i % per_epoch + 1) * batch]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(x.device)

    run(20)
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps * 1e3


ADAM = Train(lr=1.2e-3, eval_every=10**9)  # evaluation pushed past the end
SUPERMASK_SGD = Train(optimizer="sgd", lr=100.0, momentum=0.9, batch_size=250, eval_every=10**9)


def engine_step_ms(model: torch.nn.Module, data, population: int, steps: int,
                   cfg: Train = ADAM) -> float:
    """ms per population step of lt_core.engine.train."""
    members = [engine.Member(seed=s, init=models.initial_state(model, s)) for s in range(population)]
    return _train_step_ms(model, members, data, cfg, steps)


def supermask_step_ms(base: torch.nn.Module, data, population: int, steps: int) -> float:
    """ms per population step of learned-supermask training (c = 0), as supermask.learned runs
    it."""
    members = [supermask.learned_member(base, s, 0.0) for s in range(population)]
    return _train_step_ms(supermask.SupermaskNet(base), members, data, SUPERMASK_SGD, steps)


def _train_step_ms(model, members, data, cfg: Train, steps: int) -> float:
    def run(n: int) -> float:
        t0 = time.perf_counter()
        engine.train(model, members, data, dataclasses.replace(cfg, iterations=n), progress=False)
        return time.perf_counter() - t0

    run(min(20, steps))  # warm-up
    # The whole call includes setup and the two evaluations (start and end): subtract a
    # one-step call.
    return (run(steps + 1) - run(1)) / steps * 1e3


def matmul_rate_gflops(device: torch.device) -> float:
    """This machine's dense float32 matmul rate (best of several 1024^3 products)."""
    a = torch.rand(1024, 1024, device=device)
    b = torch.rand(1024, 1024, device=device)
    best = float("inf")
    for _ in range(10):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / 5)
    return 2 * 1024**3 / best / 1e9


def step_flops(model: torch.nn.Module, batch: int = 60) -> float:
    """Forward 2*B*weights, backward twice that (input and weight gradients)."""
    weights = sum(p.numel() for n, p in model.named_parameters() if n.endswith("weight"))
    return 6.0 * batch * weights


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--population", type=int, default=16)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    data = synthetic({"train": 55_000, "val": 100, "test": 100}).to(device)
    x, y = data.splits["train"]
    model = models.build("fc", data.input_shape)
    P = args.population

    plain, p1, pP, fc250, sm250 = [], [], [], [], []
    big = dataclasses.replace(ADAM, batch_size=SUPERMASK_SGD.batch_size)
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits all alike
        torch.manual_seed(0)
        plain.append(plain_loop(models.build("fc", data.input_shape).to(device), x, y, args.steps))
        p1.append(engine_step_ms(model, data, 1, args.steps))
        pP.append(engine_step_ms(model, data, P, max(args.steps // 4, 50)) / P)
        fc250.append(engine_step_ms(model, data, P, max(args.steps // 8, 5), big) / P)
        sm250.append(supermask_step_ms(model, data, P, max(args.steps // 8, 5)) / P)
    plain_ms, p1_ms, pP_ms, fc250_ms, sm250_ms = (
        statistics.median(v) for v in (plain, p1, pP, fc250, sm250))
    floor_ms = step_flops(model) / (matmul_rate_gflops(device) * 1e9) * 1e3
    tag = "" if device.type == "cpu" else f"_{device.type}"
    print(f"device{tag} {device} threads={torch.get_num_threads()}")
    print(f"plain_loop_ms_per_step{tag} {plain_ms:.3f}")
    print(f"engine_p1_ms_per_step{tag} {p1_ms:.3f}")
    print(f"engine_p{P}_ms_per_network_step{tag} {pP_ms:.3f}")
    print(f"matmul_limit_ms_per_step{tag} {floor_ms:.3f}")
    print(f"engine_fc_batch250_p{P}_ms_per_network_step{tag} {fc250_ms:.3f}")
    print(f"supermask_batch250_p{P}_ms_per_network_step{tag} {sm250_ms:.3f}")
    print(f"engine_p1_vs_plain{tag} {p1_ms / plain_ms:.3f}")
    print(f"supermask_vs_fc_step{tag} {sm250_ms / fc250_ms:.3f}")
    print(f"population_vs_plain{tag} {plain_ms / pP_ms:.3f}")


if __name__ == "__main__":
    main()
