import os
import stat

import pytest
import torch

from lt_core.files import atomic_path, write_text
from lt_core.store import RunStore


@pytest.fixture
def umask():
    """Set the process umask for one test; restored afterwards."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)],
                         ids=["022", "027", "002"])
def test_written_files_get_the_umask_permissions(tmp_path, umask, mask, expected):
    umask(mask)
    write_text(tmp_path / "a.txt", "x")
    with atomic_path(tmp_path / "b.bin") as tmp:
        tmp.write_bytes(b"y")
    store = RunStore(tmp_path / "runs")
    key = store.prepare({"seed": 0})
    store.save_level(key, 0, {"final": {"t": torch.zeros(1)}})
    for path in (tmp_path / "a.txt", tmp_path / "b.bin", tmp_path / "runs" / key / "config.json",
                 tmp_path / "runs" / key / "level_000.json",
                 tmp_path / "runs" / key / "level_000.tensors.pt"):
        assert mode(path) == expected, path

