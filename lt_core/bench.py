"""`make bench`: the engine against hand-written loops, measured side by side in one process.

Three networks, each with a plain loop as a user would write it (one ``nn.Module``, default
memory format, ``torch.optim``, tensors in memory) and the population engine at several P:

* FC 300-100-10, batch 60, Adam, MNIST-shaped: ``population_vs_plain`` (P = 16), and
  ``supermask_vs_fc_step``: a learned-supermask step (SGD on mask logits, a Bernoulli mask
  sample per forward) against an engine FC training step (Adam), both at the supermask's
  batch 250 and the same population; and the floor of an FC population step (its matmuls
  and one Adam update, nothing else): ``plain_vs_floor``, the best ``population_vs_plain``
  any engine could reach on this machine, and ``population_vs_floor``, how near the engine is;
* Conv2, batch 60, Adam, CIFAR-shaped: ``conv2_population_vs_plain`` (P = 3);
* ResNet-20, batch 128, SGD with momentum and weight decay, crop+flip augmentation,
  CIFAR-shaped: ``resnet20_population_vs_plain`` (P = 8);
* ``--only throughput`` (``lt_core.throughput``): images per second of FC and ResNet-20 for
  every execution, precision and compilation, and a profile of one ResNet-20 step;
* a tiny sweep of 4 independent populations through the pruning loop, the local executor
  against 2 Ray workers of one thread each: ``ray_vs_local``.

Each configuration is timed in several interleaved repeats and the median is printed, so a
noisy neighbour on the machine hits all of them alike. Lines are ``name value``; ratios > 1
mean the engine is faster per network (``supermask_vs_fc_step``: below 1.5 is the target).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F

from . import engine, loop, models, schedule, seeds, throughput
from .config import Train
from .data import synthetic, synthetic_images
from .data.augment import crop_flip, draws
from .papers import z19

FC_CFG = Train(optimizer="adam", lr=1.2e-3, batch_size=60, eval_every=10**9)
CONV2_CFG = Train(optimizer="adam", lr=2e-4, batch_size=60, eval_every=10**9)
RESNET_CFG = Train(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=1e-4, batch_size=128,
                   eval_every=10**9, last_batch="keep")
# Z19's learned supermask: SGD on mask logits at batch 250 (its FC comparison: FC_CFG at 250).
SUPERMASK_SGD = Train(optimizer="sgd", lr=100.0, momentum=0.9, batch_size=250, eval_every=10**9)


def plain_loop(model: torch.nn.Module, data, cfg: Train, steps: int) -> float:
    """ms per step of the honest reference: one network, torch.optim (Adam: the fused kernel,
    the fastest PyTorch offers; SGD: its default), the same batches and augmentation."""
    device = next(model.parameters()).device
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                              weight_decay=cfg.weight_decay)
    x_train, y_train = data.splits["train"]
    n = len(y_train)
    per_epoch = schedule.iterations_per_epoch(n, cfg.batch_size, cfg.last_batch)
    perm = torch.randperm(n, generator=seeds.generator(0, "bench")).to(device)
    aug = draws(0, 0, n, data.augment.padding).to(device) if data.augment else None

    def run(k: int) -> None:
        for i in range(k):
            sl = slice((i % per_epoch) * cfg.batch_size, (i % per_epoch + 1) * cfg.batch_size)
            x = x_train[perm[sl]]
            if aug is not None:
                x = crop_flip(x, aug[:, sl], data.augment.padding).contiguous()
            loss = F.cross_entropy(model(data.inputs(x)), y_train[perm[sl]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _sync(device)

    run(3)
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps * 1e3


def engine_step_ms(model: torch.nn.Module, data, cfg: Train, population: int, steps: int,
                   execution: engine.Execution | None = None) -> float:
    """ms per population step of lt_core.engine.train (evaluation pushed past the end; the
    fixed cost of a call, its two evaluations included, measured and subtracted)."""
    members = [engine.Member(seed=s, init=models.initial_state(model, s)) for s in range(population)]
    return _train_step_ms(model, members, data, cfg, steps, execution)


def supermask_step_ms(base: torch.nn.Module, data, population: int, steps: int) -> float:
    """ms per population step of learned-supermask training (c = 0), as z19.learned.learned runs
    it."""
    members = [z19.learned.learned_member(base, s, 0.0) for s in range(population)]
    return _train_step_ms(z19.learned.SupermaskNet(base), members, data, SUPERMASK_SGD, steps)


def _train_step_ms(model, members, data, cfg: Train, steps: int,
                   execution: engine.Execution | None = None) -> float:
    device = data.splits["train"][0].device

    def call(iterations: int) -> float:
        t0 = time.perf_counter()
        engine.train(model, members, data, dataclasses.replace(cfg, iterations=iterations),
                     device, progress=False, execution=execution)
        _sync(device)
        return time.perf_counter() - t0

    call(3)  # warm-up
    overhead = call(1)
    return (call(steps + 1) - overhead) / steps * 1e3


def fc_floor_ms(device: torch.device, population: int, steps: int,
                batch: int = FC_CFG.batch_size) -> float:
    """ms per network of the work no FC population step can skip: its eight batched matmuls
    (forward, weight gradients, the input gradients of layers 2 and 3) at the population's
    shapes, and one fused Adam update of its stacked parameters; no data, masks or loss.
    ``plain / floor`` is the largest ``population_vs_plain`` any engine could reach here."""
    shapes = [(population, *w.shape) for w in models.build("fc", (1, 28, 28)).parameters()
              if w.dim() == 2]
    x = [torch.randn(population, batch, s[2], device=device) for s in shapes]
    dy = [torch.randn(population, batch, s[1], device=device) for s in shapes]
    params = [torch.randn(s, device=device) for s in shapes]
    params += [torch.randn(population, 1, s[1], device=device) for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p)
    opt = torch.optim.Adam(params, lr=FC_CFG.lr, fused=True)

    def run(k: int) -> None:
        for _ in range(k):
            for layer, w in enumerate(params[:3]):
                torch.bmm(x[layer], w.transpose(1, 2))  # forward
                torch.bmm(dy[layer].transpose(1, 2), x[layer])  # weight gradient
                if layer:
                    torch.bmm(dy[layer], w)  # input gradient
            opt.step()
        _sync(device)

    run(3)
    start = time.perf_counter()
    run(steps)
    return (time.perf_counter() - start) / steps * 1e3 / population


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median_of(repeats: int, fns: dict) -> dict[str, float]:
    """Interleaved repeats, so drifting machine load hits every configuration alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            torch.manual_seed(0)
            times[k].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


def bench_fc(device: torch.device, steps: int, repeats: int, P: int) -> dict[str, float]:
    data = synthetic({"train": 55_000, "val": 100, "test": 100}).to(device)
    model = models.build("fc", data.input_shape)
    fc250 = dataclasses.replace(FC_CFG, batch_size=SUPERMASK_SGD.batch_size)
    t = _median_of(repeats, {
        "plain": lambda: plain_loop(models.build("fc", data.input_shape).to(device), data,
                                    FC_CFG, steps),
        "p1": lambda: engine_step_ms(model, data, FC_CFG, 1, steps),
        "pP": lambda: engine_step_ms(model, data, FC_CFG, P, max(steps // 4, 50)) / P,
        "fc250": lambda: engine_step_ms(model, data, fc250, P, max(steps // 8, 5)) / P,
        "sm250": lambda: supermask_step_ms(model, data, P, max(steps // 8, 5)) / P,
        "floor": lambda: fc_floor_ms(device, P, max(steps // 4, 50)),
    })
    return {"plain_loop_ms_per_step": t["plain"], "engine_p1_ms_per_step": t["p1"],
            f"engine_p{P}_ms_per_network_step": t["pP"],
            f"engine_fc_batch250_p{P}_ms_per_network_step": t["fc250"],
            f"supermask_batch250_p{P}_ms_per_network_step": t["sm250"],
            "engine_p1_vs_plain": t["p1"] / t["plain"],
            "supermask_vs_fc_step": t["sm250"] / t["fc250"],
            f"fc_floor_p{P}_ms_per_network_step": t["floor"],
            "plain_vs_floor": t["plain"] / t["floor"],
            "population_vs_floor": t["floor"] / t["pP"],
            "population_vs_plain": t["plain"] / t["pP"]}


def bench_conv2(device: torch.device, steps: int, repeats: int, P: int = 3) -> dict[str, float]:
    data = synthetic_images({"train": 6_000, "val": 100, "test": 100}).to(device)
    model = models.build("conv2", data.input_shape)
    t = _median_of(repeats, {
        "plain": lambda: plain_loop(models.build("conv2", data.input_shape).to(device), data,
                                    CONV2_CFG, steps),
        "pP": lambda: engine_step_ms(model, data, CONV2_CFG, P, steps) / P,
    })
    return {"conv2_plain_ms_per_step": t["plain"], f"conv2_engine_p{P}_ms_per_network_step": t["pP"],
            "conv2_population_vs_plain": t["plain"] / t["pP"]}


def _resnet_data(device: torch.device, n: int = 10_000):
    return synthetic_images({"train": n, "val": 0, "test": 100}).with_options(
        validation="none", augment="crop_flip").to(device)


def bench_resnet20(device: torch.device, steps: int, repeats: int, P: int = 8
                   ) -> dict[str, float]:
    data = _resnet_data(device)
    model = models.build("resnet20", data.input_shape)
    t = _median_of(repeats, {
        "plain": lambda: plain_loop(models.build("resnet20", data.input_shape).to(device), data,
                                    RESNET_CFG, steps),
        "p1": lambda: engine_step_ms(model, data, RESNET_CFG, 1, steps),
        "pP": lambda: engine_step_ms(model, data, RESNET_CFG, P, steps) / P,
    })
    return {"resnet20_plain_ms_per_step": t["plain"], "resnet20_engine_p1_ms_per_step": t["p1"],
            f"resnet20_engine_p{P}_ms_per_network_step": t["pP"],
            "resnet20_engine_p1_vs_plain": t["p1"] / t["plain"],
            "resnet20_population_vs_plain": t["plain"] / t["pP"]}


def bench_ray(steps: int, repeats: int) -> dict[str, float]:
    """A tiny sweep of 4 independent populations (LeNet-300-100 at 4 batch sizes, 2 seeds
    each, one level) through the pruning loop: the local executor (one population after the
    other, all threads) against 2 Ray workers of one thread each on a local cluster."""
    import tempfile

    from . import executor
    from .config import Arm, RayOptions
    from .store import RunStore

    try:
        import ray
    except ImportError:
        return {}
    toy = synthetic({"train": 2_000, "val": 200, "test": 200})
    model = models.build("lenet_300_100", toy.input_shape)
    runs = [loop.Run({"kind": "bench", "batch": b, "seed": s}, s, Arm("magnitude",
                        selection="global"), Train(optimizer="sgd", lr=0.05, batch_size=b,
                                                   iterations=steps, eval_every=steps))
            for b in (32, 48, 64, 96) for s in (0, 1)]

    def sweep(ex) -> float:
        with tempfile.TemporaryDirectory() as root:
            t0 = time.perf_counter()
            loop.prune_loop(model, toy, runs, 0, RunStore(root), torch.device("cpu"),
                               progress=False, executor=ex)
            return time.perf_counter() - t0

    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    start = time.perf_counter() - t0
    try:
        remote = executor.make("ray", RayOptions(cpus_per_task=1))
        sweep(remote)  # warm-up: workers start, import torch
        t = _median_of(repeats, {"local": lambda: sweep(executor.LocalExecutor()),
                                 "ray": lambda: sweep(remote)})
    finally:
        ray.shutdown()
    return {"ray_cluster_start_s": start, "ray_sweep_local_s": t["local"],
            "ray_sweep_2_workers_s": t["ray"], "ray_vs_local": t["local"] / t["ray"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=["fc", "conv2", "resnet20", "ray"],
                        choices=["fc", "conv2", "resnet20", "throughput", "ray"])
    parser.add_argument("--steps", type=int, default=None, help="steps per timing (per network)")
    parser.add_argument("--population", type=int, default=16, help="FC's population size")
    parser.add_argument("--budget-s", type=float, default=480,
                        help="throughput: start no measurement after this many seconds")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    print(f"device {device} threads={torch.get_num_threads()} torch={torch.__version__}", flush=True)
    cpu = device.type == "cpu"
    lines: dict[str, float] = {}
    if "fc" in args.only:
        lines |= bench_fc(device, args.steps or 400, args.repeats, args.population)
    if "conv2" in args.only:
        lines |= bench_conv2(device, args.steps or (20 if cpu else 200), args.repeats)
    if "resnet20" in args.only:
        lines |= bench_resnet20(device, args.steps or (8 if cpu else 200), args.repeats)
    tag = "" if cpu else f"_{device.type}"
    if "throughput" in args.only:  # printed as measured: a call cut short keeps its lines
        throughput.bench_throughput(
            device, args.steps or (2 if cpu else 50), FC_CFG, RESNET_CFG, args.budget_s,
            engine_step_ms, lambda name, v: print(f"{name}{tag} {v:.1f}",
                                                                  flush=True))
    if "ray" in args.only and cpu:
        lines |= bench_ray(args.steps or 300, args.repeats)
    for name, value in lines.items():
        print(f"{name}{tag} {value:.3f}", flush=True)
    if "throughput" in args.only:
        print(throughput.profile_step(device, RESNET_CFG), flush=True)


if __name__ == "__main__":
    main()
