"""Synthetic data in the datasets' canonical on-disk layouts, for the smoke scale.

``write(root)`` (``python -m lt_core data --smoke DIR``) puts a few dozen images per dataset
where the real files would be: MNIST's four gzipped IDX files, CIFAR-10's python batches and
Tiny ImageNet's ``train/<wnid>/images`` folders with ``val/val_annotations.txt``, so that a
smoke run goes through the real loaders. Each class is a random prototype plus a little
noise: a network learns it in a few steps, so a smoke run that fails is a bug, not the data.

A marker file (``MARKER``) in the root says the data are synthetic: the loaders then take its
checksums instead of the canonical ones and a smaller validation split, and name the data
``<dataset>-smoke`` with a description that says its numbers mean nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import shutil
from pathlib import Path

import numpy as np

from ..files import atomic_path
from .dataset import DataError

MARKER = "lt_core_smoke.json"
TRAIN, TEST, VAL = 40, 20, 10  # per dataset: training examples, test examples, z19 val split
# What a marker must say for its files to be this version's (older copies had other sizes,
# which a batch size of the shrunk params can exceed).
LAYOUT = {"version": 2, "train": TRAIN, "test": TEST, "val": VAL}
TINY_CLASSES = 10  # Tiny ImageNet's 200-way network, with 10 of the classes present


def marker(root: Path) -> dict | None:
    """The smoke marker of a data root, or None for real data."""
    path = Path(root) / MARKER
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is unreadable ({err}); delete the folder and run "
                        f"`python -m lt_core data --smoke {root}` again") from None
    if not isinstance(info, dict) or any(info.get(k) != v for k, v in LAYOUT.items()):
        raise DataError(f"{path} was written by another version of lt_core; delete the "
                        f"folder and run `python -m lt_core data --smoke {root}` again")
    return info


def describe(layout: str) -> str:
    return (f"synthetic smoke data in {layout} (`python -m lt_core data --smoke`: random class "
            "prototypes plus noise, a few dozen images); its numbers mean nothing")


def write(root: str | Path, replace_stale: bool = False) -> Path:
    """Write the smoke datasets under ``root`` (once: an existing, complete copy is kept).
    A copy written by another version is an error, or, with ``replace_stale`` (lt_core's own
    cache folder), deleted and written again."""
    root = Path(root)
    try:
        if marker(root) is not None:
            return root
    except DataError:
        if not replace_stale:
            raise
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    md5 = _mnist(root / "mnist", rng)
    _cifar(root / "cifar-10-batches-py", rng)
    _tiny(root / "tiny-imagenet-200", rng)
    with atomic_path(root / MARKER) as tmp:  # last: its presence means the rest is complete
        tmp.write_text(json.dumps({**LAYOUT, "mnist_md5": md5}))
    return root


def _images(rng: np.random.Generator, n: int, shape: tuple[int, ...], classes: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, *shape) of ``classes`` prototypes plus noise, labels cycling. A
    prototype is a 4 x 4 grid of random intensities: coarse, so that pooling keeps it."""
    h, w = (0, 1) if len(shape) == 2 or shape[-1] == 3 else (1, 2)
    coarse = rng.integers(0, 256, size=(classes, *[4 if i in (h, w) else d
                                                   for i, d in enumerate(shape)]))
    protos = coarse.repeat(shape[h] // 4, axis=h + 1).repeat(shape[w] // 4, axis=w + 1)
    y = np.arange(n) % classes
    x = 0.85 * protos[y] + 0.15 * rng.integers(0, 256, size=(n, *shape))
    return x.round().astype(np.uint8), y.astype(np.uint8)


def _mnist(folder: Path, rng: np.random.Generator) -> dict[str, str]:
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for prefix, n in (("train", TRAIN), ("t10k", TEST)):
        x, y = _images(rng, n, (28, 28), 10)
        for kind, arr, magic in (("images-idx3", x, 3), ("labels-idx1", y, 1)):
            raw = bytes([0, 0, 8, magic]) + np.array(arr.shape, dtype=">i4").tobytes() \
                + arr.tobytes()
            name = f"{prefix}-{kind}-ubyte"
            md5[name] = hashlib.md5(raw).hexdigest()
            with atomic_path(folder / f"{name}.gz") as tmp:
                tmp.write_bytes(gzip.compress(raw, mtime=0))
    return md5


def _cifar(folder: Path, rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    x, y = _images(rng, TRAIN + TEST, (3, 32, 32), 10)
    parts = np.array_split(np.arange(TRAIN), 5)
    batches = {f"data_batch_{i + 1}": idx for i, idx in enumerate(parts)}
    batches["test_batch"] = np.arange(TRAIN, TRAIN + TEST)
    for name, idx in batches.items():
        blob = pickle.dumps({b"data": x[idx].reshape(len(idx), -1),
                             b"labels": [int(v) for v in y[idx]]})
        with atomic_path(folder / name) as tmp:
            tmp.write_bytes(blob)


def _tiny(folder: Path, rng: np.random.Generator) -> None:
    from PIL import Image

    wnids = [f"n{i:08d}" for i in range(TINY_CLASSES)]
    x, y = _images(rng, TRAIN + TEST, (64, 64, 3), TINY_CLASSES)

    def jpeg(path: Path, pixels: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
        with atomic_path(path) as tmp:
            tmp.write_bytes(buf.getvalue())

    for i in range(TRAIN):
        w = wnids[y[i]]
        jpeg(folder / "train" / w / "images" / f"{w}_{i}.JPEG", x[i])
    lines = []
    for i in range(TRAIN, TRAIN + TEST):
        name = f"val_{i - TRAIN}.JPEG"
        jpeg(folder / "val" / "images" / name, x[i])
        lines.append(f"{name}\t{wnids[y[i]]}\t0\t0\t63\t63")
    with atomic_path(folder / "val" / "val_annotations.txt") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
