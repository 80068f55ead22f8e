"""The papers' own numbers (paper_specs.md section 7), kept as CSV files in book/paper_numbers/
so that a reader can see and cite them; notebooks overlay them on this build's results. And
Z19's Table S1, generated from this code's networks and settings."""

from __future__ import annotations

import pandas as pd

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
