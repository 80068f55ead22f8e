"""Datasets as whole-split tensors on the device: no DataLoader, no per-item Python.

A split is one tensor of raw pixels (uint8) on the target device; the engine gathers a batch
by index, augments it there (``augment``) and converts it to network input with
``Dataset.inputs`` (/255, then per-channel normalisation where asked). Splits as in the
papers (paper_specs.md 0.1, 6.1): Z19's train/val/test with the 5k validation split drawn by
``numpy.random.RandomState(0)``, or no validation split (all training examples train, the
official test set tests: L23 and OpenLTH).

Modules: ``dataset`` (the Dataset object and splits), ``sources`` (readers of the files
under a data root, the embedded default, synthetic test data), ``download`` (checksummed
downloads), ``augment`` (batched crop and flip).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch

from . import smoke
from .dataset import SPLITS, Augment, DataError, Dataset, normalize_problem, papers_split
from .download import download_cifar10, download_file, download_mnist, download_tiny_imagenet
from .sources import (
    CIFAR_CLASSES,
    cache_dir,
    load_cifar10,
    load_mnist,
    load_mnist_embedded,
    load_tiny_imagenet,
    mnist_available,
    read_idx,
    synthetic,
    synthetic_images,
)

DATASETS = ("mnist", "cifar10", "tiny_imagenet")
CHANNELS = {"mnist": 1, "cifar10": 3, "tiny_imagenet": 3}  # of each dataset's images
INPUT_SHAPE = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32), "tiny_imagenet": (3, 64, 64)}
NUM_CLASSES = {"mnist": 10, "cifar10": 10, "tiny_imagenet": 200}
# The name of each dataset's full files as loaded (``Dataset.name`` before its option tags).
FULL_NAME = {"mnist": "mnist", "cifar10": "cifar10", "tiny_imagenet": "tiny-imagenet"}

__all__ = [
    "CIFAR_CLASSES", "DATASETS", "SPLITS", "Augment", "DataError", "Dataset", "cache_dir",
    "data_root", "smoke",
    "download_cifar10", "download_file", "download_mnist", "download_tiny_imagenet", "load",
    "papers_split", "read_idx", "synthetic", "synthetic_images",
    "CHANNELS", "FULL_NAME", "INPUT_SHAPE", "NUM_CLASSES", "normalize_problem",
]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root: the argument, else $LT_DATA, else ./data."""
    return Path(root or os.environ.get("LT_DATA") or "data")


def load(dataset: str, root: str | os.PathLike | None = None, device: str | torch.device = "cpu",
         validation: str = "z19", normalize: str = "none", augment: str = "none",
         crop_padding: int = 4) -> Dataset:
    """Load ``dataset`` (mnist, cifar10 or tiny_imagenet) as whole-split tensors on ``device``,
    under the given data options (see ``Dataset.with_options``).

    MNIST with no explicit root (argument or $LT_DATA) and no files under ./data uses the
    embedded real digits; an explicit root that lacks the files is an error.
    """
    base = data_root(root)
    explicit = root is not None or bool(os.environ.get("LT_DATA"))
    synthetic_root = smoke.marker(base)  # the smoke scale's synthetic files (data.smoke)
    n_val = synthetic_root["val"] if synthetic_root else 5000
    if dataset == "mnist":
        checksums = synthetic_root["mnist_md5"] if synthetic_root else None
        ds = (load_mnist(base, validation, checksums, n_val)
              if mnist_available(base) or explicit else load_mnist_embedded())
    elif dataset == "cifar10":
        ds = load_cifar10(base, validation, n_val)
    elif dataset == "tiny_imagenet":
        ds = load_tiny_imagenet(base, validation, n_val)
    else:
        raise DataError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if synthetic_root:
        layout = ds.description.split(" (")[0] + "'s file layout"
        ds = dataclasses.replace(ds, name=f"{ds.name}-smoke", description=smoke.describe(layout))
    return ds.with_options(validation, normalize, augment, crop_padding).to(device)
