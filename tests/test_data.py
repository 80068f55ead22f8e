import gzip
import hashlib
import http.server
import struct
import threading
from functools import partial

import numpy as np
import pytest
import torch

from lt_core import data
from lt_core.data import DataError, sources


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _fake_mnist(folder, n_train=60000, n_test=100, gz=True):
    """IDX files with the real layout (small test split) and their content checksums."""
    rng = np.random.RandomState(1)
    arrays = {
        "train-images-idx3-ubyte": rng.randint(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.randint(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, arr in arrays.items():
        raw = _idx_bytes(arr)
        sums[name] = hashlib.md5(raw).hexdigest()
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays, sums


def _visible(folder) -> list[str]:
    """What a download left in a folder, but for the empty lock file that serialises them."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".lt_downloads.lock")


def test_read_idx_parses_raw_and_gzip(tmp_path):
    arr = np.arange(24).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    for path in (tmp_path / "a", tmp_path / "a.gz"):
        np.testing.assert_array_equal(data.read_idx(path), arr)


def test_read_idx_rejects_wrong_checksum_and_truncation(tmp_path):
    raw = _idx_bytes(np.zeros((2, 2)))
    (tmp_path / "a").write_bytes(raw)
    with pytest.raises(DataError, match="fails its checksum.*make data"):
        data.read_idx(tmp_path / "a", "0" * 32)
    (tmp_path / "b").write_bytes(raw[:-1])
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(tmp_path / "b")


def test_papers_split_matches_legacy_numpy_seed_0():
    train, val = data.papers_split(60000)
    np.random.seed(0)
    expected = np.random.choice(60000, 5000, replace=False)
    np.testing.assert_array_equal(val, expected)
    assert len(train) == 55000 and not set(train) & set(val)
    assert np.all(np.diff(train) > 0)


def test_load_mnist_from_idx_files(tmp_path, monkeypatch):
    arrays, sums = _fake_mnist(tmp_path / "mnist", gz=False)
    monkeypatch.setattr(sources, "MNIST_FILES", sums)
    ds = data.load("mnist", tmp_path)
    assert ds.name == "mnist" and ds.sizes() == {"train": 55000, "val": 5000, "test": 100}
    x, y = ds.splits["val"]
    _, val_idx = data.papers_split(60000)
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.uint8  # network input per batch
    np.testing.assert_array_equal(x[0, 0].numpy(), arrays["train-images-idx3-ubyte"][val_idx[0]])
    np.testing.assert_allclose(ds.inputs(x[:1])[0, 0].numpy(),
                               arrays["train-images-idx3-ubyte"][val_idx[0]] / 255.0)
    np.testing.assert_array_equal(y.numpy(), val_idx % 10)


def test_explicit_root_without_mnist_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match=r"not found in .*make data"):
        data.load("mnist", tmp_path)


def test_corrupt_mnist_file_is_reported(tmp_path):
    _fake_mnist(tmp_path / "mnist", n_train=10, n_test=10)  # checksums differ from real MNIST
    with pytest.raises(DataError, match="fails its checksum"):
        data.load("mnist", tmp_path)


def test_embedded_default_is_real_mnist_when_no_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./data here, no LT_DATA
    ds = data.load("mnist")
    assert ds.name == "mnist-embedded-5k"
    assert ds.sizes() == {"train": 3500, "val": 500, "test": 1000}
    x, y = ds.splits["train"]
    x = ds.inputs(x)
    assert x.shape[1:] == (1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) == 1.0
    assert sorted(set(y.tolist())) == list(range(10))
    assert "embedded" in ds.description


def test_cifar10_image_folders(tmp_path):
    pil = pytest.importorskip("PIL.Image")
    root = tmp_path / "cifar10-jpg"
    for split, n in (("train", 600), ("test", 2)):
        for label, cls in enumerate(data.CIFAR_CLASSES):
            (root / split / cls).mkdir(parents=True)
            for i in range(n // 10 if split == "train" else n):
                pil.fromarray(np.full((32, 32, 3), label * 20, np.uint8)).save(root / split / cls / f"{i}.png")
    from lt_core.data import dataset as d
    train_full = 600
    orig = d.papers_split
    try:
        d.papers_split = lambda n, n_val=5000: orig(n, 50)  # a small val split for a small set
        ds = data.load("cifar10", tmp_path)
    finally:
        d.papers_split = orig
    assert ds.name == "cifar10-jpg" and ds.sizes() == {"train": train_full - 50, "val": 50, "test": 20}
    x, y = ds.splits["test"]
    assert x.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(x[:, 0, 0, 0].numpy(), y.numpy() * 20)
    assert (tmp_path / "cifar10-jpg.cache.npz").exists()  # second load skips decoding


# -- download, against a local HTTP server -------------------------------------------------


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_download_good_file_atomically(server, tmp_path):
    root, url = server
    (root / "f.bin").write_bytes(b"hello")
    dest = tmp_path / "out" / "f.bin"
    data.download_file([url + "f.bin"], dest, hashlib.md5(b"hello").hexdigest())
    assert dest.read_bytes() == b"hello"
    assert _visible(dest.parent) == ["f.bin"]


def test_download_corrupt_file_leaves_nothing(server, tmp_path):
    root, url = server
    (root / "f.bin").write_bytes(b"corrupted")
    dest = tmp_path / "out" / "f.bin"
    with pytest.raises(DataError) as err:
        data.download_file([url + "f.bin"], dest, hashlib.md5(b"hello").hexdigest())
    assert "checksum mismatch" in str(err.value) and "nothing was written" in str(err.value)
    assert "\n" not in str(err.value)
    assert _visible(dest.parent) == []


def test_download_falls_back_to_second_mirror(server, tmp_path):
    root, url = server
    (root / "good").mkdir()
    (root / "good" / "f.bin").write_bytes(b"hello")
    (root / "f.bin").write_bytes(b"corrupted")
    dest = tmp_path / "f.bin"
    data.download_file([url + "f.bin", url + "good/f.bin"], dest, hashlib.md5(b"hello").hexdigest())
    assert dest.read_bytes() == b"hello"


def test_unreachable_host_gives_manual_fix(tmp_path):
    dest = tmp_path / "f.bin"
    with pytest.raises(DataError, match=r"could not download f.bin .*Download it by hand into"):
        data.download_file(["http://127.0.0.1:9/f.bin"], dest, "0" * 32, timeout=2)
    assert not dest.exists() and _visible(tmp_path) == []


def test_download_mnist_accepts_recompressed_gz_by_content(server, tmp_path, monkeypatch):
    root, url = server
    _, sums = _fake_mnist(root, n_train=60000, n_test=10)
    monkeypatch.setattr(sources, "MNIST_FILES", sums)  # the .gz MD5s will not match: content does
    folder = data.download_mnist(tmp_path, base_urls=(url,))
    assert _visible(folder) == sorted(f"{n}.gz" for n in sums)
    assert data.load("mnist", tmp_path).sizes()["train"] == 55000


def test_download_into_a_folder_that_cannot_be_written_says_so(tmp_path, read_only,
                                                                monkeypatch):
    tried = []
    monkeypatch.setattr(data.urllib.request, "urlopen", lambda *a, **k: tried.append(a))
    read_only(tmp_path)
    with pytest.raises(DataError) as err:
        data.download_mnist(tmp_path)
    assert str(err.value).startswith(f"data folder {tmp_path / 'mnist'} cannot be written")
    assert "\n" not in str(err.value) and tried == []
