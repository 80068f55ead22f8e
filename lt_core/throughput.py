"""`python -m lt_core.bench --only throughput`: images per second of every way the engine can
run a population, and where one ResNet-20 step's time goes.

Z19's FC (batch 60, Adam) and ResNet-20 (batch 128, SGD with momentum and weight decay,
crop+flip), at the papers' settings on synthetic data of their shapes, for P = 1, 8, 32, 64
(FC also 128): eager steps of both executions (``vmap``, members in turn) in each precision
(fp32, tf32, bf16), then compiled steps and CUDA-graph steps (``vmap``; fp32 and bf16).
Lines print as they are measured, most important first, and no new measurement starts once
``budget_s`` has passed (the rest are named as skipped), so a device call cut short still
returns what it measured. Last, a ``torch.profiler`` summary of one ResNet-20 step at P = 32:
kernel time, the gaps between kernels and the host-device copies.

On a CPU this is the dry run of the device script: the same code at P = 1 and 2, a few steps,
ResNet-20 at width 4 and batch 16 (its numbers mean nothing).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch

from . import engine, models
from .config import Train
from .data import synthetic, synthetic_images

POPULATIONS = {"fc": (1, 8, 32, 64, 128), "resnet20": (1, 8, 32, 64)}
DRY_RUN_POPULATIONS = (1, 2)
PRECISIONS = ("fp32", "tf32", "bf16")


def _configs(cfgs: dict[str, Train], populations: dict[str, tuple[int, ...]],
             compiled_populations: dict[str, tuple[int, ...]]
             ) -> list[tuple[str, str, int, str, Train]]:
    """(network, execution, P, name, Train) in the order they are measured."""
    out = []
    for net, cfg in cfgs.items():  # eager: every execution and precision
        for P in populations[net]:
            for strategy in ("vmap", "loop"):
                for precision in PRECISIONS:
                    out.append((net, strategy, P, f"{net}_{strategy}_eager_{precision}_p{P}",
                                dataclasses.replace(cfg, precision=precision)))
    for mode, flags in (("compiled", {"compile": True}), ("graphs", {"cuda_graphs": True})):
        for net, cfg in cfgs.items():
            for P in compiled_populations[net]:
                for precision in ("fp32", "bf16"):
                    out.append((net, "vmap", P, f"{net}_vmap_{mode}_{precision}_p{P}",
                                dataclasses.replace(cfg, precision=precision, **flags)))
    return out


def bench_throughput(device: torch.device, steps: int, fc_cfg: Train, resnet_cfg: Train,
                     budget_s: float, step_ms: Callable, out: Callable[[str, float], None]
                     ) -> None:
    """Images per second (all members together) of each configuration, printed by ``out``
    as it is measured; ``step_ms(model, data, cfg, P, steps, execution)`` times one."""
    cpu = device.type == "cpu"
    data = {"fc": synthetic({"train": 6_000 if cpu else 55_000, "val": 0, "test": 100}
                            ).with_options(validation="none").to(device),
            "resnet20": synthetic_images({"train": 512 if cpu else 50_000, "val": 0,
                                          "test": 100}).with_options(
                validation="none", augment="crop_flip").to(device)}
    nets = {name: models.build(name, data[name].input_shape) for name in data}
    populations = compiled = POPULATIONS
    if cpu:  # the dry run: every path, at sizes that take seconds
        nets["resnet20"] = models.build("resnet20", data["resnet20"].input_shape, width=4)
        resnet_cfg = dataclasses.replace(resnet_cfg, batch_size=16)
        populations = {k: DRY_RUN_POPULATIONS for k in POPULATIONS}
        compiled = {k: DRY_RUN_POPULATIONS[:1] for k in POPULATIONS}  # compiling takes minutes
    if cpu:
        print("throughput dry run on the CPU: every path once; its numbers mean nothing",
              flush=True)
    start = time.perf_counter()
    for net, strategy, P, name, cfg in _configs({"fc": fc_cfg, "resnet20": resnet_cfg},
                                                populations, compiled):
        if time.perf_counter() - start > budget_s:
            print(f"{name} skipped (past the {budget_s:g} s budget)", flush=True)
            continue
        try:
            ms = step_ms(nets[net], data[net], cfg, P, steps,
                         engine.Execution(strategy, channels_last=not cpu))
        except Exception as err:  # one configuration's failure must not lose the others
            print(f"{name} FAILED: {type(err).__name__}: {str(err)[:200]}", flush=True)
            continue
        out(f"{name}_images_per_s", P * cfg.batch_size / ms * 1e3)


def profile_step(device: torch.device, resnet_cfg: Train, P: int = 32) -> str:
    """One ResNet-20 training step at population P (vmap, eager, fp32) under the profiler:
    a short table of where its time goes."""
    from torch.profiler import ProfilerActivity, profile

    cpu = device.type == "cpu"
    data = synthetic_images({"train": 512, "val": 0, "test": 100}).with_options(
        validation="none", augment="crop_flip").to(device)
    model = models.build("resnet20", data.input_shape)
    if cpu:  # the dry run
        P, model = 2, models.build("resnet20", data.input_shape, width=4)
        resnet_cfg = dataclasses.replace(resnet_cfg, batch_size=16)
    members = [engine.Member(seed=s, init=models.initial_state(model, s)) for s in range(P)]
    ex = engine.Execution("vmap", channels_last=not cpu)

    def steps(n: int) -> None:
        engine.train(model, members, data, dataclasses.replace(resnet_cfg, iterations=n),
                     device, progress=False, execution=ex)

    steps(2)  # warm-up
    activities = [ProfilerActivity.CPU] + ([] if cpu else [ProfilerActivity.CUDA])
    with profile(activities=activities) as prof:
        t0 = time.perf_counter()
        steps(3)
        if not cpu:
            torch.cuda.synchronize()
        wall = (time.perf_counter() - t0) * 1e6
    events = prof.key_averages()
    if cpu:
        top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:5]
        rows = [f"{e.key[:40]:40s} {e.self_cpu_time_total / 1e3:9.1f} ms  x{e.count}"
                for e in top]
        return "\n".join([f"profile (dry run): ResNet-20 (width 4) at P = {P}, 3 steps + 2 "
                          f"evaluations on the CPU ({wall / 1e3:.0f} ms); the 5 largest ops "
                          "by own time:", *rows])
    kernels = [e for e in events if e.device_type.name == "CUDA"]
    kernel_us = sum(e.self_device_time_total for e in kernels)
    launches = sum(e.count for e in kernels)
    copies = [e for e in kernels if "memcpy" in e.key.lower()]
    top = sorted(kernels, key=lambda e: e.self_device_time_total, reverse=True)[:5]
    lines = [f"profile: ResNet-20 at P = {P}, 3 steps + 2 evaluations, {wall / 1e3:.1f} ms "
             "of wall time",
             f"kernel time      {kernel_us / 1e3:9.1f} ms ({100 * kernel_us / wall:.0f}% of "
             f"wall; the rest: launch gaps and host work)",
             f"kernel launches  {launches:9d} ({launches / 3:.0f} per step, evaluations "
             "included)",
             f"copies           {sum(e.count for e in copies):9d} "
             f"({sum(e.self_device_time_total for e in copies) / 1e3:.1f} ms)",
             "largest kernels:"]
    lines += [f"  {e.key[:50]:50s} {e.self_device_time_total / 1e3:8.1f} ms  x{e.count}"
              for e in top]
    return "\n".join(lines)
