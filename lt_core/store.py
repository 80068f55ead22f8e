"""The run store: content-addressed, atomic, resumable, with shipped results beneath it.

A run is one member of an experiment (say criterion ``large_final`` with seed 3) and its key
is the sha256 of its canonical resolved config plus the schema version. Layout::

    <root>/<key>/config.json              the resolved config that was hashed
    <root>/<key>/level_000.json           a finished level's metrics and scalars
    <root>/<key>/level_000.masks.npz      the mask it chose, as bits
    <root>/<key>/level_000.tensors.pt     its weights, where it keeps any

(``lt_core.record``: each part reads without the others). Each file is written atomically,
the JSON last: a level exists only once it finished, so an interrupted experiment re-run
later trains exactly the levels that are missing. Stores written before the split hold one
``level_000.pt`` per level (or, before the word was ``level``, ``round_000.pt``); they are
read as they are. ``metrics()`` loads every evaluation as one tidy frame.

Beneath the local folder, read-only, lie the run packs (``lt_core.packfile``): by default
the packs this book ships in ``book/results``. A run a pack holds is read from it and never
trained or written again; only what no layer holds is computed, into the local folder.

Processes sharing a store: one process at a time computes a run (``claim``), holding the lock
file ``<root>/.locks/<key>.lock`` (``filelock``: an OS lock, released when the process ends,
even by ``kill -9``). Reading needs no lock: every file appears whole, by rename.
"""

from __future__ import annotations

import datetime
import functools
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

from . import packfile, record
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


class NotComputed(StoreError):
    """Runs that ``reading`` found unfinished: nothing trains there."""

    def __init__(self, keys: list[str]):
        super().__init__(f"{len(keys)} run(s) are not finished: {', '.join(keys[:3])}"
                         + (", ..." if len(keys) > 3 else ""))
        self.keys = keys


_READING: list = []  # the innermost context's (keys prepared or None, packs): reading, layered


@contextmanager
def reading(packs: list[packfile.PackFile] | None = None) -> Iterator[list[str]]:
    """Within it, every store is read, never computed: a claim of runs that are not finished
    raises NotComputed instead of training them; and the keys experiments prepare are
    collected in the list it yields (an experiment's runs, in order). ``packs`` replaces the
    stores' pack layer (``[]``: the local folder alone)."""
    seen: list[str] = []
    _READING.append((seen, packs))
    try:
        yield seen
    finally:
        _READING.pop()


@contextmanager
def layered(packs: list[packfile.PackFile]) -> Iterator[None]:
    """Within it, every store reads the packs ``packs`` beneath its folder instead of the
    shipped ones, and computes as usual (``[]``: the local folder alone)."""
    _READING.append((None, packs))
    try:
        yield
    finally:
        _READING.pop()


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


class RunStore:
    """The local run folder ``root`` (written) over the run packs ``packs`` (read only;
    None: the shipped ones, ``packfile.shipped``)."""

    def __init__(self, root: str | Path = "runs", packs: list[packfile.PackFile] | None = None):
        self.root = Path(root)
        self._seen, reading_packs = _READING[-1] if _READING else (None, None)
        packs = reading_packs if packs is None else packs
        self.packs = packfile.shipped() if packs is None else list(packs)

    # -- runs ------------------------------------------------------------------------------
    @staticmethod
    def key(config: dict) -> str:
        return content_hash(config)[:20]

    def prepare(self, config: dict) -> str:
        """Register a run (idempotent) and return its key. Writes nothing if it exists here
        or in a pack."""
        key = self.key(config)
        if self._seen is not None:
            if key not in self._seen:
                self._seen.append(key)
            return key
        path = self.root / key / "config.json"
        if not path.exists() and self._pack_of_run(key) is None:
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
        if self._seen is not None and keys:
            raise NotComputed(sorted(set(keys)))
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
                    remove_temp_files(self.root / key, "level_*")
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
        pack = None if path.exists() else self._pack_of_run(key)
        if pack is not None:
            return pack.config(key)
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise StoreError(f"{path} is unreadable ({err}); delete it and rerun the experiment "
                             "that made it, which writes it again (the levels beside it stay)"
                             ) from None

    def keys(self, packs: bool = False) -> list[str]:
        """Every run in the local folder (``packs``: and in the packs)."""
        local = {p.parent.name for p in self.root.glob("*/config.json")} if self.root.is_dir() \
            else set()
        return sorted(local.union(*(p.keys() for p in self.packs)) if packs else local)

    def where(self, key: str, level: int) -> packfile.PackFile | None:
        """The pack a level is read from; None: the local folder (or nowhere)."""
        if self._local(key, level) is not None:
            return None
        return next((p for p in self.packs if level in p.levels(key)), None)

    def _pack_of_run(self, key: str) -> packfile.PackFile | None:
        return next((p for p in self.packs if p.has(f"runs/{key}/config.json")), None)

    # -- levels ----------------------------------------------------------------------------
    def _local(self, key: str, level: int) -> Path | None:
        """The level's file here: its JSON, or a store of an earlier version's one file."""
        folder = self.root / key
        for name in (f"level_{level:03d}.json", f"level_{level:03d}.pt", f"round_{level:03d}.pt"):
            if (folder / name).exists():
                return folder / name
        return None

    def has_level(self, key: str, level: int) -> bool:
        return self._local(key, level) is not None or any(level in p.levels(key)
                                                          for p in self.packs)

    def levels(self, key: str) -> list[int]:
        local = {int(p.name[len(prefix):len(prefix) + 3])
                 for prefix, pattern in (("level_", "level_[0-9][0-9][0-9].json"),
                                         ("level_", "level_[0-9][0-9][0-9].pt"),
                                         ("round_", "round_[0-9][0-9][0-9].pt"))
                 for p in (self.root / key).glob(pattern)}
        return sorted(local.union(*(p.levels(key) for p in self.packs)))

    def save_level(self, key: str, level: int, values: dict) -> None:
        """Write a finished level (a dict of ``lt_core.record``'s fields): its tensors and
        mask first, its JSON last, each atomically."""
        scalars, mask, tensors = record.split(values)
        folder = self.root / key
        parts = []
        if tensors:
            parts.append((folder / f"level_{level:03d}.tensors.pt",
                          record.tensors_to_bytes(tensors)))
        if mask is not None:
            parts.append((folder / f"level_{level:03d}.masks.npz", record.masks_to_bytes(mask)))
        parts.append((folder / f"level_{level:03d}.json", scalars.to_json()))
        for i, (path, raw) in enumerate(parts):
            # Written by Python, not torch's file writer, which reports a full disk as
            # "unexpected pos" where Python's write says ENOSPC or EFBIG.
            try:
                with atomic_path(path) as tmp:
                    tmp.write_bytes(raw)
            except OSError as err:
                for written, _ in parts[:i]:  # no parts of a level that does not exist
                    written.unlink(missing_ok=True)
                raise self._not_writable(err, path) from None

    def part_bytes(self, key: str, level: int, part: str) -> bytes | None:
        """One part of a level as stored (``json``, ``masks.npz``, ``tensors.pt``): what a
        pack copies. None where the level has no such part."""
        local = self._local(key, level)
        if local is not None and local.suffix == ".json":
            path = local.with_name(f"level_{level:03d}.{part}")
            return path.read_bytes() if path.exists() else None
        if local is None:
            pack, entry = self.where(key, level), f"runs/{key}/level_{level:03d}.{part}"
            return pack.read(entry) if pack is not None and pack.has(entry) else None
        value = self._part(key, level, part)  # an earlier version's file: written anew
        if part == "json":
            return value.to_json()
        if part == "masks.npz":
            return None if value is None else record.masks_to_bytes(value)
        return record.tensors_to_bytes(value) if value else None

    def level(self, key: str, level: int) -> record.Level:
        """A level's metrics and scalars (no mask, no weights are read)."""
        return self._part(key, level, "json")

    def masks(self, key: str, level: int) -> dict[str, torch.Tensor] | None:
        """The mask a level chose for the next one (0/1 floats per tensor); None if it
        chose none."""
        packed = self._part(key, level, "masks.npz")
        return None if packed is None else {n: record.unpack_mask(p) for n, p in packed.items()}

    def tensors(self, key: str, level: int, missing_ok: bool = False) -> dict:
        """A level's weights (``record.TENSOR_FIELDS`` it kept). A StoreError if the layer
        that holds the level holds it without them (a pack made without weights), or, with
        ``missing_ok``, none."""
        try:
            return self._part(key, level, "tensors.pt")
        except StoreError:
            if missing_ok and self.has_level(key, level):
                return {}
            raise

    def _part(self, key: str, level: int, part: str):
        local = self._local(key, level)
        if local is not None and local.suffix == ".pt":  # a store of an earlier version
            scalars, mask, tensors = record.split(self._legacy(local), legacy=True)
            return {"json": scalars, "masks.npz": mask, "tensors.pt": tensors}[part]
        name = f"level_{level:03d}.{part}"
        if local is not None:
            path = local.with_name(name)
            read = path.read_bytes if path.exists() else None
            source = str(path)
        else:
            pack = self.where(key, level)
            if pack is None:
                raise StoreError(f"run {key} has no level {level} in {self.root} or its packs")
            entry = f"runs/{key}/{name}"
            read = functools.partial(pack.read, entry) if pack.has(entry) else None
            source = f"{pack.path}:{entry}"
        if read is None:  # a part the level does not have, or a pack left out
            if part == "json":
                raise StoreError(f"{source} is missing")
            if part == "masks.npz" and not self.level(key, level).has_next_mask:
                return None
            if part == "tensors.pt" and not self.level(key, level).tensors:
                return {}
            raise StoreError(f"the {_PART_WORDS[part]} of run {key} level {level} are not in "
                             f"{Path(source.split(':')[0]).name} (a pack made without "
                             "--with-weights)" if local is None else f"{source} is missing")
        try:
            raw = read()
            if part == "json":
                return record.Level.from_json(raw)
            if part == "masks.npz":
                return record.masks_from_bytes(raw)
            return record.tensors_from_bytes(raw)
        except packfile.PackError as err:
            raise StoreError(str(err)) from None
        except Exception as err:  # a damaged file fails in many ways
            raise StoreError(f"{source} is unreadable ({_reason(err)}); delete it and the "
                             "later levels of that run, then rerun to compute them again"
                             ) from None

    def _legacy(self, path: Path) -> dict:
        try:
            return torch.load(path, weights_only=False)
        except Exception as err:  # torch.load fails in many ways on a damaged file
            raise StoreError(f"{path} is unreadable ({_reason(err)}); delete it and the later "
                             "levels of that run, then rerun to compute them again") from None

    # -- tables ----------------------------------------------------------------------------
    def metrics(self, keys: list[str] | None = None) -> pd.DataFrame:
        """Every evaluation of every level of the given runs, one row per value (tidy)."""
        frames = []
        for key, cfg, level, rec in self._records(keys):
            for name, values in rec.metrics.items():
                split, metric = name.split("_", 1)
                frames.append(pd.DataFrame({
                    "run": key, "line": _line(cfg, key), "seed": cfg.get("seed"),
                    "level": level, "percent_remaining": rec.percent_remaining,
                    "iteration": rec.iterations, "split": split, "metric": metric,
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
            "level": level, "percent_remaining": rec.percent_remaining,
            "early_stop_iteration": rec.early_stop_iteration,
            "test_acc_at_early_stop": rec.test_acc_at_early_stop,
            "failed": rec.failed,
            "failed_at": rec.failed_at,  # the iteration where it diverged
            "collapsed": rec.collapsed,  # layers its mask left empty
            "wall_s": rec.wall_s,
        } for key, cfg, level, rec in self._records(keys)])

    def _records(self, keys: list[str] | None):
        """Yield (key, config, level, Level) for every finished level of the given runs."""
        for key in keys if keys is not None else self.keys():
            cfg = self.config(key)
            for level in self.levels(key):
                yield key, cfg, level, self.level(key, level)


_PART_WORDS = {"masks.npz": "masks", "tensors.pt": "weights"}


def _reason(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return text or type(err).__name__


def _line(cfg: dict, key: str) -> str:
    """A run's line label when read straight from the store (z19.experiment.Result labels by arm)."""
    return cfg.get("label") or cfg.get("criterion") or key
