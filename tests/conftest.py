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
