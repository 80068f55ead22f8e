"""A supermask as a file (Z19 §5: "we only need to save a binary mask and a single random seed
to reconstruct the full weights of the network").

A supermask network is its architecture, its init seed, the value rule of its kept weights
(the initial weights, or the signed constant sigma_l * sign(w_i)) and one bit per weight.
File layout, version 1::

    MAGIC                     12 bytes
    header length H           4 bytes, little-endian
    header                    H bytes of JSON: version, model, input_shape, num_classes, seed,
                              init, weights, layers (name, shape), source (the run it came
                              from), test_acc (of the network it was written from)
    masks                     per layer in header order: its bits, numpy.packbits (big-endian)
    sha256                    32 bytes, of everything before it

Reading rebuilds the network with ``models.initial_state(model, seed)``: the same generator
and the same torch version give the same initial weights bit for bit (the header records
the torch version that wrote the file).
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import data as data_mod
from . import engine, models
from .files import atomic_path
from .store import RunStore

MAGIC = b"LTSUPERMASK\n"
VERSION = 1
INIT = "glorot truncated normal, biases 0 (lt_core.models.initial_state)"
INPUTS = {"mnist": (1, 28, 28), "cifar10": (3, 32, 32)}  # data name prefix -> input shape


class MaskFileError(ValueError):
    """A file that cannot be read as a supermask of the expected network; one line."""


@dataclass
class Supermask:
    header: dict
    masks: dict[str, torch.Tensor]  # prunable tensor name -> 0/1 float

    def parameters(self) -> dict[str, torch.Tensor]:
        """The untrained network's parameters: kernels (initial or signed constant) times the
        mask, biases as initialised (0)."""
        from .supermask import masked_network

        net = self.network()
        init = models.initial_state(net, self.header["seed"])
        return masked_network(init, self.masks, self.header["weights"])

    def network(self) -> torch.nn.Module:
        h = self.header
        return models.build(h["model"], tuple(h["input_shape"]), h["num_classes"])

    def test_accuracy(self, data_root: str | None = None, device: str = "auto") -> float:
        """Test accuracy of the rebuilt network on the dataset of its run."""
        data = data_mod.load(self.header["source"]["data_kind"], data_root,
                             engine.resolve_device(device))
        if data.name != self.header["source"]["data"]:
            raise MaskFileError(f"the file was written on data {self.header['source']['data']}"
                                f", but {data.name} was found")
        net = self.network()
        return float(engine.evaluate(net, [self.parameters()], data, "test", device)[0])


def write(path: str | Path, header: dict, masks: dict[str, torch.Tensor]) -> int:
    """Write a supermask file atomically; returns its size in bytes."""
    layers = [{"name": n, "shape": list(m.shape)} for n, m in masks.items()]
    head = json.dumps({"version": VERSION, **header, "init": INIT, "torch": torch.__version__,
                       "layers": layers}, sort_keys=True).encode()
    body = MAGIC + struct.pack("<I", len(head)) + head + b"".join(
        np.packbits(m.flatten().bool().numpy()).tobytes() for m in masks.values())
    blob = body + hashlib.sha256(body).digest()
    with atomic_path(path) as tmp:
        tmp.write_bytes(blob)
    return len(blob)


def read(path: str | Path, model: str | None = None) -> Supermask:
    """Read and check a supermask file; ``model``: the architecture it must be for."""
    path = Path(path)
    if not path.exists():
        raise MaskFileError(f"{path}: no such file")
    blob = path.read_bytes()
    if not blob.startswith(MAGIC):
        raise MaskFileError(f"{path}: not a supermask file (no {MAGIC.strip().decode()} magic)")
    fixed = len(MAGIC) + 4
    if len(blob) < fixed + 32:
        raise MaskFileError(f"{path}: truncated ({len(blob)} bytes)")
    (n_head,) = struct.unpack("<I", blob[len(MAGIC):fixed])
    try:
        header = json.loads(blob[fixed:fixed + n_head])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MaskFileError(f"{path}: truncated or corrupt header") from None
    sizes = [(int(np.prod(layer["shape"])) + 7) // 8 for layer in header["layers"]]
    expected = fixed + n_head + sum(sizes) + 32
    if len(blob) != expected:
        raise MaskFileError(f"{path}: truncated or padded ({len(blob):,} bytes, the header "
                            f"describes {expected:,})")
    if hashlib.sha256(blob[:-32]).digest() != blob[-32:]:
        raise MaskFileError(f"{path}: checksum mismatch (the file was altered or damaged)")
    if header["version"] != VERSION:
        raise MaskFileError(f"{path}: version {header['version']}; this lt_core reads "
                            f"version {VERSION}")
    if model is not None and header["model"] != model:
        raise MaskFileError(f"{path}: a supermask of {header['model']}, not of {model}")
    masks, offset = {}, fixed + n_head
    for layer, size in zip(header["layers"], sizes):
        bits = np.frombuffer(blob, np.uint8, size, offset)
        n = int(np.prod(layer["shape"]))
        masks[layer["name"]] = torch.from_numpy(
            np.unpackbits(bits, count=n).astype(np.float32)).view(*layer["shape"])
        offset += size
    sm = Supermask(header, masks)
    _check_architecture(path, sm)
    return sm


def _check_architecture(path: Path, sm: Supermask) -> None:
    net = sm.network()
    params = dict(net.named_parameters())
    if set(sm.masks) != set(net.prune_rates):
        raise MaskFileError(f"{path}: layers {sorted(sm.masks)} do not match the "
                            f"{sm.header['model']} network's {sorted(net.prune_rates)}")
    for name, mask in sm.masks.items():
        if tuple(mask.shape) != tuple(params[name].shape):
            raise MaskFileError(f"{path}: {name} has shape {tuple(mask.shape)}, the "
                                f"{sm.header['model']} network's is {tuple(params[name].shape)}")


def export(store: str | Path, key: str, power: int, path: str | Path,
           criterion: str = "large_final_same_sign", weights: str = "signed_constant",
           data_root: str | None = None, device: str = "auto") -> tuple[Supermask, int]:
    """Write the heuristic supermask of one stored run at one prune power; returns the
    supermask (its header holds the test accuracy of the network it was written from, on
    the same data) and the file's size in bytes.

    ``key``: a heuristic-supermask run (``python -m lt_core runs``) or its dense run.
    """
    from . import supermask

    if weights not in ("initial", "signed_constant"):
        raise MaskFileError(f"weights must be initial or signed_constant (got {weights!r})")
    runs = RunStore(store)
    if key not in runs.keys():
        raise MaskFileError(f"no run {key!r} in {store}; list them with: python -m lt_core runs")
    cfg = runs.config(key)
    dense_key = cfg.get("dense_run", key)
    dense_cfg = runs.config(dense_key)
    if dense_cfg.get("kind") != "iterative_pruning" or not runs.has_round(dense_key, 0):
        raise MaskFileError(f"run {key} is neither a heuristic supermask nor a dense run")
    record = runs.load_round(dense_key, 0)
    model, seed, data_name = dense_cfg["model"], dense_cfg["seed"], dense_cfg["data"]
    kind = next((k for k in INPUTS if data_name.startswith(k)), None)
    if kind is None:
        raise MaskFileError(f"run {key} trained on {data_name}: no input shape known for it")
    net = models.build(model, INPUTS[kind])
    init = models.initial_state(net, seed)
    mask = supermask.heuristic_mask(criterion, init, record["final"], net.prune_rates, seed,
                                    power)
    data = data_mod.load(kind, data_root, engine.resolve_device(device))
    if data.name != data_name:
        raise MaskFileError(f"run {key} trained on {data_name}, but {data.name} was found "
                            "(set LT_DATA to the data root the run used)")
    params = supermask.masked_network(init, mask, weights)
    acc = float(engine.evaluate(net, [params], data, "test", device)[0])
    header = {"model": model, "input_shape": list(INPUTS[kind]), "num_classes": 10,
              "seed": seed, "weights": weights, "test_acc": acc,
              "source": {"run": key, "dense_run": dense_key, "criterion": criterion,
                         "power": power, "data": data_name, "data_kind": kind,
                         "dense_train": dense_cfg["train"]}}
    size = write(path, header, mask)
    return Supermask(json.loads(json.dumps(header)), mask), size


def float32_bytes(model: str, input_shape: tuple[int, ...] | list[int]) -> int:
    """Size of the same network stored as float32 parameters."""
    return 4 * sum(p.numel() for p in models.build(model, tuple(input_shape)).parameters())


def round_trip(heuristic: pd.DataFrame, store: str | Path, folder: str | Path,
               criterion: str = "large_final_same_sign", weights: str = "signed_constant",
               data_root: str | None = None) -> pd.DataFrame:
    """Per network, its first seed's best supermask (the prune power where ``criterion`` x
    ``weights`` scores best) written to a file in ``folder`` and rebuilt from it: the sizes,
    and the test accuracy in the run against the rebuilt network's."""
    rows = []
    for model, part in heuristic.groupby("model", sort=False):
        part = part[(part["criterion"] == criterion) & (part["weights"] == weights)]
        part = part[part["seed"] == part["seed"].min()]
        best = part.loc[part["test_acc"].idxmax()]
        seed, power = int(best["seed"]), int(best["power"])
        path = Path(folder) / f"{model}-seed{seed}-power{power}.supermask"
        sm, size = export(store, best["run"], power, path, criterion, weights, data_root)
        rebuilt = read(path, model).test_accuracy(data_root)
        rows.append({
            "network": model, "seed": seed, "prune power": power,
            "file (KB)": round(size / 1e3, 1),
            "float32 network (KB)": round(float32_bytes(model, sm.header["input_shape"]) / 1e3),
            "test acc. in the run": float(best["test_acc"]),
            "test acc. rebuilt from the file": rebuilt,
            "bit for bit": rebuilt == float(best["test_acc"])})
    return pd.DataFrame(rows).set_index("network")
