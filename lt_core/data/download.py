"""Checksummed, atomic downloads into the data root, on ``pooch``.

pooch streams each file into a temporary file and moves it into place; here every download
goes through a staging folder (``.lt_downloads/`` beside the destination, held under a file
lock), so that the leftovers of a killed download are removed by the next one and nothing
but a verified file (and the empty lock file) ever stays beside the data. Archives are extracted into the staging folder
and renamed into place whole.

Where files come from: the canonical hosts, unless mirrors are given (``--mirror`` on the
command line or ``LT_DATA_MIRRORS``, space-separated base URLs); a file is fetched as
base URL + its canonical file name, from the first mirror that serves it with the right
checksum.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from filelock import FileLock

from ..files import check_writable
from . import sources
from .dataset import DataError
from .sources import TINY_FOLDER, find_mnist_file, read_idx

MNIST_GZ_MD5 = {  # MD5 of the canonical .gz downloads
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://yann.lecun.com/exdb/mnist/")
CIFAR_MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
CIFAR_FILE, CIFAR_MD5 = "cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"
TINY_MIRRORS = ("http://cs231n.stanford.edu/",)
TINY_FILE, TINY_MD5 = "tiny-imagenet-200.zip", "90528d7ca1a48142e341f4ef8d21d0de"

STAGING = ".lt_downloads"


def mirrors(defaults: Sequence[str], given: Sequence[str] | None = None) -> list[str]:
    """The base URLs to try: those given, else ``$LT_DATA_MIRRORS``, else the defaults."""
    chosen = list(given or os.environ.get("LT_DATA_MIRRORS", "").split() or defaults)
    return [m if m.endswith("/") else m + "/" for m in chosen]


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _gz_content_md5(path: Path) -> str | None:
    import gzip

    try:
        with gzip.open(path, "rb") as f:
            return hashlib.md5(f.read()).hexdigest()
    except (OSError, EOFError):
        return None


def _readable_as_umask(path: Path) -> None:
    """Give a finished download the umask's permissions (pooch's temp files are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


class _Staging:
    """A staging folder beside the data, held by one process at a time (a file lock), removed
    with whatever a killed download left in it on entry and with everything on exit."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder / STAGING
        self.lock = FileLock(str(folder / f"{STAGING}.lock"))  # an empty hidden file stays

    def __enter__(self) -> Path:
        self.lock.acquire()
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir()
        return self.folder

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.lock.release()


def download_file(urls: Sequence[str], dest: Path, md5: str, content_md5: str | None = None,
                  timeout: float = 30.0) -> Path:
    """Fetch ``dest`` from the first URL that serves it with the right checksum; atomic.

    ``md5`` is the checksum of the downloaded bytes; ``content_md5`` (for .gz files) that of
    the decompressed content, accepted instead, since re-compressed copies exist. Nothing is
    left at ``dest`` or in the staging folder unless a verified file was written.
    """
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.ERROR)  # it logs every download and the missing hash
    dest = Path(dest)
    _writable(dest.parent)
    errors = []
    with _Staging(dest.parent) as staging:
        for url in urls:
            part = staging / dest.name
            try:
                pooch.retrieve(url, known_hash=None, fname=dest.name, path=staging,
                               downloader=pooch.HTTPDownloader(timeout=timeout), progressbar=False)
                got = _md5(part)
                if got != md5 and not (content_md5 and _gz_content_md5(part) == content_md5):
                    raise DataError(f"checksum mismatch (MD5 {got}, expected {md5})")
                _readable_as_umask(part)
                os.replace(part, dest)
                return dest
            except (requests.RequestException, OSError, ValueError, DataError) as err:
                errors.append(f"{url}: {_reason(err)}")
            finally:
                part.unlink(missing_ok=True)
    raise DataError(
        f"could not download {dest.name} ({'; '.join(errors)}); nothing was written. "
        f"Download it by hand into {dest.parent}/ (MD5 {md5}) or set LT_DATA to a folder that "
        "has it; other hosts: --mirror URL or LT_DATA_MIRRORS"
    )


def _writable(folder: Path) -> None:
    """Before downloading anything: a read-only root would otherwise fail every URL."""
    try:
        check_writable(folder)
    except OSError as err:
        raise DataError(f"data folder {folder} cannot be written ({err.strerror}); set "
                        "LT_DATA (or --root) to a folder you can write") from None


def _reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:200]


def download_mnist(root: Path, base_urls: Sequence[str] | None = None) -> Path:
    """The four MNIST files into ``root/mnist``: those already there are verified, the others
    fetched. Every missing file is tried before one error names all that failed."""
    folder = root / "mnist"
    _writable(folder)
    failed = []
    for name in sources.MNIST_FILES:
        if (found := find_mnist_file(folder, name)) is not None:
            read_idx(found, sources.MNIST_FILES[name])  # verify what is already there
            continue
        try:
            download_file([m + f"{name}.gz" for m in mirrors(MNIST_MIRRORS, base_urls)],
                          folder / f"{name}.gz", MNIST_GZ_MD5[name],
                          content_md5=sources.MNIST_FILES[name])
        except DataError as err:
            failed.append((name, err))
    if failed:
        names = ", ".join(f"{n}.gz" for n, _ in failed)
        raise DataError(f"MNIST: {len(failed)} of 4 files could not be downloaded ({names}); "
                        f"first error: {failed[0][1]}")
    return folder


def download_cifar10(root: Path, base_urls: Sequence[str] | None = None) -> Path:
    target = root / "cifar-10-batches-py"
    if target.is_dir():
        return target
    archive = download_file([m + CIFAR_FILE for m in mirrors(CIFAR_MIRRORS, base_urls)],
                            root / CIFAR_FILE, CIFAR_MD5)
    _extract(archive, "cifar-10-batches-py", root)
    return target


def download_tiny_imagenet(root: Path, base_urls: Sequence[str] | None = None) -> Path:
    target = root / TINY_FOLDER
    if target.is_dir():
        return target
    archive = download_file([m + TINY_FILE for m in mirrors(TINY_MIRRORS, base_urls)],
                            root / TINY_FILE, TINY_MD5)
    _extract(archive, TINY_FOLDER, root)
    return target


def _extract(archive: Path, folder: str, root: Path) -> None:
    """Unpack ``folder`` from ``archive`` into the staging folder, then rename it into place,
    so that a half-extracted dataset never appears; the archive is removed after."""
    with _Staging(root) as staging:
        try:
            if archive.suffix == ".zip":
                with zipfile.ZipFile(archive) as z:
                    for member in z.namelist():  # no absolute or parent paths out of staging
                        if member.startswith("/") or ".." in Path(member).parts:
                            raise DataError(f"{archive} holds an unsafe path {member!r}")
                    z.extractall(staging)
            else:
                with tarfile.open(archive) as tar:
                    tar.extractall(staging, filter="data")
        except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as err:
            raise DataError(f"{archive} is corrupt ({err}); delete it and run the download "
                            "again") from None
        if not (staging / folder).is_dir():
            raise DataError(f"{archive} does not hold {folder}/; delete it and download again")
        os.replace(staging / folder, root / folder)
    archive.unlink()
