"""The packs shipped in book/results: intact, each a chapter's result at the papers' settings,
and what the code computes (a sampled run's level 0 retrained and compared)."""

import pytest

from lt_core import pack, packfile, scales, shipped
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
            assert shipped.result(exp["notebook"]) is not None


@pytest.mark.skipif(not (DATA / "mnist").is_dir(),
                    reason=f"full MNIST is not at {DATA}: the shipped runs cannot be retrained")
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_a_sampled_run_of_each_shipped_pack_is_what_the_code_computes(path):
    # The first 4 epochs of its level 0 (L23's LeNet: its first evaluation; Z19's FC: 36):
    # about 20 s a pack, where all of level 0 took 118 s and 377 s.
    lines, ok = pack.recompute(path, 1, str(DATA), epochs=4)
    assert ok, lines
