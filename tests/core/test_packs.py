"""Run packs: made from a store, verified, merged, listed, recomputed; read by the store as a
layer that trains nothing; shown by a chapter; and every bad input refused in one line."""

import json
import os
import resource
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from lt_core import engine, experiments, pack, packfile, shipped
from lt_core.__main__ import main
from lt_core.packfile import PackError, PackFile
from lt_core.store import RunStore

# L23 at a tiny scale on the embedded digits: 2 seeds x 5 measures, 2 levels (seconds).
PARAMS = {"experiment": "l23_layerwise", "models": ["lenet_300_100"],
          "train": {"iterations": 20, "eval_every": 10}, "levels": 2, "seeds": [0, 1],
          "overlap": {"level": 2, "reinit_seeds": []}}


def seed_params(seed: int) -> dict:
    return {**PARAMS, "seeds": [seed], "overlap": {"level": 2, "seed": seed, "reinit_seeds": []}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    experiments.run({**PARAMS, "store": str(root)}, progress=False)
    return root


@pytest.fixture(scope="module")
def packs(store, tmp_path_factory):
    """One pack per seed, labelled as notebook 06 at paper scale (the labels are the
    caller's: these are tiny runs)."""
    out = tmp_path_factory.mktemp("packs")
    return [pack.create(seed_params(s), "paper", "06_layerwise", store, out)[0] for s in (0, 1)]


def files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_a_pack_holds_the_runs_their_provenance_and_no_weights(packs, store):
    p = PackFile(packs[0])
    assert len(p.keys()) == 5 and all(p.levels(k) == [0, 1, 2] for k in p.keys())
    assert not any(name.endswith(".tensors.pt") for name in p.entries)  # no weights
    assert packs[0].name == packfile.content_name(packs[0].read_bytes())  # named by its hash
    prov = p.provenance(p.keys()[0])
    assert prov["device"] == "cpu" and prov["threads"] and prov["torch"]
    assert prov["commit"] and prov["data"] == "mnist-embedded-5k+noval+norm"
    assert prov["computed"][0] <= prov["computed"][1] and prov["levels"] == 3
    listing = pack.ls(packs[0])
    assert "l23_layerwise at paper scale: networks lenet_300_100; seeds 0; 5 runs, 15 levels" \
        in listing
    assert f"computed on {prov['cpu_kind']}, torch {prov['torch']}" in listing  # its generation


def test_the_same_runs_make_the_same_file(packs, store, tmp_path):
    again, _ = pack.create(seed_params(0), "paper", "06_layerwise", store, tmp_path)
    assert again.name == packs[0].name and again.read_bytes() == packs[0].read_bytes()


def test_verify_passes_and_names_a_changed_byte(packs, tmp_path, capsys):
    assert main(["pack", "verify", *map(str, packs)]) == 0
    raw = bytearray(packs[0].read_bytes())
    p = PackFile(packs[0])
    name = next(n for n in p.entries if n.endswith("level_001.json"))
    info = p._zip.getinfo(name)
    raw[info.header_offset + 30 + len(name) + 5] ^= 0xFF  # a byte of that entry's data
    bad = tmp_path / packs[0].name
    bad.write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["pack", "verify", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(name in line for line in err), err


def test_a_config_that_does_not_hash_to_its_key_is_named(packs, tmp_path):
    p = PackFile(packs[0])
    key = p.keys()[0]
    entries = {n: p.read(n) for n in p.entries}
    cfg = json.loads(entries[f"runs/{key}/config.json"])
    entries[f"runs/{key}/config.json"] = json.dumps({**cfg, "seed": 7}).encode()
    forged = tmp_path / "forged.ltpack"
    packfile.write(forged, entries, {"experiments": []})  # hashes made anew: only the key lies
    assert pack.verify([forged]) == [f"{forged}: run {key}'s config hashes to another key"]


def test_merge_is_the_union_and_a_second_merge_changes_nothing(packs, tmp_path):
    merged, n = pack.merge(packs, tmp_path)
    assert n == 10 and sorted(PackFile(merged).keys()) == sorted(
        PackFile(packs[0]).keys() + PackFile(packs[1]).keys())
    again, n = pack.merge([merged, packs[0]], tmp_path)  # the same runs once
    assert n == 10 and again.read_bytes() == merged.read_bytes()


def test_merge_names_a_run_with_other_numbers_and_writes_nothing(packs, tmp_path):
    # The same run computed elsewhere: another test accuracy at level 1, another machine.
    p = PackFile(packs[0])
    key = p.keys()[0]
    entries = {n: p.read(n) for n in p.entries}
    level = json.loads(entries[f"runs/{key}/level_001.json"])
    level["test_acc_at_end"] += 0.01
    entries[f"runs/{key}/level_001.json"] = json.dumps(level).encode()
    prov = json.loads(entries[f"runs/{key}/provenance.json"])
    entries[f"runs/{key}/provenance.json"] = json.dumps(
        {**prov, "device": "cuda", "device_name": "NVIDIA H200"}).encode()
    other = tmp_path / "other" / "x.ltpack"
    other.parent.mkdir()
    packfile.write(other, entries, p.manifest)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(PackError) as err:
        pack.merge([packs[0], other], out)
    msg = str(err.value)
    assert f"run {key} differs between {packs[0]}" in msg and "NVIDIA H200" in msg
    assert f"({PackFile(packs[0]).provenance(key)['cpu_kind']}, torch" in msg
    assert msg.endswith("nothing merged") and files(out) == []


def test_recompute_is_bit_identical_on_this_machine(packs):
    lines, ok = pack.recompute(packs[0], 1)
    assert ok and len(lines) == 1 and "bit-identical" in lines[0], lines
    assert "at its first 3 evaluations (to iteration 20)" in lines[0]


def with_level0_test_acc(path, tmp_path, index: int):
    """A copy of the pack whose level 0 test accuracy at one evaluation is another."""
    p = PackFile(path)
    entries = {n: p.read(n) for n in p.entries}
    for key in p.keys():
        name = f"runs/{key}/level_000.json"
        level = json.loads(entries[name])
        level["metrics"]["test_acc"]["data"][index] += 0.01
        entries[name] = json.dumps(level).encode()
    other = tmp_path / "changed.ltpack"
    packfile.write(other, entries, p.manifest)
    return other


def test_recompute_of_a_prefix_compares_its_evaluations_only(packs, tmp_path):
    # 20 iterations are 0.625 epochs of the embedded digits (32 batches of 128): 10 are 0.3125.
    lines, ok = pack.recompute(packs[0], 1, epochs=0.3125)
    assert ok and "at its first 2 evaluations (to iteration 10): bit-identical" in lines[0]
    later = with_level0_test_acc(packs[0], tmp_path, 2)  # the pack's iteration 20 changed
    assert pack.recompute(later, 1, epochs=0.3125)[1]
    lines, ok = pack.recompute(later, 1)
    assert not ok and "DIFFERENT" in lines[0], lines
    lines, ok = pack.recompute(packs[0], 1, epochs=0.25)  # to iteration 8: not evaluated
    assert not ok and "no evaluation after the start in common" in lines[0], lines


def test_the_store_reads_a_pack_and_trains_nothing_it_holds(packs, store, tmp_path,
                                                            monkeypatch):
    def train(*args, **kwargs):
        raise AssertionError("trained a run that a pack holds")

    local = tmp_path / "runs"
    before = {k: RunStore(store, packs=[]).level(k, 2) for k in PackFile(packs[0]).keys()}
    monkeypatch.setattr(packfile, "shipped", lambda: [PackFile(p) for p in packs])
    monkeypatch.setattr(engine, "train", train)
    result = experiments.run({**PARAMS, "store": str(local)}, progress=False)
    assert not local.exists() or files(local) == []  # nothing written either
    for key, level in before.items():
        assert result.store.level(key, 2).metrics["test_acc"].tobytes() == \
            level.metrics["test_acc"].tobytes()
    assert len(result.table2()) > 0


def test_a_chapter_shows_the_shipped_paper_result(packs):
    res = experiments.from_packs("06_layerwise", [PackFile(p) for p in packs])
    assert sorted(res.config.seeds) == [0, 1] and len(res.runs) == 10
    line = shipped.provenance_line("06_layerwise", [PackFile(p) for p in packs])
    assert line.startswith("**At the papers' settings** (shipped in `book/results/`")
    assert "lenet_300_100, seeds 0, 1; 10 runs computed on" in line
    html = shipped.section("06_layerwise", res, [PackFile(p) for p in packs])._repr_html_()
    # 20 iterations a level are not L23's settings: checked at the paper's scale name only
    assert "top-1 accuracy" in html and "checked at paper scale" in html
    assert "checked at paper settings" not in html
    none = shipped.provenance_line("01_mask_criteria", [PackFile(p) for p in packs])
    assert none.startswith("**At the papers' settings: not computed yet.**")
    assert "73 GPU-hours" in none
    # make book SCALE=paper says first what it reads and what it trains
    plan = dict(line.split(": ", 1) for line in shipped.plan([PackFile(p) for p in packs]))
    assert plan["06_layerwise"].startswith("reads 10 shipped runs (lenet_300_100; seeds 0, 1)")
    assert plan["01_mask_criteria"].startswith("no shipped runs; trains all")
    assert "09_scorecard" not in plan and "index" not in plan


def test_create_refuses_an_experiment_that_has_not_finished(store, tmp_path):
    with pytest.raises(PackError, match=r"^10 run\(s\) are not finished: .* compute them first"):
        pack.create({**PARAMS, "levels": 3, "overlap": {"level": 2, "reinit_seeds": []},
                     "train": {"iterations": 30, "eval_every": 10}}, "tiny", "06_layerwise",
                    store, tmp_path)
    assert files(tmp_path) == []


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["truncated", "foreign", "text", "newer", "missing"])
def test_a_bad_pack_file_is_one_line(packs, tmp_path, capsys, damage):
    path = tmp_path / "bad.ltpack"
    if damage == "truncated":
        path.write_bytes(packs[0].read_bytes()[:5000])
    elif damage == "foreign":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("manifest.json", json.dumps({"hello": 1}))
    elif damage == "text":
        path.write_text("not a pack\n")
    elif damage == "newer":
        p = PackFile(packs[0])
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("manifest.json", json.dumps({**p.manifest, "schema": 99}))
    for op in ("ls", "verify"):
        capsys.readouterr()
        assert main(["pack", op, str(path)]) in (1, 2)
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        expected = {"truncated": "is not a run pack (truncated, damaged",
                    "foreign": "is not a run pack (its manifest.json is not a pack's)",
                    "text": "is not a run pack (truncated, damaged",
                    "newer": "was written by a newer lt_core (pack schema 99",
                    "missing": "no such file"}[damage]
        assert expected in err[0], err


def test_merge_into_a_read_only_folder_is_one_line(packs, tmp_path, read_only, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    read_only(out)
    assert main(["pack", "merge", *map(str, packs), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written (Read-only file system)" in err[0], err
    assert files(out) == []


CREATE = """
import sys
from lt_core import pack
params = {"experiment": "l23_layerwise", "models": ["lenet_300_100"],
          "train": {"iterations": 20, "eval_every": 10}, "levels": 2, "seeds": [0],
          "overlap": {"level": 2, "seed": 0, "reinit_seeds": []}}
print(pack.create(params, "tiny", "06_layerwise", sys.argv[1], sys.argv[2])[0])
"""


def test_a_full_disk_while_packing_is_one_line_and_leaves_nothing(store, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = {f: os.stat(store / f).st_mtime_ns for f in files(store)}

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    r = subprocess.run([sys.executable, "-m", "lt_core", "pack", "create", "--store", str(store),
                        "--out", str(out), "--scale", "tiny", "--seeds", "0", "--set",
                        "overlap={level: 2, seed: 0, reinit_seeds: []}", _params_file(tmp_path)],
                       capture_output=True, text=True, preexec_fn=small_files)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, r.stderr
    assert err[0].startswith("error: no space left while writing ") and "ulimit -f" in err[0]
    assert files(out) == []
    assert {f: os.stat(store / f).st_mtime_ns for f in files(store)} == before  # untouched


def _params_file(tmp_path):
    path = tmp_path / "06_layerwise.yaml"
    path.write_text(json.dumps({k: v for k, v in PARAMS.items() if k != "overlap"}))
    return str(path)


def test_a_kill_while_a_pack_is_written_leaves_no_pack_and_the_store_untouched(store, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = {f: os.stat(store / f).st_mtime_ns for f in files(store)}
    # Killed half-way through writing the file: half its bytes are on disk.
    halting = CREATE.replace("print(", "import pathlib, time\n"
                             "def half(self, data):\n"
                             "    with open(self, 'wb') as f:\n"
                             "        f.write(bytes(data)[: len(data) // 2]); f.flush()\n"
                             "    time.sleep(120)\n"
                             "pathlib.Path.write_bytes = half\nprint(")
    proc = subprocess.Popen([sys.executable, "-c", halting, str(store), str(out)])
    deadline = time.time() + 120
    while time.time() < deadline and not any(p.suffix == ".part" for p in out.iterdir()):
        assert proc.poll() is None
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [f for f in files(out) if f.endswith(packfile.SUFFIX)] == []  # no pack, half or whole
    assert all(f.startswith(".") for f in files(out))  # only the killed writer's temp file
    assert {f: os.stat(store / f).st_mtime_ns for f in files(store)} == before


def test_a_run_goes_on_from_a_pack_of_its_first_levels_without_weights(store, tmp_path,
                                                                     monkeypatch):
    # Levels 0-1 shipped (masks, no weights); level 2 trains here from them, to the numbers
    # the uninterrupted run got.
    first, _ = pack.create({**seed_params(0), "levels": 1}, "paper", "06_layerwise", store,
                           tmp_path / "packs")
    monkeypatch.setattr(packfile, "shipped", lambda: [PackFile(first)])
    local = tmp_path / "runs"
    result = experiments.run({**seed_params(0), "store": str(local)}, progress=False)
    whole = RunStore(store, packs=[])
    for key in result.runs["key"]:
        assert result.store.where(key, 1) is not None and result.store.where(key, 2) is None
        assert result.store.level(key, 2).metrics["test_acc"].tobytes() == \
            whole.level(key, 2).metrics["test_acc"].tobytes()
        assert (local / key / "config.json").exists()  # a run computed here has its config
    # Packed from here over the first pack: the whole run, its levels as computed.
    again, n = pack.create(seed_params(0), "paper", "06_layerwise", local, tmp_path / "again",
                           packs=[PackFile(first)])
    assert n == 5
    for key in result.runs["key"]:
        assert PackFile(again).levels(key) == [0, 1, 2]
        assert PackFile(again).read(f"runs/{key}/level_001.json") == \
            PackFile(first).read(f"runs/{key}/level_001.json")


def test_merge_joins_packs_of_a_run_s_first_levels_and_of_all_of_them(store, tmp_path):
    part, _ = pack.create({**seed_params(0), "levels": 1}, "paper", "06_layerwise", store,
                          tmp_path / "a")
    whole, _ = pack.create(seed_params(0), "paper", "06_layerwise", store, tmp_path / "b")
    merged, n = pack.merge([part, whole], tmp_path / "c")
    assert n == 5 and all(PackFile(merged).levels(k) == [0, 1, 2]
                          for k in PackFile(merged).keys())


def test_a_packs_only_store_ignores_the_local_folder(packs, store):
    res = experiments.from_packs("06_layerwise", [PackFile(p) for p in packs])
    assert not res.store.local and res.store.keys() == []
    assert res.store.where(res.runs["key"].iloc[0], 0) is not None  # read from a pack


def test_parts_of_a_level_that_never_finished_are_removed_when_its_run_is_claimed(tmp_path):
    runs = RunStore(tmp_path, packs=[])
    key = runs.prepare({"seed": 0})
    stray = tmp_path / key / "level_003.masks.npz"
    stray.write_bytes(b"half")  # a writer killed after the mask, before the JSON
    with runs.claim([key]):
        pass
    assert not stray.exists() and not runs.has_level(key, 3)
