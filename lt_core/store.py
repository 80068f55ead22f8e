"""The run store: content-addressed, atomic, resumable.

A run is one member of an experiment (say criterion ``large_final`` with seed 3) and its key
is the sha256 of its canonical resolved config plus the schema version. Layout::

    <root>/<key>/config.json       the resolved config that was hashed
    <root>/<key>/level_000.pt      one file per finished pruning level, written atomically

A level file exists only once the level finished, so an interrupted experiment re-run later
trains exactly the levels that are missing. Stores written before the word was ``level``
name the same files ``round_000.pt``; they are read as they are. ``metrics()`` loads
everything as one tidy frame.

Processes sharing a store: one process at a time computes a run (``claim``), holding the lock
file ``<root>/.locks/<key>.lock`` (``filelock``: an OS lock, released when the process ends,
even by ``kill -9``). Reading needs no lock: every file appears whole, by rename.
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from filelock import FileLock, Timeout

from .config import content_hash
from .files import (
    NO_SPACE,
    atomic_path,
    check_writable,
    remove_temp_files,
    write_problem,
    write_text,
)


class StoreError(RuntimeError):
    """A run store that cannot be written or read; the message names the path and what to do."""


TIDY_COLUMNS = ["run", "line", "seed", "level", "percent_remaining", "iteration", "split",
                "metric", "value"]


def _cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@functools.cache
def git_state() -> dict:
    """The commit of the checkout lt_core runs from and whether its tracked files differ from
    it (``dirty``); empty for an installed wheel or without git. Read once per process."""
    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], text=True,
                                capture_output=True, timeout=10)
        if commit.returncode != 0:
            return {}
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                 "--untracked-files=no", "--", "lt_core", "params"],
                                text=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(device: torch.device | str) -> dict:
    """What produced a result: library versions, the code's commit, the device and the date."""
    import lt_core

    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "lt_core": lt_core.__version__,
        **{f"git_{k}": v for k, v in git_state().items()},
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": name or platform.machine(),
        "cpu": _cpu_name() or platform.machine(),
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def pack_mask(mask: torch.Tensor) -> dict:
    return {"shape": tuple(mask.shape), "bits": np.packbits(mask.cpu().bool().numpy().ravel())}


def unpack_mask(packed: dict) -> torch.Tensor:
    n = int(np.prod(packed["shape"]))
    bits = np.unpackbits(packed["bits"], count=n).astype(np.float32)
    return torch.from_numpy(bits).view(*packed["shape"])


class RunStore:
    def __init__(self, root: str | Path = "runs"):
        self.root = Path(root)

    # -- runs ------------------------------------------------------------------------------
    @staticmethod
    def key(config: dict) -> str:
        return content_hash(config)[:20]

    def prepare(self, config: dict) -> str:
        """Register a run (idempotent) and return its key. Writes nothing if it exists."""
        key = self.key(config)
        path = self.root / key / "config.json"
        if not path.exists():
            try:
                write_text(path, json.dumps(config, indent=2, sort_keys=True))
            except OSError as err:
                raise self._not_writable(err, path) from None
        return key

    @contextmanager
    def claim(self, keys: list[str]) -> Iterator[None]:
        """Hold ``keys`` for this process: no other process computes these runs meanwhile.

        Waits while another process holds any of them; the caller then finds their levels
        done and only trains what is still missing. Locks are taken in key order, so processes
        claiming overlapping runs cannot deadlock. Once a run is held, temp files of its level
        files are a killed writer's and are removed (not config.json's: ``prepare`` writes it
        without the lock), and its folder is checked to be writable, so a read-only store
        fails here, before anything trains. ``claim([])`` writes nothing.
        """
        waited = False
        with ExitStack() as held:
            for key in sorted(set(keys)):
                try:
                    (self.root / ".locks").mkdir(parents=True, exist_ok=True)
                    lock = FileLock(self.root / ".locks" / f"{key}.lock")
                    try:
                        lock.acquire(blocking=False)
                    except Timeout:
                        if not waited:
                            print(f"waiting for another process computing runs in {self.root}",
                                  file=sys.stderr, flush=True)
                            waited = True
                        lock.acquire()
                    held.callback(lock.release)
                    remove_temp_files(self.root / key, "*_*.pt")
                    check_writable(self.root / key)
                except OSError as err:
                    raise self._not_writable(err) from None
            yield

    def _not_writable(self, err: OSError, path: Path | None = None) -> StoreError:
        if err.errno in NO_SPACE:
            return StoreError(f"{write_problem(err, path or err.filename or self.root)}: "
                              "finished levels are kept")
        return StoreError(f"run store {self.root} cannot be written ({err.strerror}: "
                          f"{err.filename or self.root}); set store: (or --store) to a folder "
                          "you can write")

    def config(self, key: str) -> dict:
        path = self.root / key / "config.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise StoreError(f"{path} is unreadable ({err}); delete it and rerun the experiment "
                             "that made it, which writes it again (the levels beside it stay)"
                             ) from None

    def keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob("*/config.json"))

    # -- levels ----------------------------------------------------------------------------
    def _level_path(self, key: str, level: int) -> Path:
        """The level's file; a store of an earlier version names it ``round_NNN.pt``."""
        path = self.root / key / f"level_{level:03d}.pt"
        legacy = path.with_name(f"round_{level:03d}.pt")
        return legacy if not path.exists() and legacy.exists() else path

    def has_level(self, key: str, level: int) -> bool:
        return self._level_path(key, level).exists()

    def levels(self, key: str) -> list[int]:
        return sorted({int(p.stem.split("_")[1]) for pattern in ("level_*.pt", "round_*.pt")
                       for p in (self.root / key).glob(pattern)})

    def save_level(self, key: str, level: int, record: dict) -> None:
        # Serialised in memory, then written by Python: torch's own file writer reports a full
        # disk as "unexpected pos", Python's write as ENOSPC or EFBIG.
        buffer = io.BytesIO()
        torch.save(record, buffer)
        path = self._level_path(key, level)
        try:
            with atomic_path(path) as tmp:
                tmp.write_bytes(buffer.getbuffer())
        except OSError as err:
            raise self._not_writable(err, path) from None

    def load_level(self, key: str, level: int) -> dict:
        path = self._level_path(key, level)
        try:
            return torch.load(path, weights_only=False)
        except Exception as err:  # torch.load fails in many ways on a damaged file
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise StoreError(f"{path} is unreadable ({reason}); delete it and the later levels "
                             "of that run, then rerun to compute them again") from None

    # -- tables ----------------------------------------------------------------------------
    def metrics(self, keys: list[str] | None = None) -> pd.DataFrame:
        """Every evaluation of every level of the given runs, one row per value (tidy)."""
        frames = []
        for key, cfg, level, rec in self._records(keys):
            for name, values in rec.get("metrics", {}).items():
                split, metric = name.split("_", 1)
                frames.append(pd.DataFrame({
                    "run": key, "line": _line(cfg, key), "seed": cfg.get("seed"),
                    "level": level, "percent_remaining": rec.get("percent_remaining", 100.0),
                    "iteration": rec["iterations"], "split": split, "metric": metric,
                    "value": values,
                }))
        if not frames:
            return pd.DataFrame(columns=TIDY_COLUMNS)
        return pd.concat(frames, ignore_index=True)[TIDY_COLUMNS]

    def summary(self, keys: list[str] | None = None) -> pd.DataFrame:
        """One row per run and level: early-stopping iteration, test accuracy there, failure
        (a failed level has neither: NaN)."""
        return pd.DataFrame([{
            "run": key, "line": _line(cfg, key), "seed": cfg.get("seed"),
            "level": level, "percent_remaining": rec["percent_remaining"],
            "early_stop_iteration": rec["early_stop_iteration"],
            "test_acc_at_early_stop": rec["test_acc_at_early_stop"],
            "failed": rec["failed_at"] is not None,
            "failed_at": rec["failed_at"],  # the iteration where it diverged
            "collapsed": rec.get("collapsed", []),  # layers its mask left empty
            "wall_s": rec.get("wall_s"),
        } for key, cfg, level, rec in self._records(keys)])

    def _records(self, keys: list[str] | None):
        """Yield (key, config, level, record) for every finished level of the given runs."""
        for key in keys if keys is not None else self.keys():
            cfg = self.config(key)
            for level in self.levels(key):
                yield key, cfg, level, self.load_level(key, level)


def _line(cfg: dict, key: str) -> str:
    """A run's line label when read straight from the store (z19.experiment.Result labels by arm)."""
    return cfg.get("label") or cfg.get("criterion") or key
