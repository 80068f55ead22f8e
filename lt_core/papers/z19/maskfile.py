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
import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ... import criteria as criteria_mod
from ... import data as data_mod
from ... import engine, models
from ...config import ConfigError, quote
from ...files import atomic_path, write_problem
from ...store import RunStore
from . import supermasks
from .config import Supermasks

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
        net = self.network()
        init = models.initial_state(net, self.header["seed"])
        return supermasks.masked_network(init, self.masks, self.header["weights"])

    def network(self) -> torch.nn.Module:
        h = self.header
        return models.build(h["model"], tuple(h["input_shape"]), h["num_classes"])

    def test_accuracy(self, data_root: str | None = None, device: str = "auto") -> float:
        """Test accuracy of the rebuilt network on the dataset of its run."""
        dataset = self.header["source"].get("data_kind")  # checked by read: None or a dataset
        if dataset is None or not isinstance(self.header["source"].get("data"), str):
            raise MaskFileError("the file names no data to evaluate on (source.data_kind, "
                                "source.data): export it again from its run")
        data = data_mod.load(dataset, data_root, engine.resolve_device(device))
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
    if path.is_dir():
        raise MaskFileError(f"{path} is a directory; name a .supermask file (python -m lt_core "
                            "export writes one)")
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise MaskFileError(f"{path}: no such file") from None
    except OSError as err:
        raise MaskFileError(f"{path} cannot be read ({err.strerror})") from None
    if not blob.startswith(MAGIC):
        raise MaskFileError(f"{path}: not a supermask file (no {MAGIC.strip().decode()} magic)")
    fixed = len(MAGIC) + 4
    if len(blob) < fixed + 32:
        raise MaskFileError(f"{path}: truncated ({len(blob)} bytes)")
    (n_head,) = struct.unpack("<I", blob[len(MAGIC):fixed])
    # The header as a whole: a flipped byte anywhere in it (a key, a value, the JSON) is one
    # problem, reported together with the checksum, never a KeyError further on.
    try:
        header = json.loads(blob[fixed:fixed + n_head])
    except (ValueError, RecursionError):  # not UTF-8 or JSON, or nested beyond any header
        header, problem = None, "not JSON"
    else:
        problem = _header_problem(header)
    expected = None if problem else fixed + n_head + sum(_layer_bytes(header)) + 32
    intact = hashlib.sha256(blob[:-32]).digest() == blob[-32:]
    if expected is not None and len(blob) != expected:
        raise MaskFileError(f"{path}: truncated, padded or damaged ({len(blob):,} bytes, the "
                            f"header describes {expected:,}); export it again")
    if not intact:
        what = f"damaged header ({problem})" if problem else "checksum mismatch"
        raise MaskFileError(f"{path}: {what}: the file was altered or damaged; export it again")
    if problem:  # as written, by something else than this lt_core
        raise MaskFileError(f"{path}: not a supermask this lt_core reads ({problem})")
    if model is not None and header["model"] != model:
        raise MaskFileError(f"{path}: a supermask of {header['model']}, not of {model}")
    masks, offset = {}, fixed + n_head
    for layer, size in zip(header["layers"], _layer_bytes(header)):
        bits = np.frombuffer(blob, np.uint8, size, offset)
        masks[layer["name"]] = torch.from_numpy(np.unpackbits(
            bits, count=math.prod(layer["shape"])).astype(np.float32)).view(*layer["shape"])
        offset += size
    sm = Supermask(header, masks)
    _check_architecture(path, sm)
    return sm


def _header_problem(header: Any) -> str | None:
    """What makes ``header`` unusable (one phrase, values cut short), or None."""
    if not isinstance(header, dict):
        return "not a JSON object"
    if header.get("version") != VERSION:
        return f"version {quote(header.get('version'))}; this lt_core reads version {VERSION}"
    words = {str: "a string", int: "an integer", float: "a number", list: "a list",
             dict: "a mapping"}
    for name, tp in (("model", str), ("input_shape", list), ("num_classes", int),
                       ("seed", int), ("weights", str), ("test_acc", float), ("layers", list),
                       ("source", dict)):
        value = header.get(name)
        ok = isinstance(value, int | float) if tp is float else isinstance(value, tp)
        if not ok or isinstance(value, bool):
            return f"field {name} is not {words[tp]} (got {quote(value)})"
    if header["model"] not in models.MODELS:
        return (f"unknown architecture {quote(header['model'])}; this lt_core knows "
                f"{', '.join(models.MODELS)}")
    if header["weights"] not in ("initial", "signed_constant"):
        return f"weights {quote(header['weights'])}, not initial or signed_constant"
    dataset = header["source"].get("data_kind")
    shapes = {name: list(shape) for name, shape in INPUTS.items()}
    if header["input_shape"] not in shapes.values() or header["num_classes"] != 10 or (
            dataset is not None and (dataset not in tuple(shapes)
                                     or shapes[dataset] != header["input_shape"])):
        allowed = "; ".join(f"{name} {tuple(shape)}" for name, shape in INPUTS.items())
        return (f"input {quote(header['input_shape'])} of {quote(header['num_classes'])} "
                f"classes on data {quote(dataset)}; written on 10-class data: {allowed}")
    for layer in header["layers"]:
        if not (isinstance(layer, dict) and isinstance(layer.get("name"), str)
                and isinstance(layer.get("shape"), list)
                and all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31
                        for n in layer["shape"])):
            return f"layer {quote(layer)} is not a name and a shape"
    return None


def _layer_bytes(header: dict) -> list[int]:
    """Bytes of each layer's bits (``numpy.packbits``: 8 per byte, the last one padded)."""
    return [(math.prod(layer["shape"]) + 7) // 8 for layer in header["layers"]]


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

    if weights not in ("initial", "signed_constant"):
        raise MaskFileError(f"weights must be initial or signed_constant (got {quote(weights)})")
    try:
        criteria_mod.get(criterion)
    except ConfigError as err:
        raise MaskFileError(str(err)) from None
    if Path(path).is_dir():
        raise MaskFileError(f"{path} is a directory; name the file to write, e.g. "
                            f"{Path(path) / f'{key}-p{power}.supermask'}")
    runs = RunStore(store)
    if key not in runs.keys(packs=True):
        raise MaskFileError(f"no run {key!r} in {store}; list them with: python -m lt_core runs")
    cfg = runs.config(key)
    dense_key = cfg.get("dense_run", key)
    dense_cfg = runs.config(dense_key)
    if dense_cfg.get("kind") != "iterative_pruning" or not runs.has_level(dense_key, 0):
        raise MaskFileError(f"run {key} is neither a heuristic supermask nor a dense run")
    top = _max_power(runs, key, cfg)
    if not 0 <= power <= top:
        raise MaskFileError(f"power {power} is not one of run {key}'s prune powers: pass "
                            f"--power 0..{top}")
    model, seed, data_name = dense_cfg["model"], dense_cfg["seed"], dense_cfg["data"]
    dataset = next((k for k in INPUTS if data_name.startswith(k)), None)
    if dataset is None:
        raise MaskFileError(f"run {key} trained on {data_name}: no input shape known for it")
    net = models.build(model, INPUTS[dataset])
    init = models.initial_state(net, seed)
    final = runs.tensors(dense_key, 0)["final"]
    mask = supermasks.heuristic_mask(criterion, init, final, net.prune_rates, seed, power)
    data = data_mod.load(dataset, data_root, engine.resolve_device(device))
    if data.name != data_name:
        raise MaskFileError(f"run {key} trained on {data_name}, but {data.name} was found "
                            "(set LT_DATA to the data root the run used)")
    params = supermasks.masked_network(init, mask, weights)
    acc = float(engine.evaluate(net, [params], data, "test", device)[0])
    header = {"model": model, "input_shape": list(INPUTS[dataset]), "num_classes": 10,
              "seed": seed, "weights": weights, "test_acc": acc,
              "source": {"run": key, "dense_run": dense_key, "criterion": criterion,
                         "power": power, "data": data_name, "data_kind": dataset,
                         "dense_train": dense_cfg["train"]}}
    try:
        size = write(path, header, mask)
    except OSError as err:
        raise MaskFileError(write_problem(err, path)) from None
    return Supermask(json.loads(json.dumps(header)), mask), size


def _max_power(runs: RunStore, key: str, cfg: dict) -> int:
    """The largest prune power of a heuristic-supermask run, or of those made from a dense run
    (Z19's, ``Supermasks.max_power``, where none was)."""
    if "max_power" in cfg:
        return cfg["max_power"]
    made = [c["max_power"] for c in map(runs.config, runs.keys(packs=True))
            if c.get("dense_run") == key]
    return max(made, default=Supermasks.max_power)


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
