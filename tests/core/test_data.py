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
    import pooch

    monkeypatch.setattr(pooch, "retrieve", lambda *a, **k: tried.append(a))
    read_only(tmp_path)
    with pytest.raises(DataError) as err:
        data.download_mnist(tmp_path)
    assert str(err.value).startswith(f"data folder {tmp_path / 'mnist'} cannot be written")
    assert "\n" not in str(err.value) and tried == []


# -- augmentation, options, Tiny ImageNet, the CIFAR archive ---------------------------------


def test_crop_flip_by_hand():
    from lt_core.data.augment import crop_flip

    x = torch.arange(2 * 1 * 3 * 3, dtype=torch.uint8).view(2, 1, 3, 3)
    # member 0: window at (0, 1) of the 1-padded image, flipped; member 1: centre, no flip
    d = torch.tensor([[0, 1], [1, 1], [1, 0]])
    out = crop_flip(x, d, padding=1)
    assert out[0, 0].tolist() == [[0, 0, 0], [2, 1, 0], [5, 4, 3]]
    assert torch.equal(out[1], x[1])


def test_augmentation_draws_depend_on_member_and_epoch_only():
    from lt_core.data.augment import draws

    a = draws(seed=1, epoch=3, n=50, padding=4)
    assert torch.equal(a, draws(seed=1, epoch=3, n=50, padding=4))
    assert not torch.equal(a, draws(seed=1, epoch=4, n=50, padding=4))
    assert not torch.equal(a, draws(seed=2, epoch=3, n=50, padding=4))
    assert a[:2].min() >= 0 and a[:2].max() <= 8 and set(a[2].tolist()) == {0, 1}


def test_options_name_the_data_and_keep_the_pixels():
    ds = data.synthetic_images({"train": 40, "val": 10, "test": 10}, shape=(3, 4, 4))
    assert ds.with_options().name == ds.name  # the defaults are Z19's: same run keys
    opt = ds.with_options(validation="none", normalize="imagenet", augment="crop_flip")
    assert opt.name == "synthetic-uint8+noval+imagenetnorm+cropflip4"
    assert opt.sizes() == {"train": 50, "test": 10} and not opt.has_validation
    x = opt.splits["train"][0][:1]
    mean, std = torch.tensor(data.dataset.IMAGENET_MEAN), torch.tensor(data.dataset.IMAGENET_STD)
    expected = (x.float() / 255 - mean.view(3, 1, 1)) / std.view(3, 1, 1)
    torch.testing.assert_close(opt.inputs(x), expected)
    norm = ds.with_options(normalize="dataset")
    assert abs(float(norm.inputs(norm.splits["train"][0]).mean((0, 2, 3)).abs().max())) < 1e-5


def _tiny_imagenet(folder, n_train=3, n_val=2, corrupt=False):
    """The canonical layout, 2 classes of 64x64 JPEGs whose colour is the class index."""
    pil = pytest.importorskip("PIL.Image")
    wnids = ["n01443537", "n01629819"]
    lines = []
    for c, w in enumerate(wnids):
        (folder / "train" / w / "images").mkdir(parents=True)
        for i in range(n_train):
            pil.fromarray(np.full((64, 64, 3), 40 + 100 * c, np.uint8)).save(
                folder / "train" / w / "images" / f"{w}_{i}.JPEG", format="JPEG")
    (folder / "val" / "images").mkdir(parents=True)
    for i in range(n_val * 2):
        pil.fromarray(np.full((64, 64, 3), 40 + 100 * (i % 2), np.uint8)).save(
            folder / "val" / "images" / f"val_{i}.JPEG", format="JPEG")
        lines.append(f"val_{i}.JPEG\t{wnids[i % 2]}\t0\t0\t63\t63")
    (folder / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    (folder / "wnids.txt").write_text("\n".join(wnids) + "\n")


def test_tiny_imagenet_layout(tmp_path, monkeypatch):
    _tiny_imagenet(tmp_path / "tiny-imagenet-200")
    monkeypatch.setattr(data.dataset, "papers_split", lambda n, n_val=5000: (np.arange(n - 1),
                                                                              np.array([n - 1])))
    ds = data.load("tiny_imagenet", tmp_path)
    assert ds.num_classes == 200 and ds.sizes() == {"train": 5, "val": 1, "test": 4}
    x, y = ds.splits["test"]
    assert x.dtype == torch.uint8 and x.shape == (4, 3, 64, 64)
    assert (x[:, 0, 32, 32].int() - (40 + 100 * y).int()).abs().max() <= 3  # JPEG, nearly exact
    nov = data.load("tiny_imagenet", tmp_path, validation="none")
    assert nov.sizes() == {"train": 6, "test": 4}


def test_tiny_imagenet_download_against_a_local_server(server, tmp_path, monkeypatch):
    import zipfile

    from lt_core.data import download as dl

    root, url = server
    _tiny_imagenet(tmp_path / "src" / "tiny-imagenet-200")
    archive = root / "tiny-imagenet-200.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted((tmp_path / "src").rglob("*")):
            z.write(p, p.relative_to(tmp_path / "src"))
    (root / "bad").mkdir()
    (root / "bad" / "tiny-imagenet-200.zip").write_bytes(archive.read_bytes()[:-100])
    monkeypatch.setattr(dl, "TINY_MD5", hashlib.md5(archive.read_bytes()).hexdigest())
    dest = tmp_path / "data"
    with pytest.raises(DataError, match="checksum mismatch.*nothing was written"):
        data.download_tiny_imagenet(dest, base_urls=[url + "bad/"])
    assert _visible(dest) == []
    folder = data.download_tiny_imagenet(dest, base_urls=[url + "bad/", url])  # falls back
    assert folder == dest / "tiny-imagenet-200" and _visible(dest) == ["tiny-imagenet-200"]
    assert data.load("tiny_imagenet", dest, validation="none").sizes() == {"train": 6, "test": 4}


def test_missing_tiny_imagenet_says_what_to_do(tmp_path):
    with pytest.raises(DataError, match="Tiny ImageNet not found in .*--tiny-imagenet"):
        data.load("tiny_imagenet", tmp_path)


def test_cifar10_from_the_jpeg_archive_itself(tmp_path, monkeypatch):
    import tarfile

    pil = pytest.importorskip("PIL.Image")
    src = tmp_path / "src" / "cifar10-jpg"
    for split, n in (("train", 2), ("test", 1)):
        for label, cls in enumerate(data.CIFAR_CLASSES):
            (src / split / cls).mkdir(parents=True)
            for i in range(n):
                pil.fromarray(np.full((32, 32, 3), label * 20, np.uint8)).save(
                    src / split / cls / f"{i:04d}.jpg", format="JPEG", quality=100)
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar10-jpg.tar.gz", "w:gz") as tar:
        tar.add(src, arcname="cifar10-jpg")
    monkeypatch.setenv("LT_CACHE", str(tmp_path / "cache"))
    root.chmod(0o555)  # read-only data root: the decoded cache goes to LT_CACHE
    try:
        ds = data.load("cifar10", root, validation="none")
    finally:
        root.chmod(0o755)
    assert ds.name == "cifar10-jpg+noval" and ds.sizes() == {"train": 20, "test": 10}
    x, y = ds.splits["test"]
    assert (x[:, 0, 16, 16].int() - (20 * y).int()).abs().max() <= 2
    (root / "cifar10-jpg.tar.gz").write_bytes(b"not a tar")
    monkeypatch.setenv("LT_CACHE", str(tmp_path / "cache2"))
    with pytest.raises(DataError, match="cifar10-jpg.tar.gz is corrupt"):
        data.load("cifar10", root)


def test_data_command_takes_a_mirror(server, tmp_path, monkeypatch, capsys):
    from lt_core.__main__ import main

    root, url = server
    _, sums = _fake_mnist(root, n_train=60000, n_test=10)
    monkeypatch.setattr(sources, "MNIST_FILES", sums)
    assert main(["data", "--root", str(tmp_path / "d"), "--mirror", url]) == 0
    assert "MNIST ready in" in capsys.readouterr().out
    assert _visible(tmp_path / "d" / "mnist") == sorted(f"{n}.gz" for n in sums)
