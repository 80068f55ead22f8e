"""Fuzz the params loader: random mutations of every params/tiny/*.yaml (types swapped, keys
dropped, duplicated or unknown, numbers negative, huge, NaN or strings, lists emptied or
doubled; a quarter of them with the YAML text itself damaged) either load or fail with one
ConfigError line, never another exception. Seeded, a fixed count per file: seconds."""

import copy
import random
import time
from pathlib import Path

import pytest
import yaml

from lt_core import config, experiments
from lt_core.config import ConfigError

TINY = sorted((Path(__file__).resolve().parents[2] / "params" / "tiny").glob("*.yaml"))
PER_FILE = 200

# Values a careless or hostile user puts where another type belongs.
ODD = [None, True, False, 0, -1, 1, 7, 0.5, -0.5, 1e300, -1e300, 1e-320, 10**30, 2**64, 10**400,
       float("nan"), float("inf"), -float("inf"), "", "x", "fc", "nan", "-inf", "1e-3", "1e999",
       "0x10", "a" * 500, [], [1], [None], ["fc", "fc"], [[1, 2]], {}, {"a": 1},
       {"lr": None}, "2001-02-30"]


def nodes(value, path=()):
    """Every (path, value) in a nested structure of dicts and lists, the root included."""
    yield path, value
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else []
    for k, v in items:
        yield from nodes(v, (*path, k))


def replace_at(root, path, new):
    if not path:
        return new
    parent = root
    for k in path[:-1]:
        parent = parent[k]
    parent[path[-1]] = new
    return root


def odd(rng: random.Random):
    return copy.deepcopy(rng.choice(ODD))


def mutate_value(rng: random.Random, v):
    """A new value for ``v``: of another type, or the same number made hostile."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return odd(rng)
    return rng.choice([-v, 10**400 if isinstance(v, int) else v * 1e300, float("nan"), str(v),
                       [v], odd(rng)])


def mutate(rng: random.Random, values: dict) -> tuple[dict, str]:
    """1-3 random mutations of ``values``; text appended to its YAML (a key given twice)."""
    values, extra = copy.deepcopy(values), ""
    for _ in range(rng.randint(1, 3)):
        path, v = rng.choice(list(nodes(values)))
        op = rng.choice(["value", "value", "value", "drop", "unknown", "duplicate", "list"])
        if op == "drop" and path:
            parent = values
            for k in path[:-1]:
                parent = parent[k]
            del parent[path[-1]]
        elif op == "unknown" and isinstance(v, dict):
            v[rng.choice(["lr", "model", "seed", "zzz", "train"])] = odd(rng)
        elif op == "duplicate" and len(path) == 1:
            extra += yaml.safe_dump({path[0]: rng.choice([v, odd(rng)])})
        elif op == "list" and isinstance(v, list):
            values = replace_at(values, path, copy.deepcopy(
                rng.choice([[], v + v, v[:1], v[::-1]])))
        elif path:
            values = replace_at(values, path, mutate_value(rng, v))
    return values, extra


SYNTAX = [":", "[", "]", "{", "}", "- ", "&a ", "*a", "!!set ", "!!binary ", "!!python/none ",
          "? ", "|", ">", "'", '"', "#", "\t", "\n", " ", ",", "~", "%", "@", "\x00", "\u00e9"]


def garble(rng: random.Random, text: str) -> str:
    """The YAML text itself damaged: a character dropped or a piece of YAML syntax inserted,
    or a line doubled (a key given twice)."""
    lines = text.splitlines(keepends=True)
    op = rng.choice(["drop", "insert", "insert", "line"])
    if op == "line" and lines:
        i = rng.randrange(len(lines))
        return "".join(lines[:i + 1] + lines[i:])
    i = rng.randrange(len(text) + 1)
    return text[:i] + (rng.choice(SYNTAX) if op == "insert" else "") + text[i + 1:]


@pytest.mark.parametrize("params", TINY, ids=lambda p: p.stem)
def test_mutated_params_load_or_fail_with_one_config_error_line(params, tmp_path):
    original = config.read_yaml(params)
    rng = random.Random(f"fuzz {params.name}")
    outcomes = {"loaded": 0, "ConfigError": 0}
    start = time.perf_counter()
    for i in range(PER_FILE):
        values, extra = mutate(rng, original)
        path = tmp_path / f"{i:03d}.yaml"
        text = yaml.safe_dump(values, sort_keys=False) + extra
        path.write_text(garble(rng, text) if rng.random() < 0.25 else text)
        try:
            experiments.load(config.read_yaml(path))  # as the command line reads it
            outcomes["loaded"] += 1
        except ConfigError as err:
            message = str(err)
            assert "\n" not in message and len(message) < 600, (path.read_text(), message)
            outcomes["ConfigError"] += 1
        except Exception as err:  # the finding: the mutated file that raised it
            raise AssertionError(f"{type(err).__name__} from:\n{path.read_text()[:2000]}") \
                from err
    elapsed = time.perf_counter() - start
    print(f"{params.name}: {PER_FILE} mutations, {outcomes['loaded']} loaded, "
          f"{outcomes['ConfigError']} ConfigError, {elapsed:.2f} s")
    assert outcomes["ConfigError"] > 0  # the mutations do reach the checks
