"""Hostile input on every command: one line on stderr that names the problem and what to do,
a non-zero exit, and nothing new in the run store (issue 21's table, one test per row)."""

import errno
import json
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lt_core import config, data, models
from lt_core.__main__ import main
from lt_core.config import ConfigError
from lt_core.papers import l23, z19


def files(root: Path) -> list[str]:
    """Every file under ``root`` (none if it does not exist): the store before and after."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


@pytest.fixture
def store(tmp_path):
    """A store that already holds a file, so that 'nothing new' is checked, not 'no store'."""
    root = tmp_path / "runs"
    (root / "earlier").mkdir(parents=True)
    (root / "earlier" / "config.json").write_text("{}")
    return root


def one_line_error(capsys, *argv) -> str:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), (code, err)
    return err[0]


def params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# ImageNet normalisation on 1-channel data: refused when the params are loaded


H21 = """model: {model}
data: {{dataset: mnist, validation: none, normalize: imagenet, augment: none}}
train: {{optimizer: sgd, lr: 0.05, batch_size: 128, iterations: 20, last_batch: keep,
        eval_every: 100000}}
levels: 1
lpr_levels: [1]
studies: [{{name: lr, vary: lr, find: [0.05], eval: [0.05]}}]
seeds: [0]
store: {store}
"""


@pytest.mark.parametrize("model", ["lenet_300_100", "resnet20"])
def test_h21_imagenet_normalisation_on_mnist(tmp_path, store, capsys, model):
    before = files(store)
    path = params(tmp_path, H21.format(model=model, store=store))
    line = one_line_error(capsys, "run", path)
    assert line == (f"error: {path}: data.normalize: imagenet needs 3-channel images (cifar10, "
                    "tiny_imagenet); mnist has 1: use normalize: dataset or none")
    assert files(store) == before


def test_l23_resnet20_on_mnist(tmp_path, store):
    # L23 normalises ResNet-20's data by ImageNet's statistics (OpenLTH); LeNet first: the
    # check covers every network before the first one trains.
    path = params(tmp_path, f"models: [lenet_300_100, resnet20]\ndata: {{dataset: mnist}}\n"
                            f"train: {{iterations: 10}}\nlevels: 1\nseeds: [0]\n"
                            f"overlap: {{level: 1, reinit_seeds: []}}\nstore: {store}\n")
    before = files(store)
    with pytest.raises(ConfigError) as err:
        l23.run(config.load(path, l23.Layerwise), progress=False)
    assert str(err.value) == (
        f"{path}: models: resnet20 normalises its data by ImageNet's statistics in L23, which "
        "need 3-channel images; mnist has 1: set data.dataset: cifar10 (or leave it unset: each "
        "network's own), or use lenet_300_100 on mnist")
    assert files(store) == before


def test_imagenet_normalisation_of_1_channel_data_fails_at_the_data_too():
    with pytest.raises(data.DataError, match="normalize: imagenet needs 3-channel images"):
        data.load("mnist", normalize="imagenet")


# ---------------------------------------------------------------------------------------------
# Params files: a key given twice, an alias bomb, a megabyte value


def test_key_given_twice_names_the_line_of_the_second(tmp_path, store, capsys):
    path = params(tmp_path, f"train:\n  lr: 0.5\n  iterations: 10\n  lr: 0.001\nstore: {store}\n")
    before = files(store)
    line = one_line_error(capsys, "run", path)
    assert line == f"error: {path}:4:3: key 'lr' given twice (first on line 2); keep one"
    assert files(store) == before


def test_alias_bomb_is_refused_at_once(tmp_path, store, capsys):
    levels = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"] + [
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]  # 10^10 ones
    path = params(tmp_path, "\n".join(levels) + f"\nseeds: *a9\nstore: {store}\n")
    before = files(store)
    start = time.perf_counter()
    line = one_line_error(capsys, "run", path)
    assert time.perf_counter() - start < 5
    assert line == (f"error: {path}:2:10: YAML aliases (*a0) are not read in params files; "
                    "write the value out")
    assert files(store) == before


def test_a_huge_value_is_quoted_cut_short(tmp_path, store, capsys):
    path = params(tmp_path, f"seeds: [[{', '.join(['1'] * 10_000)}]]\nstore: {store}\n")
    line = one_line_error(capsys, "run", path)
    assert line == f"error: {path}: field 'seeds[0]' must be an integer (got [1, 1, 1, 1, ...])"
    assert files(store) == ["earlier/config.json"]


# ---------------------------------------------------------------------------------------------
# Ray where nothing listens


def closed_port() -> int:
    with socket.socket() as s:  # a port the OS just gave out and nothing listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("where", ["params", "RAY_ADDRESS"])
def test_ray_address_where_nothing_listens(tmp_path, store, capsys, monkeypatch, where):
    pytest.importorskip("ray")
    address = f"127.0.0.1:{closed_port()}"
    ray = f"ray: {{address: '{address}'}}\n" if where == "params" else ""
    if where == "RAY_ADDRESS":
        monkeypatch.setenv("RAY_ADDRESS", address)
    path = params(tmp_path, f"train: {{iterations: 10, eval_every: 10}}\npruning: {{levels: 1}}\n"
                            f"executor: ray\n{ray}store: {store}\n")
    before = files(store)
    start = time.perf_counter()
    line = one_line_error(capsys, "run", path)
    assert time.perf_counter() - start < 10
    assert line == (f"error: no Ray cluster answers at {address} (Connection refused); start one "
                    "(ray start --head) or set ray.address (or RAY_ADDRESS) to a running "
                    "cluster's host:port")
    assert files(store) == before


# ---------------------------------------------------------------------------------------------
# import and export of supermask files


HEADER = {"model": "fc", "input_shape": [1, 28, 28], "num_classes": 10, "seed": 3,
          "weights": "signed_constant", "test_acc": 0.5, "source": {}}


def fc_masks():
    net = models.build("fc", (1, 28, 28))
    return {n: (p > 0).float() for n, p in net.named_parameters() if n in net.prune_rates}


def test_import_a_flipped_byte_in_the_headers_keys(tmp_path, capsys):
    good = tmp_path / "good.supermask"
    z19.maskfile.write(good, HEADER, fc_masks())
    blob = bytearray(good.read_bytes())
    blob[blob.index(b'"layers"') + 2] ^= 0x01  # "layers" -> "lbyers"
    bad = tmp_path / "bad.supermask"
    bad.write_bytes(blob)
    line = one_line_error(capsys, "import", bad)
    assert line == (f"error: {bad}: damaged header (field layers is not a list (got None)): the "
                    "file was altered or damaged; export it again")


def test_import_any_flipped_header_byte_is_one_line(tmp_path):
    good = tmp_path / "good.supermask"
    z19.maskfile.write(good, HEADER, fc_masks())
    blob = good.read_bytes()
    end = len(z19.maskfile.MAGIC) + 4 + int.from_bytes(blob[12:16], "little")
    for i in range(end):  # the magic, the header's length and every byte of the header
        damaged = bytearray(blob)
        damaged[i] ^= 0x01
        (tmp_path / "bad").write_bytes(damaged)
        with pytest.raises(z19.maskfile.MaskFileError) as err:
            z19.maskfile.read(tmp_path / "bad")
        assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_import_a_file_of_an_unknown_architecture(tmp_path, capsys):
    path = tmp_path / "foo.supermask"
    z19.maskfile.write(path, {**HEADER, "model": "foo"}, fc_masks())  # intact: checksum matches
    line = one_line_error(capsys, "import", path)
    assert line == (f"error: {path}: not a supermask this lt_core reads (unknown architecture "
                    f"'foo'; this lt_core knows {', '.join(models.MODELS)})")


def test_import_a_directory(tmp_path, capsys):
    line = one_line_error(capsys, "import", tmp_path)
    assert line == (f"error: {tmp_path} is a directory; name a .supermask file (python -m "
                    "lt_core export writes one)")


@pytest.fixture(scope="module")
def supermask_store(tmp_path_factory):
    """A tiny store with a dense run, its heuristic supermasks at powers 0..3 and a learned
    supermask."""

    root = tmp_path_factory.mktemp("supermasks") / "runs"
    cfg = config.load({"models": ["fc"], "dense": {"iterations": 20, "eval_every": 20},
                       "max_power": 3, "criteria": ["large_final_same_sign"],
                       "learned": {"init_values": [0.0], "iterations": 20, "eval_every": 20,
                                   "samples": 1},
                       "store": str(root)}, z19.config.Supermasks)
    table, _ = z19.supermasks.heuristic(cfg, progress=False)
    z19.learned.learned(cfg, progress=False)
    learned = [k for k in (p.parent.name for p in root.glob("*/config.json"))
               if json.loads((root / k / "config.json").read_text())["kind"] == "learned_supermask"]
    return root, table["run"].iloc[0], learned[0]


@pytest.mark.parametrize("power", [-1, 4, 99])
def test_export_a_power_the_run_does_not_have(supermask_store, tmp_path, capsys, power):
    root, heuristic, _ = supermask_store
    before = files(root)
    out = tmp_path / "m.supermask"
    line = one_line_error(capsys, "export", heuristic, "--power", power, "--out", out,
                          "--store", root)
    assert line == (f"error: power {power} is not one of run {heuristic}'s prune powers: pass "
                    "--power 0..3")
    assert not out.exists() and files(root) == before


def test_export_out_an_existing_directory(supermask_store, tmp_path, capsys):
    root, heuristic, _ = supermask_store
    line = one_line_error(capsys, "export", heuristic, "--power", 3, "--out", tmp_path,
                          "--store", root)
    assert line == (f"error: {tmp_path} is a directory; name the file to write, e.g. "
                    f"{tmp_path / f'{heuristic}-p3.supermask'}")
    assert not list(tmp_path.iterdir())


def test_metrics_of_supermask_runs(supermask_store, capsys):
    root, heuristic, learned = supermask_store
    assert main(["metrics", heuristic, "--store", str(root)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy (%) of the untrained masked network at each prune power" in out
    assert "large_final_same_sign" in out and "signed_constant" in out
    assert main(["metrics", learned, "--store", str(root)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("test accuracy ") or out[-1].startswith("diverged")


# ---------------------------------------------------------------------------------------------
# A full disk while a level is saved


def test_disk_full_while_a_level_is_saved(tmp_path):
    store = tmp_path / "runs"
    path = params(tmp_path, f"train: {{iterations: 10, eval_every: 10}}\npruning: {{levels: 1}}\n"
                            f"store: {store}\n")
    limit = 64 * 1024  # bytes: config.json fits, a level of FC (its weights) does not

    def small_files():  # ulimit -f: writes past the limit fail with EFBIG (SIGXFSZ ignored)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = subprocess.run([sys.executable, "-m", "lt_core", "run", str(path)], capture_output=True,
                       text=True, preexec_fn=small_files)
    err = [line for line in re.split(r"[\r\n]", r.stderr) if line.startswith("error")]  # bars
    assert r.returncode == 2 and len(err) == 1, r.stderr[-2000:]
    assert err[0].startswith("error: no space left while writing ")
    assert err[0].split()[6].endswith("/level_000.tensors.pt")
    assert err[0].endswith("(File too large); free some space (or raise the file-size limit, "
                           "ulimit -f) and rerun: finished levels are kept")
    left = files(store)
    assert not [f for f in left if f.endswith((".part", ".pt", ".npz", "level_000.json"))]


def test_disk_full_is_one_line_whichever_error(tmp_path, monkeypatch):
    from lt_core.store import RunStore, StoreError

    store = RunStore(tmp_path / "runs")
    key = store.prepare({"kind": "test"})

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(StoreError) as err:
        store.save_level(key, 0, {"level": 0})
    assert str(err.value).startswith(f"no space left while writing {tmp_path / 'runs' / key}"
                                     "/level_000.json (No space left on device)")
    assert files(tmp_path / "runs") == [f"{key}/config.json"]
