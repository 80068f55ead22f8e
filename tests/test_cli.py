import subprocess
import sys


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
    r = run("bench", "--steps", "5", "--repeats", "1", "--population", "2")
    names = [line.split()[0] for line in r.stdout.strip().splitlines()]
    assert r.returncode == 0, r.stderr
    for name in ("plain_loop_ms_per_step", "engine_p1_ms_per_step", "engine_p2_ms_per_network_step",
                 "matmul_limit_ms_per_step", "supermask_vs_fc_step"):
        assert name in names
    assert names[-1] == "population_vs_plain"
