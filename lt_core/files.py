"""Atomic file writes: a result is either complete on disk or absent, never half-written.

The one place that knows how temp files are named (``.<name>.<random>.part`` beside the
destination) and how they are created and cleaned up.
"""

from __future__ import annotations

import errno
import os
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def resource(repo_folder: str, packaged: str) -> Path:
    """A folder of files the library reads (params, the papers' numbers): the copy inside
    the installed package (``lt_core/<packaged>``, see pyproject.toml), else the repository's
    ``<repo_folder>`` (a checkout or an editable install)."""
    here = Path(__file__).resolve().parent
    inside = here / packaged
    return inside if inside.is_dir() else here.parent / repo_folder


@contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; on success fsync it and rename it onto ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(dest)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
        _sync_folder(dest.parent)  # the rename itself survives a crash
    finally:
        tmp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot sync a folder: the rename is as safe as they are
        pass
    finally:
        os.close(fd)


def _create_temp(dest: Path) -> Path:
    """A new empty file beside ``dest``, created with mode 0666 so that the umask decides who
    may read it, as for any file ``open`` creates. (``tempfile.mkstemp`` forces 0600, and the
    rename would carry that onto the result, unreadable to the other users of a store.)"""
    while True:
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.part"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue


# A write that failed for want of room: the disk or the quota is full, or the file-size limit
# is reached (ulimit -f: EFBIG; Python ignores the SIGXFSZ that would otherwise kill it).
NO_SPACE = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}


def write_problem(err: OSError, dest: str | os.PathLike) -> str:
    """One line for a failed write of ``dest``, that says what to do."""
    if err.errno in NO_SPACE:
        return (f"no space left while writing {dest} ({err.strerror}); free some space (or "
                "raise the file-size limit, ulimit -f) and rerun")
    return f"{dest} cannot be written ({err.strerror}); write it to a folder you can write"


def write_text(dest: str | os.PathLike, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text)


def remove_temp_files(folder: Path, names: str) -> None:
    """Delete the temp files for destinations ``folder/<names>`` (a glob): those of writers
    killed mid-write. Only safe where no other process can be writing them (a run's levels,
    while its lock is held)."""
    for stale in folder.glob(f".{names}.*.part"):
        stale.unlink(missing_ok=True)


def check_writable(folder: Path) -> None:
    """Create ``folder`` if missing and a file in it (gone at once); OSError if either fails."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass
