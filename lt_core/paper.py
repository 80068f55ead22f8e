"""The papers' own numbers (paper_specs.md section 7), kept as CSV files in book/paper_numbers/
so that a reader can see and cite them; notebooks overlay them on this build's results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

NUMBERS = Path(__file__).resolve().parent.parent / "book" / "paper_numbers"
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
