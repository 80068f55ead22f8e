"""The papers' own numbers (paper_specs.md section 7), kept as CSV files in book/paper_numbers/
so that a reader can see and cite them; notebooks overlay them on this build's results. And
Z19's Table S1, generated from this code's networks and settings."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from . import models
from .config import PAPER_DATASET, PAPER_TRAIN, PAPER_TRAIN_SIZE, Learned, Train
from .files import resource

NUMBERS = resource("book/paper_numbers", "_paper_numbers")
NETWORKS = {"fc": "FC", "conv2": "Conv2", "conv4": "Conv4", "conv6": "Conv6"}  # ours -> Z19's


def load(name: str) -> pd.DataFrame:
    """One table by file stem: ``z19_table_s2``, ``z19_text_numbers``, ``dense_baselines``."""
    path = NUMBERS / f"{name}.csv"
    if not path.exists():
        raise FileNotFoundError(f"no paper numbers {name!r}; have: "
                                + ", ".join(p.stem for p in sorted(NUMBERS.glob("*.csv"))))
    return pd.read_csv(path)


def table_s2() -> pd.DataFrame:
    """Z19 Table S2 indexed by our network names (fc, conv2, ...), values in percent."""
    t = load("z19_table_s2")
    t.index = [k for v in t["network"] for k, n in NETWORKS.items() if n == v]
    return t.drop(columns=["paper", "dataset"])


INPUTS = {"fc": (1, 28, 28), "conv2": (3, 32, 32), "conv4": (3, 32, 32), "conv6": (3, 32, 32)}


def table_s1(learned: Learned | None = None) -> pd.DataFrame:
    """Z19 Table S1 generated from this code: the layers, weight counts, training settings
    and pruning rates of every network as ``models`` and ``config`` implement them, and the
    learned-supermask training (S6.2) as ``learned`` resolves it on the papers' data."""
    learned = learned or Learned()
    columns = {}
    for name, z19 in NETWORKS.items():
        net = models.build(name, INPUTS[name])
        convs = [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]
        dense = [m.out_features for m in net.modules() if isinstance(m, nn.Linear)]
        params = dict(net.named_parameters())
        kernels = [n for n in net.prune_rates if params[n].dim() > 2]
        total, conv = models.count_prunable(net), sum(params[n].numel() for n in kernels)
        rates = sorted({(_layer_kind(n, params[n]), q) for n, q in net.prune_rates.items()},
                       key=lambda kq: ("conv", "fc", "output").index(kq[0]))
        train = PAPER_TRAIN[name]
        size = PAPER_TRAIN_SIZE[PAPER_DATASET[name]]
        lt = learned.train_for(name, size)
        columns[f"{z19} ({PAPER_DATASET[name]})"] = {
            "convolutional layers": " ".join(f"{a}, {b}, pool" for a, b in
                                             zip(convs[::2], convs[1::2])) or "none",
            "FC layers": ", ".join(map(str, dense)),
            "all / conv weights": f"{total:,}" + (f" / {conv:,}" if conv else ""),
            "iterations / batch": f"{train['iterations']:,} / {Train().batch_size}",
            "optimizer": f"Adam {train['lr']:g}",
            "pruning rates": ", ".join(f"{k} {100 * q:g}%" for k, q in rates),
            "learned supermask (S6.2)": f"SGD lr {lt.lr:g}, momentum 0.9",
            "learned: iterations / batch": f"{lt.iterations:,} / {lt.batch_size}",
            "learned: reported at": ("early stopping" if learned.early_stop_for(name)
                                     else "end of training"),
        }
    return pd.DataFrame(columns)


def _layer_kind(name: str, weight: torch.Tensor) -> str:
    if weight.dim() > 2:
        return "conv"
    return "output" if name.startswith("out.") else "fc"
