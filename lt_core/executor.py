"""Where populations train: in this process (``local``, the default) or as Ray tasks.

The unit of work is one population training, one ``engine.train`` call (a level of an
experiment's runs that share a training config, a rewind point, an H21 eval population).
The pruning loop hands each level's independent populations to an executor at once and
waits for all of them; a level waits for the level before it.

With Ray (``executor: ray``; options in ``config.RayOptions``), every population is a task
on an existing cluster (``ray.address`` or ``RAY_ADDRESS``; none: a local one is started),
asking for ``gpus_per_task`` GPUs (fractions allowed) and ``cpus_per_task`` CPUs; a task computes with that many intra-op threads. The
dataset goes to the object store once per experiment. Results come back to the driver, which
alone writes the run store, through the same atomic writes and under the same run locks as a
local run: workers need no shared filesystem and never leave a half-written file. A worker
killed mid-task loses that population's training only: Ray runs the task again
(``max_retries``), and an interrupted driver's rerun resumes from the store.

On the CPU a member's numbers do not depend on which population it trains in (``engine``),
so the Ray executor may split a population into groups of ``max_population`` members;
they do depend on the number of threads for conv nets (measured: Conv2, 10 Adam steps,
1 vs 2 threads differ by 9e-4), which each level's ``env`` records.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

import torch

from . import engine
from .config import ConfigError, RayOptions

RAY_INSTALL = "pip install 'lt_core[ray]' (or: pip install ray==2.60.0)"


@dataclass
class Population:
    """One population training: the arguments of one ``engine.train`` call."""

    model: torch.nn.Module
    members: list[engine.Member]
    data: Any  # a Dataset, or (Ray) an object reference to one
    cfg: Any
    device: str
    kwargs: dict = field(default_factory=dict)  # desc, start, stop, execution, progress

    def __call__(self) -> list[engine.MemberResult]:
        return engine.train(self.model, self.members, self.data, self.cfg, self.device,
                            **self.kwargs)


class LocalExecutor:
    """In this process, one population after the other."""

    def map(self, populations: list[Population]) -> list[list[engine.MemberResult]]:
        return [p() for p in populations]


class RayExecutor:
    def __init__(self, cfg: RayOptions):
        try:
            import ray
        except ImportError:
            raise ConfigError(f"executor ray needs Ray: {RAY_INSTALL}") from None
        self.ray, self.cfg = ray, cfg
        if not ray.is_initialized():
            address = cfg.address or os.environ.get("RAY_ADDRESS")
            check_address(address)
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         ignore_reinit_error=True)
            except ConnectionError as err:  # "auto" with no cluster running
                raise ConfigError(f"no Ray cluster found for address {address!r} "
                                  f"({str(err).split('. ')[0][:80]}); {_START}") from None
        self._train = ray.remote(_train_in_worker).options(
            num_gpus=cfg.gpus_per_task, num_cpus=cfg.cpus_per_task, max_retries=cfg.max_retries)
        self._data: dict[int, Any] = {}

    def map(self, populations: list[Population]) -> list[list[engine.MemberResult]]:
        size = self.cfg.max_population
        refs, shape = [], []
        for p in populations:
            chunks = [p.members[i : i + size] for i in range(0, len(p.members), size)] \
                if size else [p.members]
            shape.append(len(chunks))
            data = self._put(p.data)
            device = "auto" if self.cfg.gpus_per_task else "cpu"
            for chunk in chunks:  # the data by reference, as a top-level argument
                task = Population(p.model, chunk, None, p.cfg, device,
                                  {**p.kwargs, "progress": False})
                refs.append(self._train.remote(task, data, self.cfg.cpus_per_task))
        results = self.ray.get(refs)
        out, i = [], 0
        for n in shape:
            out.append([r for chunk in results[i : i + n] for r in chunk])
            i += n
        return out

    def _put(self, data: Any) -> Any:
        """The dataset in the object store, once (tasks get a reference, not a copy each)."""
        if id(data) not in self._data:
            self._data[id(data)] = (data, self.ray.put(data.to("cpu")))
        return self._data[id(data)][1]


CONNECT_TIMEOUT_S = 3.0
_START = ("start one (ray start --head) or set ray.address (or RAY_ADDRESS) to a running "
          "cluster's host:port")


def check_address(address: str | None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """One TCP connect to a Ray cluster's address, before any work: where nothing listens,
    ``ray.init`` retries for minutes, prints its own messages and ignores SIGTERM meanwhile.
    None, "auto" and "local" are Ray's to resolve (start or find a local cluster)."""
    if address in (None, "", "auto", "local"):
        return
    client = address.startswith("ray://")
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon:  # no port: Ray's default (the client server's, or the GCS's)
        host, port = address.removeprefix("ray://"), "10001" if client else "6379"
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"Ray address {address[:60]!r} is not host:port (ray.address or "
                          "RAY_ADDRESS)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        reason = err.strerror or str(err) or type(err).__name__
        raise ConfigError(f"no Ray cluster answers at {address[:60]} ({reason}); "
                          f"{_START}") from None


def _train_in_worker(population: Population, data: Any, threads: int
                     ) -> list[engine.MemberResult]:
    torch.set_num_threads(threads)
    population.data = data
    return population()


def make(name: str = "local", ray: RayOptions | None = None) -> LocalExecutor | RayExecutor:
    """The executor an experiment's ``executor`` and ``ray`` fields ask for."""
    return LocalExecutor() if name == "local" else RayExecutor(ray or RayOptions())
