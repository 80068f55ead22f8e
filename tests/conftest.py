import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lt_core import data


@pytest.fixture(scope="session")
def toy():
    """Synthetic data: unit tests only."""
    return data.synthetic({"train": 300, "val": 100, "test": 100}, shape=(1, 8, 8))


@pytest.fixture(autouse=True)
def _no_env_data_root(monkeypatch):
    # Tests decide their data root explicitly; a developer's LT_DATA must not leak in.
    monkeypatch.delenv("LT_DATA", raising=False)
    torch.manual_seed(0)


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)``: creating or writing files under ``folder`` fails as on a read-only
    mount (EROFS). Permission bits would not do: tests may run as root, who ignores them."""
    import errno
    import os

    real_open = os.open
    folders = []

    def guarded(path, flags, *args, **kwargs):
        writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writes and any(str(path).startswith(str(f)) for f in folders):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)
    return folders.append


@pytest.fixture(scope="session")
def smoke_data(tmp_path_factory):
    """The smoke scale's synthetic files in the canonical layouts (``data --smoke``)."""
    return data.smoke.write(tmp_path_factory.mktemp("smoke-data"))


# The keys of every run the tiny and the smoke book train (test_notebooks, test_smoke).
PINNED_KEYS = json.loads((Path(__file__).parent / "run_keys.json").read_text())


def run_keys(store: Path) -> list[str]:
    """The keys of the runs in a store (its folders but the lock folder). A run that starts
    from a state made from trained weights (L23's partial re-initialisation keeps the
    overlap of trained tickets: its ``init`` hashes that state) by the key of its config with
    ``init: trained``: trained bits differ between CPU kinds, what the run is does not."""
    from lt_core.store import RunStore

    def key(run: Path) -> str:
        path = run / "config.json"  # none: a folder of files beside the runs
        config = json.loads(path.read_text()) if path.exists() else {}
        if not re.fullmatch(r"[0-9a-f]{40}", str(config.get("init", ""))):
            return run.name
        return "init-trained:" + RunStore.key({**config, "init": "trained"})

    return sorted(key(p) for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))


def h21_accuracy(values: dict):
    """H21 accuracy rows of study lr: (pruning, find, eval) -> per level a list of seed values
    (None: that seed failed)."""
    import numpy as np
    import pandas as pd

    rows = []
    for (pruning, find, ev), levels in values.items():
        for level, seeds in enumerate(levels):
            for seed, acc in enumerate(seeds):
                rows.append({"study": "lr", "pruning": pruning, "find": find, "eval": ev,
                             "lpr_from": None, "seed": seed, "level": level,
                             "fraction_pruned": 1 - 0.8 ** level,
                             "test_acc": np.nan if acc is None else acc, "failed": acc is None})
    return pd.DataFrame(rows)


# `make test` runs two pytest-xdist workers of one thread each, a test file per unit of work
# in the order of the items: the two longest files first, so that each starts at once on a
# worker of its own and the others fill in around them (the smoke book first in its file).
LONGEST_FIRST = ("test_every_notebook_executes_at_smoke_scale", "core/test_smoke.py",
                 "core/test_notebooks.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        return next((i for i, key in enumerate(LONGEST_FIRST) if key in item.nodeid),
                    len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: every file's tests keep their order


REPO = Path(__file__).resolve().parents[1]


def cli_run(params: dict, folder: Path) -> subprocess.CompletedProcess:
    """``python -m lt_core run`` on ``params`` in a fresh store under ``folder``, whose modules
    (a user's network or criterion) are importable; asserts it exits 0."""
    import yaml

    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump({**params, "store": str(folder / "runs")}))
    run = subprocess.run([sys.executable, "-m", "lt_core", "run", str(path)], cwd=folder,
                         capture_output=True, text=True, env={
                             "PATH": "/usr/bin:/bin", "HOME": str(folder),
                             "PYTHONPATH": f"{folder}:{REPO}", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    return run


@pytest.fixture
def user_code(tmp_path, monkeypatch):
    """``user_code(module, text)``: a researcher's module ``module.py`` in a folder on
    ``sys.path`` (and on the PYTHONPATH of ``cli_run``); returns the folder."""

    def write(module: str, text: str) -> Path:
        (tmp_path / f"{module}.py").write_text(text)
        monkeypatch.syspath_prepend(str(tmp_path))
        return tmp_path

    return write
