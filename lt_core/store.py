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

import functools
import json
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

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


class NotShipped(StoreError):
    """A part of a level that the pack holding it left out (its weights)."""


class NotComputed(StoreError):
    """Runs that ``reading`` (or ``LT_TRAIN=none``) found unfinished: nothing trains there."""

    def __init__(self, keys: list[str], why: str = ""):
        super().__init__(f"{len(keys)} run(s) are not finished: {', '.join(keys[:3])}"
                         + (", ..." if len(keys) > 3 else "") + why)
        self.keys = keys


TRAIN_VALUES = ("all", "none")


def training_off() -> bool:
    """``LT_TRAIN=none`` (``make book TRAIN=none``): nothing trains in this process; results
    come from the stores and the packs as they are."""
    value = os.environ.get("LT_TRAIN", "all")
    if value not in TRAIN_VALUES:
        raise StoreError(f"LT_TRAIN must be one of {', '.join(TRAIN_VALUES)} (got {value!r})")
    return value == "none"


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


class RunStore:
    """The local run folder ``root`` (written) over the run packs ``packs`` (read only;
    None: the shipped ones, ``packfile.shipped``). ``local=False``: the packs alone."""

    def __init__(self, root: str | Path = "runs", packs: list[packfile.PackFile] | None = None,
                 local: bool = True):
        self.root = Path(root)
        self.local = local
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
        if self._pack_of(key) is None:
            self._write_config(key, config)
        return key

    def _write_config(self, key: str, config: dict) -> None:
        path = self.root / key / "config.json"
        if path.exists():
            return
        if not self.local:
            raise StoreError(f"run {key} is not in the packs of this read-only store")
        try:
            write_text(path, json.dumps(config, indent=2, sort_keys=True))
        except OSError as err:
            raise self._not_writable(err, path) from None

    @contextmanager
    def claim(self, keys: list[str]) -> Iterator[None]:
        """Hold ``keys`` for this process: no other process computes these runs meanwhile.

        Waits while another process holds any of them; the caller then finds their levels
        done and only trains what is still missing. Locks are taken in key order, so processes
        claiming overlapping runs cannot deadlock. Once a run is held, what a killed writer
        left of its levels is removed (temp files, and the parts of a level whose JSON was
        never written; not config.json's: ``prepare`` writes it without the lock), and its
        folder is checked to be writable, so a read-only store fails here, before anything
        trains. ``claim([])`` writes nothing.
        """
        if (self._seen is not None or not self.local) and keys:
            raise NotComputed(sorted(set(keys)))
        if keys and training_off():
            raise NotComputed(sorted(set(keys)), "; LT_TRAIN=none trains nothing (unset it "
                              "to compute them)")
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
                    for part in (self.root / key).glob("level_[0-9][0-9][0-9].*.*"):
                        if not part.with_name(part.name[:9] + ".json").exists():
                            part.unlink()  # a part of a level that was never finished
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
        pack = None if self.local and path.exists() else self._pack_of(key)
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
        local = {p.parent.name for p in self.root.glob("*/config.json")} \
            if self.local and self.root.is_dir() else set()
        return sorted(local.union(*(p.keys() for p in self.packs)) if packs else local)

    def where(self, key: str, level: int) -> packfile.PackFile | None:
        """The pack a level is read from; None: the local folder (or nowhere)."""
        if self._local(key, level) is not None:
            return None
        pack = self._pack_of(key)
        return pack if pack is not None and level in pack.levels(key) else None

    def _pack_of(self, key: str) -> packfile.PackFile | None:
        """The one pack a run is read from (the one with most of its levels): a run's levels
        never mix two computations."""
        holding = [p for p in self.packs if p.has(f"runs/{key}/config.json")]
        return max(holding, key=lambda p: len(p.levels(key)), default=None)

    # -- levels ----------------------------------------------------------------------------
    def _local(self, key: str, level: int) -> Path | None:
        """The level's file here: its JSON, or a store of an earlier version's one file."""
        if not self.local:
            return None
        folder = self.root / key
        for name in (f"level_{level:03d}.json", f"level_{level:03d}.pt", f"round_{level:03d}.pt"):
            if (folder / name).exists():
                return folder / name
        return None

    def has_level(self, key: str, level: int) -> bool:
        return self.where(key, level) is not None or self._local(key, level) is not None

    def levels(self, key: str) -> list[int]:
        local = {int(p.name[6:9]) for pattern in ("level_[0-9][0-9][0-9].json",
                                                   "level_[0-9][0-9][0-9].pt",
                                                   "round_[0-9][0-9][0-9].pt")
                 for p in (self.root / key).glob(pattern)} if self.local else set()
        pack = self._pack_of(key)
        return sorted(local.union(pack.levels(key) if pack is not None else ()))

    def save_level(self, key: str, level: int, values: dict) -> None:
        """Write a finished level (a dict of ``lt_core.record``'s fields): its tensors and
        mask first, its JSON last, each atomically (a level a pack started goes on here,
        with the run's config)."""
        scalars, mask, tensors = record.split(values)
        if self._pack_of(key) is not None:
            self._write_config(key, self._pack_of(key).config(key))
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
        pack copies. None where the level has no such part (or the pack left it out)."""
        local = self._local(key, level)
        if local is not None and local.suffix == ".pt":  # an earlier version's file: anew
            value = self._read(key, level, part)
            if part == "json":
                return value.to_json()
            if part == "masks.npz":
                return None if value is None else record.masks_to_bytes(value)
            return record.tensors_to_bytes(value) if value else None
        if part != "json" and not self._has_part(key, level, part):
            return None
        read, _ = self._source(key, level, part)
        return None if read is None else read()

    def level(self, key: str, level: int) -> record.Level:
        """A level's metrics and scalars (no mask, no weights are read)."""
        return self._read(key, level, "json")

    def masks(self, key: str, level: int) -> dict[str, torch.Tensor] | None:
        """The mask a level chose for the next one (0/1 floats per tensor); None if it
        chose none."""
        if not self._has_part(key, level, "masks.npz"):
            return None
        return {n: record.unpack_mask(p) for n, p in self._read(key, level, "masks.npz").items()}

    def tensors(self, key: str, level: int, missing_ok: bool = False) -> dict:
        """A level's weights (the ``record.TENSOR_FIELDS`` it kept). NotShipped if the pack
        that holds the level holds it without them, or, with ``missing_ok``, none."""
        if not self._has_part(key, level, "tensors.pt"):
            return {}
        try:
            return self._read(key, level, "tensors.pt")
        except NotShipped:
            if missing_ok:
                return {}
            raise

    def _has_part(self, key: str, level: int, part: str) -> bool:
        """Whether the level has a mask or tensors part, by its JSON (a stray part file of an
        unfinished write is not read)."""
        scalars = self.level(key, level)
        return scalars.has_next_mask if part == "masks.npz" else bool(scalars.tensors)

    def _source(self, key: str, level: int, part: str):
        """(a reader of the part's bytes or None if it is not there, where it is, for
        messages)."""
        local = self._local(key, level)
        name = f"level_{level:03d}.{part}"
        if local is not None:
            path = local.with_name(name)
            return (path.read_bytes if path.exists() else None), str(path)
        pack = self.where(key, level)
        if pack is None:
            raise StoreError(f"run {key} has no level {level} in {self.root} or its packs")
        entry = f"runs/{key}/{name}"
        return (functools.partial(pack.read, entry) if pack.has(entry) else None), pack

    def _read(self, key: str, level: int, part: str):
        local = self._local(key, level)
        if local is not None and local.suffix == ".pt":  # a store of an earlier version
            scalars, mask, tensors = record.split(self._legacy(local), legacy=True)
            return {"json": scalars, "masks.npz": mask, "tensors.pt": tensors}[part]
        read, source = self._source(key, level, part)
        if read is None:
            if isinstance(source, packfile.PackFile):
                raise NotShipped(f"the {_PART_WORDS[part]} of run {key} level {level} are not "
                                 f"in {source.path.name} (a pack made without --with-weights)")
            raise StoreError(f"{source} is missing; delete the level's other files and the "
                             "later levels of that run, then rerun to compute them again")
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
            raise StoreError(f"{source} is unreadable ({packfile.first_line(err)}); delete it "
                             "and the later levels of that run, then rerun to compute them "
                             "again") from None

    def _legacy(self, path: Path) -> dict:
        try:
            return torch.load(path, weights_only=False)
        except Exception as err:  # torch.load fails in many ways on a damaged file
            raise StoreError(f"{path} is unreadable ({packfile.first_line(err)}); delete it "
                             "and the later levels of that run, then rerun to compute them "
                             "again") from None

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


def _line(cfg: dict, key: str) -> str:
    """A run's line label when read straight from the store (z19.experiment.Result labels by arm)."""
    return cfg.get("label") or cfg.get("criterion") or key
