"""The run pack: finished runs in one file that travels, with a manifest of hashes.

A pack is a zip archive (entries stored, or deflated where that pays) holding, per run, the
files a run store holds for it, under ``runs/<key>/``: ``config.json``, one
``level_NNN.json`` per finished level (``lt_core.record``: metrics and scalars), its
``level_NNN.masks.npz`` (the next mask as bits) and, only when packed with weights, its
``level_NNN.tensors.pt``; and ``provenance.json`` (who computed it, where, when). Its
``manifest.json`` names the pack's format version and the sha256 of every other entry;
every entry is checked against it when read. Packs are named by the first 16 hex digits of
the sha256 of their bytes (``<hash>.ltpack``) and never change.

This module reads and writes the format; ``lt_core.pack`` makes packs from a store, merges
and checks them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

from .files import resource

FORMAT = "lt_core run pack"
PACK_SCHEMA = 1  # bump when a reader of this version could not read what a new writer writes
SUFFIX = ".ltpack"
LEVEL_FILE = re.compile(r"level_(\d{3})\.json$")
# A fixed timestamp for every entry: the same runs make the same bytes, so the same name.
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackError(RuntimeError):
    """A file that is not a readable pack of this version; the message says which and why."""


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def content_name(raw: bytes) -> str:
    """The file name of a pack with these bytes."""
    return sha256(raw)[:16] + SUFFIX


class PackFile:
    """One pack, opened for reading. Entries are checked against the manifest when read."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            manifest = json.loads(self._zip.read("manifest.json"))
        except FileNotFoundError:
            raise PackError(f"{self.path}: no such file") from None
        except Exception as err:  # a damaged or foreign file fails in many ways
            raise PackError(f"{self.path} is not a run pack (truncated, damaged or another kind "
                            f"of file: {first_line(err)})") from None
        if (not isinstance(manifest, dict) or manifest.get("format") != FORMAT
                or not isinstance(manifest.get("schema"), int)
                or not isinstance(manifest.get("entries"), dict)):
            raise PackError(f"{self.path} is not a run pack (its manifest.json is not a pack's)")
        if manifest["schema"] > PACK_SCHEMA:
            raise PackError(f"{self.path} was written by a newer lt_core (pack schema "
                            f"{manifest['schema']}; this one reads up to {PACK_SCHEMA}): "
                            "update lt_core to read it")
        self.manifest = manifest
        self.entries: dict[str, str] = manifest.get("entries", {})
        self._levels: dict[str, list[int]] = {}
        for name in self.entries:
            parts = name.split("/")
            if len(parts) == 3 and parts[0] == "runs":
                self._levels.setdefault(parts[1], [])
                m = LEVEL_FILE.match(parts[2])
                if m:
                    self._levels[parts[1]].append(int(m.group(1)))

    def __repr__(self) -> str:
        return f"PackFile({str(self.path)!r})"

    # -- what it holds -------------------------------------------------------------------
    def keys(self) -> list[str]:
        return sorted(self._levels)

    def levels(self, key: str) -> list[int]:
        return sorted(self._levels.get(key, []))

    def has(self, name: str) -> bool:
        return name in self.entries

    def read(self, name: str) -> bytes:
        """One entry's bytes, checked against the manifest's sha256."""
        if name not in self.entries:
            raise PackError(f"{self.path} has no entry {name}")
        try:
            raw = self._zip.read(name)
        except Exception as err:  # a damaged entry fails in many ways (zlib, CRC, EOF, ...)
            raise PackError(f"{self.path}: entry {name} cannot be read "
                            f"({first_line(err)})") from None
        if sha256(raw) != self.entries[name]:
            raise PackError(f"{self.path}: entry {name} does not match its sha256 in the "
                            "manifest (the pack was changed after it was made)")
        return raw

    def json(self, name: str) -> dict:
        return json.loads(self.read(name))

    def config(self, key: str) -> dict:
        return self.json(f"runs/{key}/config.json")

    def provenance(self, key: str) -> dict:
        return self.json(f"runs/{key}/provenance.json")

    def verify(self) -> list[str]:
        """Every problem with the pack's entries, one line each (none: it is intact)."""
        problems = []
        listed = set(self._zip.namelist()) - {"manifest.json"}
        for name in sorted(set(self.entries) - listed):
            problems.append(f"{self.path}: entry {name} is in the manifest but not in the pack")
        for name in sorted(listed - set(self.entries)):
            problems.append(f"{self.path}: entry {name} is not in the manifest")
        for name in sorted(set(self.entries) & listed):
            try:
                self.read(name)
            except PackError as err:
                problems.append(str(err))
        return problems


def write(path: str | Path, entries: dict[str, bytes], meta: dict) -> None:
    """Write a pack of ``entries`` (name -> bytes) with a manifest holding ``meta``, to the
    open file or path ``path`` (the caller makes it atomic). Deterministic: the same entries
    and meta give the same bytes."""
    manifest = {**meta, "format": FORMAT, "schema": PACK_SCHEMA,
                "entries": {name: sha256(raw) for name, raw in sorted(entries.items())}}
    with zipfile.ZipFile(path, "w") as z:
        for name, raw in [("manifest.json", json.dumps(manifest, indent=1, sort_keys=True)
                           .encode()), *sorted(entries.items())]:
            info = zipfile.ZipInfo(name, _EPOCH)
            # Bits and JSON compress; torch's own files are zips of raw floats already.
            info.compress_type = (zipfile.ZIP_STORED if name.endswith(".pt")
                                  else zipfile.ZIP_DEFLATED)
            z.writestr(info, raw, compresslevel=9)


SHIPPED = resource("book/results", "_results")  # the packs this book ships


def shipped() -> list[PackFile]:
    """The packs in ``book/results`` (in the wheel: ``lt_core/_results``), in name order; one
    that cannot be read is left out with a warning (``pack verify`` says why)."""
    packs = [_open(str(p), p.stat().st_mtime_ns) for p in sorted(SHIPPED.glob(f"*{SUFFIX}"))]
    return [p for p in packs if p is not None]


@functools.cache
def _open(path: str, mtime_ns: int) -> PackFile | None:
    try:
        return PackFile(path)
    except PackError as err:
        print(f"warning: {err}: its runs are not read", file=sys.stderr)
        return None


def first_line(err: BaseException) -> str:
    """An exception's message for a one-line error: its first line, else its type."""
    text = str(err).splitlines()[0] if str(err) else ""
    return text or type(err).__name__
