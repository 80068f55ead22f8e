"""Populations as Ray tasks: the same store as the local executor, bit for bit, and a worker
killed mid-task costs nothing but its retry. A local 2-CPU Ray cluster started here."""

import os
import signal
import sys
import threading
import time

import pytest
import torch

from lt_core import executor, loop, models
from lt_core.config import Arm, ConfigError, RayOptions, Train
from lt_core.data import synthetic
from lt_core.store import RunStore

ray = pytest.importorskip("ray")


def test_asking_for_ray_without_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ConfigError, match=r"executor ray needs Ray: pip install 'lt_core\[ray\]'"):
        executor.make("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def sweep(store_root, ex, iterations=40, batches=(8, 12, 16, 20), levels=1):
    """Independent populations (one per batch size, two seeds each), levels of global
    pruning."""
    toy = synthetic({"train": 120, "val": 40, "test": 40}, shape=(1, 8, 8))
    model = models.build("lenet_300_100", toy.input_shape)
    arm = Arm("magnitude", selection="global")
    runs = [loop.Run({"kind": "test", "model": "lenet_300_100", "batch": b, "seed": s}, s, arm,
                        Train(optimizer="sgd", lr=0.05, batch_size=b, iterations=iterations,
                              eval_every=iterations // 2))
            for b in batches for s in (0, 1)]
    store = RunStore(store_root)
    keys = loop.prune_loop(model, toy, runs, levels, store, torch.device("cpu"),
                              progress=False, executor=ex)
    return store, keys


def same_results(a: RunStore, b: RunStore, keys: list[str]) -> None:
    for key in keys:
        assert a.levels(key) == b.levels(key) and a.levels(key)
        for level in a.levels(key):
            x, y = a.level(key, level), b.level(key, level)
            for name in x.metrics:
                assert x.metrics[name].tobytes() == y.metrics[name].tobytes(), (key, name)
            for name, mask in a.masks(key, level).items():
                assert torch.equal(mask, b.masks(key, level)[name])
        for name, t in a.tensors(key, 0)["final"].items():
            assert torch.equal(t, b.tensors(key, 0)["final"][name]), (key, name)


def test_ray_store_equals_the_local_store(cluster, tmp_path):
    local, keys = sweep(tmp_path / "local", executor.LocalExecutor())
    remote, keys_ray = sweep(tmp_path / "ray", executor.make("ray", RayOptions()))
    assert keys == keys_ray
    same_results(local, remote, keys)


def _workers_running_a_population() -> list[int]:
    """Ray names a worker process after the task it is running: ``ray::_train_in_worker``."""
    pids = []
    for proc in os.listdir("/proc"):
        try:
            with open(f"/proc/{proc}/cmdline", "rb") as f:
                if f.read().startswith(b"ray::_train_in_worker"):
                    pids.append(int(proc))
        except (OSError, ValueError):
            continue
    return pids


def test_a_worker_killed_mid_task_loses_nothing(cluster, tmp_path):
    done = {}
    long = dict(iterations=800, batches=(8, 16), levels=0)  # tasks of a few seconds
    thread = threading.Thread(target=lambda: done.update(result=sweep(
        tmp_path / "ray", executor.make("ray", RayOptions()), **long)))
    thread.start()
    killed, deadline = None, time.time() + 120
    while killed is None and time.time() < deadline and thread.is_alive():
        running = _workers_running_a_population()
        if running:
            killed = running[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    thread.join(timeout=600)
    assert killed is not None, "no task was caught running"
    store, keys = done["result"]
    assert not list(store.root.rglob("*.part"))  # nothing half-written
    local, _ = sweep(tmp_path / "local", executor.LocalExecutor(), **long)
    same_results(local, store, keys)
