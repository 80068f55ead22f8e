"""The package installs: a wheel built from this tree holds every subpackage and the files
the library reads, and runs a tiny experiment when installed without -e, outside the
checkout."""

import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_a_wheel_holds_every_subpackage_and_runs_a_tiny_experiment(tmp_path):
    src = tmp_path / "src"  # a copy: setuptools writes build/ into the tree it builds
    for part in ("lt_core", "params", "book/paper_numbers", "book/results"):
        shutil.copytree(REPO / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("lt_core-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in (REPO / "lt_core").rglob("__init__.py"):
        assert init.relative_to(REPO).as_posix() in names, init
    for path in (REPO / "params").rglob("*.yaml"):
        assert f"lt_core/_params/{path.relative_to(REPO / 'params').as_posix()}" in names
    assert "lt_core/_paper_numbers/l23_table2.csv" in names
    for path in (REPO / "book" / "results").glob("*.ltpack"):  # the shipped results
        assert f"lt_core/_results/{path.name}" in names

    # A fresh environment: the wheel, and this one's dependencies (torch, ...) by a path
    # entry, whose .pth files (the editable install's finder among them) are not read.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    inside = Path(subprocess.run([python, "-c", "import site; print(site.getsitepackages()[0])"],
                                 check=True, capture_output=True, text=True).stdout.strip())
    (inside / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(inside), str(wheel)], check=True)
    params = tmp_path / "tiny.yaml"
    values = yaml.safe_load((REPO / "params" / "tiny" / "01_mask_criteria.yaml").read_text())
    values["pruning"]["arms"] = values["pruning"]["arms"][:2]  # a run, not the chapter
    params.write_text(yaml.safe_dump({**values, "seeds": [0], "store": str(tmp_path / "runs")}))
    run = subprocess.run([python, "-m", "lt_core", "run", str(params)], cwd=tmp_path,
                         capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    where = subprocess.run([python, "-c", "import lt_core, lt_core.scales as s, "
                            "lt_core.packfile as p; print(lt_core.__file__); print(s.PARAMS); "
                            "print(p.SHIPPED)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.split()
    assert all(str(inside) in w for w in where), where  # the wheel's, not the checkout's
