"""What a finished pruning level holds, split by kind so that each part reads without the others.

- ``Level``: its metrics and scalars (evaluations, accuracies, failure, environment, the
  heuristic-supermask table): small, read everywhere, stored as JSON.
- the mask it chose for the next level (``next_mask``): one bit per weight.
- its tensors: weights (the state a level starts or rewinds from, its end-of-training state,
  frozen values, learned keep-probabilities) and the mask explorer's weight sample: large,
  read only where a computation needs them.

This module is the one place that defines the fields: writers hand a level's dict to
``split``, which refuses a name it does not know; readers get a ``Level`` (attributes), a
mask dict or a tensor dict. Stores written before the split held all three in one pickled
dict (``level_NNN.pt``); ``split`` reads those too.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

MASK_FIELD = "next_mask"  # the mask the level chose: level n + 1 trains with it
# The level's weights and weight-derived tensors, by name:
TENSOR_FIELDS = (
    "next_start",   # the kept weights' start of the next level, where not the rewind point
    "next_frozen",  # the pruned weights' values of the next level, where not zero
    "final",        # the end-of-training state (level 0's, or every level's with keep_final)
    "state",        # a rewind point: every parameter and buffer at iteration k
    "masks",        # a learned supermask's keep-probabilities (float16)
    "sample",       # the mask explorer's fixed sample of (w_i, w_f, kept) per layer
)


@dataclass(frozen=True)
class Level:
    """A level's metrics and scalars: what its training gave and how it ended."""

    level: int = 0
    seed: int | None = None
    percent_remaining: float = 100.0  # of the prunable weights, in the mask this level trained
    iterations: Any = None  # np.ndarray: the evaluation grid (global steps)
    metrics: dict[str, Any] = field(default_factory=dict)  # "<split>_<metric>" -> np.ndarray
    early_stop_iteration: int | None = None
    test_acc_at_early_stop: float = math.nan
    test_acc_at_end: float = math.nan
    failed_at: int | None = None  # the evaluated iteration where its training diverged
    stopped: str | None = None  # why it chose no next mask, when it did not diverge
    collapsed: list[str] = field(default_factory=list)  # layers its mask left empty
    wall_s: float | None = None  # training seconds per network of its population
    env: dict = field(default_factory=dict)  # provenance.environment: code, libraries, device, date
    table: list[dict] | None = None  # a heuristic-supermask run's accuracies (Z19 §5)
    summary: dict | None = None  # a learned-supermask run's outcome (Z19 §5)
    has_next_mask: bool = False  # it chose the mask of a next level (the mask part holds it)
    tensors: list[str] = field(default_factory=list)  # the TENSOR_FIELDS it stored

    @property
    def failed(self) -> bool:
        return self.failed_at is not None

    @property
    def continues(self) -> bool:
        """Whether a next level can start from it: it did not diverge and chose a mask."""
        return self.failed_at is None and self.has_next_mask

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, default=_encode).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Level:
        values = json.loads(raw, object_hook=_decode)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


_SCALARS = {f.name for f in fields(Level)} - {"has_next_mask", "tensors"}


def split(record: dict, legacy: bool = False
          ) -> tuple[Level, dict[str, dict] | None, dict[str, Any]]:
    """A level's dict (as the loop builds it, or, ``legacy``, as a store of an earlier version
    pickled it: names it no longer has are dropped) as its three parts: the Level, the packed
    next mask (or None) and its tensors."""
    if legacy and "round" in record:
        record = {"level": record["round"], **record}
    unknown = set(record) - _SCALARS - {MASK_FIELD, *TENSOR_FIELDS}
    if unknown and not legacy:
        raise ValueError(f"a level record has no field {', '.join(sorted(unknown))} "
                         "(lt_core.record defines them)")
    tensors = {k: record[k] for k in TENSOR_FIELDS if k in record}
    level = Level(**{k: v for k, v in record.items() if k in _SCALARS},
                  has_next_mask=MASK_FIELD in record, tensors=sorted(tensors))
    return level, record.get(MASK_FIELD), tensors


# -- masks as bits ----------------------------------------------------------------------------
def pack_mask(mask: torch.Tensor) -> dict:
    return {"shape": tuple(mask.shape), "bits": np.packbits(mask.cpu().bool().numpy().ravel())}


def unpack_mask(packed: dict) -> torch.Tensor:
    n = int(np.prod(packed["shape"]))
    bits = np.unpackbits(packed["bits"], count=n).astype(np.float32)
    return torch.from_numpy(bits).view(*packed["shape"])


def masks_to_bytes(packed: dict[str, dict]) -> bytes:
    """Packed masks as an ``.npz`` (no pickle): per tensor its bits and its shape."""
    arrays = {}
    for name, p in packed.items():
        arrays[f"bits:{name}"] = np.asarray(p["bits"], dtype=np.uint8)
        arrays[f"shape:{name}"] = np.asarray(p["shape"], dtype=np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def masks_from_bytes(raw: bytes) -> dict[str, dict]:
    with np.load(io.BytesIO(raw), allow_pickle=False) as z:
        names = [k.split(":", 1)[1] for k in z.files if k.startswith("bits:")]
        return {n: {"shape": tuple(int(d) for d in z[f"shape:{n}"]), "bits": z[f"bits:{n}"]}
                for n in names}


def tensors_to_bytes(tensors: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


def tensors_from_bytes(raw: bytes) -> dict[str, Any]:
    return torch.load(io.BytesIO(raw), weights_only=True)


# -- JSON with arrays --------------------------------------------------------------------------
def _encode(value: Any) -> Any:
    """numpy arrays keep their dtype (a float32 metric reads back as the same float32)."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": value.dtype.str, "data": value.tolist()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"a level's scalars cannot hold {type(value).__name__}")


def _decode(obj: dict) -> Any:
    if "__ndarray__" in obj:
        return np.asarray(obj["data"], dtype=np.dtype(obj["__ndarray__"]))
    return obj
