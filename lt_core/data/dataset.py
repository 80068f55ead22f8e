"""The Dataset object: whole splits as tensors, converted to network inputs per batch."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

SPLITS = ("train", "val", "test")

# Per-channel statistics in [0, 1] units (paper_specs.md 6.1).
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class DataError(RuntimeError):
    """A missing, corrupt or unreachable dataset; the message says what to do."""


@dataclass(frozen=True)
class Augment:
    """CIFAR-style augmentation: a random crop of the image size after zero padding, and a
    horizontal flip with probability 1/2 (torchvision's RandomCrop(padding) + RandomHorizontalFlip)."""

    padding: int = 4


@dataclass
class Dataset:
    """Whole splits on one device. ``x`` is NCHW, uint8 (pixels 0..255) for real data or float32
    for synthetic test data; it becomes network input per batch through ``inputs``, so a
    64x64 dataset costs a quarter of its float32 size on the device."""

    name: str  # identity of the data and its preprocessing; part of every run key
    description: str  # one line for notebooks: what this data is and where it came from
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (x NCHW, y int64)
    num_classes: int = 10
    mean: tuple[float, ...] | None = None  # per-channel normalisation; None: pixels in [0, 1]
    std: tuple[float, ...] | None = None
    augment: Augment | None = None  # applied to training batches by the engine
    _norm: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.splits["train"][0].shape[1:])

    @property
    def has_validation(self) -> bool:
        return "val" in self.splits

    def sizes(self) -> dict[str, int]:
        return {k: len(v[1]) for k, v in self.splits.items()}

    def to(self, device: torch.device | str) -> Dataset:
        moved = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}
        return replace(self, splits=moved, _norm={})

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Network input for raw examples ``x`` (any leading dims before C, H, W): floats of
        the default dtype, pixels / 255 (Z19's scaling), then (x - mean) / std per channel
        where set."""
        fresh = x.dtype == torch.uint8
        if fresh:
            x = x.to(torch.get_default_dtype()).div_(255.0)
        if self.mean is None:
            return x
        key = (x.device, x.dtype)
        if key not in self._norm:
            self._norm[key] = (torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(-1, 1, 1),
                               torch.tensor(self.std, dtype=x.dtype, device=x.device).view(-1, 1, 1))
        mean, std = self._norm[key]
        return x.sub_(mean).div_(std) if fresh else (x - mean) / std

    def with_options(self, validation: str = "z19", normalize: str = "none",
                     augment: str = "none", crop_padding: int = 4) -> Dataset:
        """This dataset under an experiment's data options; each non-default one is named in
        ``name`` (the run key) and ``description``."""
        ds, tags, notes = self, [], []
        if validation == "none":  # the loader made no val split (make_splits); name it
            if "val" in ds.splits:  # data built without one in mind: fold val into train
                (xt, yt), (xv, yv) = ds.splits["train"], ds.splits["val"]
                ds = replace(ds, splits={"train": (torch.cat([xt, xv]), torch.cat([yt, yv])),
                                         "test": ds.splits["test"]})
            tags.append("noval")
            notes.append("no validation split: all training examples train")
        if normalize == "dataset":
            mean, std = channel_stats(ds.splits["train"][0])
            ds = replace(ds, mean=mean, std=std)
            tags.append("norm")
            notes.append("normalised per channel by the training set's mean and std")
        elif normalize == "imagenet":
            problem = normalize_problem(normalize, ds.name, ds.input_shape[0])
            if problem:
                raise DataError(problem)
            ds = replace(ds, mean=IMAGENET_MEAN, std=IMAGENET_STD)
            tags.append("imagenetnorm")
            notes.append("normalised by ImageNet's mean and std (OpenLTH's choice)")
        if augment == "crop_flip":
            ds = replace(ds, augment=Augment(crop_padding))
            tags.append(f"cropflip{crop_padding}")
            notes.append(f"random crop (padding {crop_padding}) and horizontal flip")
        if not tags:
            return ds
        return replace(ds, name="+".join([ds.name, *tags]),
                       description=f"{ds.description}; {', '.join(notes)}", _norm={})


def normalize_problem(normalize: str, dataset: str, channels: int) -> str | None:
    """Why ``normalize`` cannot apply to ``dataset``'s images of ``channels`` channels, or None.
    ImageNet's statistics are three values, one per RGB channel: MNIST has one channel."""
    if normalize != "imagenet" or channels == len(IMAGENET_MEAN):
        return None
    return (f"normalize: imagenet needs 3-channel images (cifar10, tiny_imagenet); {dataset} "
            f"has {channels}: use normalize: dataset or none")


def channel_stats(x: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (population) of NCHW examples, in [0, 1] units. For uint8
    pixels exactly, from a histogram: no float copy of a large training set."""
    means, stds = [], []
    for c in range(x.shape[1]):
        if x.dtype == torch.uint8:
            counts = torch.bincount(x[:, c].flatten(), minlength=256).double()
            levels = torch.arange(256, dtype=torch.float64, device=x.device) / 255.0
            n = counts.sum()
            mean = (counts * levels).sum() / n
            var = (counts * (levels - mean) ** 2).sum() / n
        else:
            mean, var = x[:, c].double().mean(), x[:, c].double().var(unbiased=False)
        means.append(float(mean))
        stds.append(float(var.sqrt()))
    return tuple(means), tuple(stds)


def papers_split(n_train_full: int, n_val: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """Train/val indices of Z19's split: val drawn once with the legacy NumPy seed 0."""
    val = np.random.RandomState(0).choice(n_train_full, n_val, replace=False)
    keep = np.ones(n_train_full, dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


def make_splits(x_full: np.ndarray, y_full: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                validation: str = "z19", n_val: int = 5000
                ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Splits of uint8 arrays: Z19's train/val/test (val: ``papers_split``), or with
    ``validation="none"`` every training example in train (L23, OpenLTH)."""
    if validation == "none":
        return {"train": (as_pixels(x_full), as_labels(y_full)),
                "test": (as_pixels(x_test), as_labels(y_test))}
    tr, va = papers_split(len(y_full), n_val)
    return {
        "train": (as_pixels(x_full[tr]), as_labels(y_full[tr])),
        "val": (as_pixels(x_full[va]), as_labels(y_full[va])),
        "test": (as_pixels(x_test), as_labels(y_test)),
    }


def as_labels(y: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(y, dtype=np.int64))


def as_pixels(x_uint8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(x_uint8, dtype=np.uint8, copy=True))
