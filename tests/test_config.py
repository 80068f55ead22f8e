import pytest

from lt_core import config
from lt_core.config import ConfigError


def test_loads_params_files_of_every_scale():
    for scale in ("tiny", "quick", "paper"):
        exp = config.load(f"params/{scale}/01_mask_criteria.yaml")
        assert exp.model == "fc" and exp.train.optimizer == "adam"
    assert config.load("params/paper/01_mask_criteria.yaml").train.iterations == 50_380


@pytest.mark.parametrize("params, message", [
    ({"modle": "fc"}, "unknown field 'modle'; allowed: model, data,"),
    ({"train": {"optimiser": "adam"}}, "unknown field 'train.optimiser'"),
    ({"train": {"optimizer": "adma"}}, "field 'train.optimizer' must be one of adam, sgd"),
    ({"pruning": {"criteria": ["large_finale"]}}, "field 'pruning.criteria[0]' must be one of large_final,"),
    ({"train": {"lr": "fast"}}, "field 'train.lr' must be a number"),
    ({"train": {"iterations": 0}}, "train.iterations must be > 0"),
    ({"seeds": [1, 1]}, "seeds must be distinct"),
    ({"model": "resnet"}, "field 'model' must be one of fc, conv2, conv4, conv6"),
])
def test_invalid_field_is_named_in_one_line(params, message):
    with pytest.raises(ConfigError) as err:
        config.load(params)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_error_names_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: {batch_size: 60.5}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: field 'train.batch_size' must be an integer"):
        config.load(path)


def test_content_hash_is_pinned():
    # Changing this value silently orphans every stored run: bump SCHEMA_VERSION instead.
    assert config.content_hash({"a": 1, "b": [1, 2]}) == config.content_hash({"b": [1, 2], "a": 1})
    assert config.content_hash({"a": 1, "b": [1, 2]}) == (
        "ceb43bcbecb9110c6698ac9fda3aad598404f207121526617c22d0f36f5b59c2"
    )
