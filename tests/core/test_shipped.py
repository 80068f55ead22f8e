"""The packs shipped in book/results: intact, each a chapter's result at the papers' settings,
and what the code computes (a sampled run's level 0 retrained and compared)."""

import pytest

from lt_core import experiments, pack, packfile, scales
from lt_core.__main__ import main

SHIPPED = sorted(packfile.SHIPPED.glob(f"*{packfile.SUFFIX}"))
# The development data beside the checkout (../shared/data: exact MNIST, CIFAR-10 as JPEGs);
# the shipped runs trained on full MNIST, which no test may download.
DATA = packfile.SHIPPED.parents[2] / "shared" / "data"


def test_every_shipped_pack_verifies(capsys):
    assert SHIPPED, "book/results holds no pack"
    # Every file there, as `pack verify book/results/*` reads them: packs and nothing else.
    everything = sorted(str(p) for p in packfile.SHIPPED.iterdir())
    assert main(["pack", "verify", *everything]) == 0, capsys.readouterr().err
    assert sum(p.stat().st_size for p in SHIPPED) <= 20 * 2**20  # 20 MB in all


def test_every_shipped_pack_is_a_chapter_at_the_papers_settings():
    for path in SHIPPED:
        for exp in packfile.PackFile(path).manifest["experiments"]:
            assert exp["scale"] == "paper" and exp["notebook"] in scales.notebooks("paper")
            assert experiments.from_packs(exp["notebook"]) is not None


@pytest.mark.skipif(not (DATA / "mnist").is_dir(),
                    reason=f"full MNIST is not at {DATA}: the shipped runs cannot be retrained")
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_sampled_run_of_each_shipped_pack_is_what_the_code_computes(path):
    # The first 4 epochs of its level 0 (L23's LeNet: its first evaluation; Z19's FC: 36):
    # about 20 s a pack, where all of level 0 took 118 s and 377 s.
    lines, ok = pack.recompute(path, 1, str(DATA), epochs=4)
    assert ok, lines


def test_train_none_renders_the_packs_at_paper_scale_and_trains_nothing(tmp_path, monkeypatch):
    """``make book SCALE=paper TRAIN=none``: a chapter the packs hold shows their result
    (L23's Table 2 with verdicts), one they do not says what it would cost, the scorecard
    counts the packs' verdicts; no data is read and the store stays empty."""
    import nbformat

    from lt_core import notebooks

    monkeypatch.setenv("LT_TRAIN", "none")
    monkeypatch.setenv("LT_DATA", str(tmp_path / "no-data-here"))
    store = tmp_path / "runs"
    assert notebooks.execute("paper", only=["01", "06", "09"], store=str(store),
                             out_dir=tmp_path) == []

    def text(name: str) -> str:
        nb = nbformat.read(tmp_path / f"{name}.ipynb", 4)
        return "\n".join([c.source for c in nb.cells] + [
            str(o.get("data", {}).get("text/plain", o.get("text", "")))
            for c in nb.cells for o in c.get("outputs", [])])

    assert "not computed yet" in text("01_mask_criteria")
    layerwise = text("06_layerwise")
    assert "Paper scale" in layerwise and "reproduced" in layerwise
    assert "LT_TRAIN=none" in layerwise and "Figure 2" not in layerwise  # weights: not shipped
    assert "At the papers' settings: 0 reproduced" not in text("09_scorecard")
    assert not any(store.rglob("level_*"))


def test_train_none_refuses_to_train_and_names_the_switch(tmp_path, monkeypatch):
    from lt_core.store import NotComputed, StoreError

    params = {**scales.params("tiny", "01_mask_criteria"), "store": str(tmp_path / "runs")}
    monkeypatch.setenv("LT_TRAIN", "none")
    with pytest.raises(NotComputed, match="LT_TRAIN=none trains nothing"):
        experiments.run(params, progress=False)
    monkeypatch.setenv("LT_TRAIN", "some")
    with pytest.raises(StoreError, match="LT_TRAIN must be one of all, none"):
        experiments.run(params, progress=False)
