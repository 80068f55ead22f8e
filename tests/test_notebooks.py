"""Every notebook executed at tiny scale by the runner, then the book built with -W."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lt_core import notebooks

REPO = Path(__file__).resolve().parent.parent
BOOK = REPO / "book"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    store = tmp_path_factory.mktemp("runs")
    failures = notebooks.execute("tiny", store=str(store))
    assert failures == []
    return store


def test_every_notebook_has_params_at_every_scale():
    for src in notebooks.sources():
        for scale in notebooks.SCALES:
            assert (REPO / "params" / scale / f"{src.stem}.yaml").exists()


def test_executed_notebooks_state_scale_and_data(executed):
    import nbformat

    for src in notebooks.sources():
        nb = nbformat.read(BOOK / f"{src.stem}.ipynb", as_version=4)
        text = "".join(str(o.get("data", {}).get("text/markdown", ""))
                       for c in nb.cells for o in c.get("outputs", []))
        assert "**Scale: tiny.**" in text and "**Data:**" in text
        assert "not a paper-scale result" in text
        assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_book_builds_warning_free_and_offline(executed):
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(BOOK),
                    "--warningiserror", "--nitpick", "--quiet"], check=True, cwd=REPO)
    html = BOOK / "_build" / "html"
    pages = list(html.glob("*.html"))
    assert (html / "index.html").exists() and (html / "01_mask_criteria.html").exists()
    external = re.compile(r'(?:src|href)="(?:https?:)?//')
    for page in pages:
        assert not external.search(page.read_text()), f"{page.name} loads from the internet"
