import subprocess
import sys

import pytest
import torch


def run(*args):
    return subprocess.run([sys.executable, "-m", "lt_core", *args], capture_output=True, text=True)


def test_invalid_params_file_one_line_error(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("train: {optimizer: adma}\n")
    r = run("run", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: {bad}: field 'train.optimizer' must be one of adam, sgd (got 'adma')"]
    assert not (tmp_path / "runs").exists()


def test_missing_dataset_one_line_error(tmp_path, monkeypatch):
    p = tmp_path / "p.yaml"
    p.write_text(f"data: {{dataset: mnist, root: {tmp_path / 'nowhere'}}}\nstore: {tmp_path / 'runs'}\n")
    r = run("run", str(p))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "not found" in r.stderr and "make data" in r.stderr


def test_bench_prints_the_named_lines():
    r = run("bench", "--only", "fc", "--steps", "5", "--repeats", "1", "--population", "2")
    names = [line.split()[0] for line in r.stdout.strip().splitlines()]
    assert r.returncode == 0, r.stderr
    for name in ("plain_loop_ms_per_step", "engine_p1_ms_per_step", "engine_p2_ms_per_network_step",
                 "engine_p1_vs_plain", "supermask_vs_fc_step"):
        assert name in names
    assert names[-1] == "population_vs_plain"


# One line for every mistake at the command line (in-process: main() returns the exit status).

def one_line_error(capsys, *argv) -> str:
    from lt_core.__main__ import main

    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


@pytest.mark.parametrize("text, message", [
    ("train: {{lr: 1e-3\nstore: {store}\n",
     ":2:6: not valid YAML (expected ',' or '}', but got ':')"),  # line 2, column 6
    ("- fc\n- conv2\n", " must hold a mapping of fields, like params/quick/*.yaml (got a list)"),
    ("device: cuda:99\nstore: {store}\n",
     "error: device 'cuda:99': this machine has {n} CUDA devices; use device: cpu or auto"),
    ("# nothing set\n", " is empty: it would run fc at the paper's settings, 2 arms x 1 seed x "
                        "25 trainings of 50,380 iterations; pass --scale paper to run that"),
])
def test_params_file_mistakes(tmp_path, capsys, text, message):
    params = tmp_path / "p.yaml"
    params.write_text(text.format(store=tmp_path / "runs"))
    line = one_line_error(capsys, "run", str(params))
    assert message.replace("{n}", str(torch.cuda.device_count())) in line
    assert not (tmp_path / "runs").exists()


def test_missing_params_file(tmp_path, capsys):
    line = one_line_error(capsys, "run", str(tmp_path / "nope.yaml"))
    assert line == f"error: params file {tmp_path / 'nope.yaml'} does not exist"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it(tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(f"device: cuda\nstore: {tmp_path / 'runs'}\n")
    line = one_line_error(capsys, "run", str(params))
    assert line.startswith("error: device 'cuda': this machine has 0 CUDA devices")


def test_batch_larger_than_the_training_set_leaves_nothing_behind(tmp_path, capsys):
    params = tmp_path / "p.yaml"
    params.write_text(f"train: {{batch_size: 5000, iterations: 10}}\nstore: {tmp_path / 'runs'}\n")
    line = one_line_error(capsys, "run", str(params))
    assert line == ("error: train.batch_size 5000 exceeds the 3500 training examples of "
                    "mnist-embedded-5k; lower it")
    assert not (tmp_path / "runs").exists()  # no orphan config.json


@pytest.fixture
def store(tmp_path):
    from lt_core.store import RunStore

    s = RunStore(tmp_path / "runs")
    key = s.prepare({"kind": "test", "seed": 0})
    s.save_level(key, 0, {"percent_remaining": 100.0, "iterations": [0], "metrics": {},
                          "early_stop_iteration": 0, "test_acc_at_early_stop": 0.5,
                          "failed_at": None})
    return s, key


def test_truncated_level_file(store, capsys):
    s, key = store
    path = s.root / key / "level_000.json"
    path.write_bytes(path.read_bytes()[:100])
    line = one_line_error(capsys, "metrics", key, "--store", str(s.root))
    assert line.startswith(f"error: {path} is unreadable (")
    assert line.endswith("delete it and the later levels of that run, then rerun to compute "
                         "them again")


def test_corrupt_config_json(store, capsys):
    s, key = store
    (s.root / key / "config.json").write_text('{"kind": "te')
    line = one_line_error(capsys, "runs", "--store", str(s.root))
    assert line.startswith(f"error: {s.root / key / 'config.json'} is unreadable (")
    assert "delete it and rerun the experiment that made it" in line


def test_store_that_does_not_exist(tmp_path, capsys):
    for argv in (["runs"], ["metrics", "abc"]):
        line = one_line_error(capsys, *argv, "--store", str(tmp_path / "nowhere"))
        assert line.startswith(f"error: no run store at {tmp_path / 'nowhere'}; pass --store")


def test_metrics_hint_names_the_store(store, capsys):
    s, _ = store
    line = one_line_error(capsys, "metrics", "zzz", "--store", str(s.root))
    assert line.endswith(f"list them with: python -m lt_core runs --store {s.root}")
