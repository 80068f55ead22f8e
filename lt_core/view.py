"""A result as data: what a pack carries of an experiment's result (its runs frame, the data
each network trained on, the device) so that its pages can be rebuilt from the run store
alone, without the data or any training (``Result.to_pack`` and each paper's ``from_pack``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from .loop import DataInfo


def frame_to(frame: pd.DataFrame) -> dict:
    """A frame as JSON values: its columns with their dtypes, and its rows with None for a
    missing value."""
    values = frame.astype(object).where(frame.notna(), None).values.tolist()
    return {"columns": list(frame.columns), "rows": values,
            "dtypes": [str(t) for t in frame.dtypes]}


# Columns renamed since packs were first written (L23's runs: "kind" -> "role", ticket or
# reinit): a pack's view is read in today's names.
RENAMED_COLUMNS = {"kind": "role"}


def current(value: Any) -> Any:
    """A pack's view (dicts, lists and frames, nested) with its frames' columns renamed to
    today's names (``RENAMED_COLUMNS``)."""
    if isinstance(value, dict) and {"columns", "rows"} <= set(value):
        return {**value, "columns": [RENAMED_COLUMNS.get(c, c) for c in value["columns"]]}
    if isinstance(value, dict):
        return {k: current(v) for k, v in value.items()}
    if isinstance(value, list):
        return [current(v) for v in value]
    return value


def frame_from(value: dict) -> pd.DataFrame:
    frame = pd.DataFrame(value["rows"], columns=value["columns"])
    typed = {c: t for c, t in zip(value["columns"], value.get("dtypes", [])) if t != "object"}
    return frame.astype(typed)


def data_to(data: dict[str, DataInfo]) -> dict:
    return {name: dataclasses.asdict(info) for name, info in data.items()}


def data_from(value: dict) -> dict[str, DataInfo]:
    return {name: DataInfo(d["name"], d["description"], d["sizes"], tuple(d["input_shape"]))
            for name, d in value.items()}
