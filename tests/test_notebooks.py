"""Every notebook executed at tiny scale by the runner, then the book built with -W."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lt_core import claims, notebooks, scales, scorecard

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
            assert scales.params(scale, src.stem) is not None, (scale, src.stem)


def test_executed_notebooks_state_scale_and_data(executed):
    import nbformat

    for src in notebooks.sources():
        if src.stem in ("index", "09_scorecard"):
            continue  # no experiment of their own
        nb = nbformat.read(BOOK / f"{src.stem}.ipynb", as_version=4)
        text = "".join(str(o.get("data", {}).get("text/markdown", ""))
                       for c in nb.cells for o in c.get("outputs", []))
        assert "**Scale: tiny.**" in text and "**Data:**" in text
        assert "not a paper-scale result" in text
        assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_parameters_appear_once_as_a_table(executed):
    import nbformat

    for src in notebooks.sources():
        nb = nbformat.read(BOOK / f"{src.stem}.ipynb", as_version=4)
        shown = [c for c in nb.cells if "remove-cell" not in c.metadata.get("tags", [])]
        assert not any({"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))
                       for c in shown)
        tables = [c for c in shown if c.source.startswith("**Parameters of this page**")]
        assert len(tables) == 1 and f"params/tiny/{src.stem}.yaml" in tables[0].source


def test_every_figure_cell_shows_its_figure(executed):
    """matplotlib's inline backend stops showing figures after an rc_context: every cell
    that draws must have an image."""
    import nbformat

    for src in notebooks.sources():
        nb = nbformat.read(BOOK / f"{src.stem}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and "plots." in cell.source:
                assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source


@pytest.fixture(scope="module")
def built(executed):
    shutil.rmtree(BOOK / "_build", ignore_errors=True)
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(BOOK),
                    "--warningiserror", "--nitpick", "--quiet"], check=True, cwd=REPO)
    return BOOK / "_build" / "html"


def test_book_builds_warning_free_and_offline(built):
    html = built
    pages = list(html.glob("*.html"))
    for src in notebooks.sources():
        assert (html / f"{src.stem}.html").exists(), src.stem
    external = re.compile(r'(?:src|href)="(?:https?:)?//')
    for page in pages:
        assert not external.search(page.read_text()), f"{page.name} loads from the internet"


def test_entry_page_and_scorecard_are_computed_from_the_runs(executed):
    import nbformat

    def text(name):
        nb = nbformat.read(BOOK / f"{name}.ipynb", as_version=4)
        return "".join(str(o.get("data", {}).get(kind, "")) for c in nb.cells
                       for o in c.get("outputs", [])
                       for kind in ("text/plain", "text/markdown", "text/html"))

    index = text("index")
    assert "mnist-embedded-5k" in index and "tiny" in index  # read from the store
    card = text("09_scorecard")
    assert "mask_x" not in card and "large_final_same_sign" in card
    assert "not comparable at tiny scale" in card  # numbers are never judged off paper scale
    assert ">reproduced<" not in card and ">not reproduced<" not in card  # only at paper scale
    assert "holds at tiny scale" in card or "does not hold at tiny scale" in card
    assert "At the papers' settings: 0 reproduced, 0 not reproduced." in card
    # Every claim of notebooks 02 and 03 is on the scorecard, with its statistic.
    for notebook in ("02_mask1_actions", "03_mask0_actions"):
        for claim in claims.CLAIMS[notebook]:
            assert claim.text.replace(">", "&gt;") in card or claim.text in card, claim.text
    assert "per seed, mean test acc. at early stop over round 2" in card
    assert "H21 Fig 1a" in card and "05_decoupling" in index  # H21's orderings and build


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "_artifacts"


def _visible_images(page) -> list[str]:
    return page.evaluate("""() => [...document.querySelectorAll('.jupyter-widgets img')]
        .filter(i => i.offsetParent !== null).map(i => i.src.slice(-200))""")


def _step_slider(page, html, name: str) -> tuple[list[str], list[str]]:
    """Open a page, press ArrowRight on its first slider: the visible images before and
    after (screenshots of both in the artifacts)."""
    page.goto(html.as_uri(), wait_until="load")
    slider = page.locator(".widget-slider [role=slider]").first
    slider.wait_for(timeout=20_000)
    slider.scroll_into_view_if_needed()
    before = _visible_images(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}_before.png"))
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(500)
    after = _visible_images(page)
    page.screenshot(path=str(ARTIFACTS / f"{name}_after.png"))
    return before, after


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: install it (Debian: apt-get install "
                    "-y chromium) to run the browser test; CI does")
def test_built_book_in_headless_chromium(built):
    """Every page loads with no failed or external request and no console error; moving the
    mask explorer's round slider changes the displayed mask."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    failed, external, errors = [], [], []
    local = ("file:", "data:", "blob:", "about:")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
        page.on("request", lambda r: None if r.url.startswith(local) else external.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        pages = sorted(built.glob("*.html"))
        assert len(pages) >= 6
        for html in pages:
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_timeout(200)
        page.goto((built / "index.html").as_uri(), wait_until="load")
        page.screenshot(path=str(ARTIFACTS / "entry_page.png"), full_page=True)

        page.goto((built / "09_scorecard.html").as_uri(), wait_until="load")
        verdict = page.locator("th", has_text="verdict").first
        verdict.wait_for(timeout=10_000)
        box = verdict.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 1280
        # No sideways scrolling: neither the table's container nor the page overflow.
        assert page.evaluate("""() => {
            const t = [...document.querySelectorAll('th')].find(h => h.textContent.trim()
                      === 'verdict').closest('table');
            const within = e => !e || e.scrollWidth <= e.clientWidth + 1;
            return within(t.parentElement) && within(document.documentElement);
        }""")
        cells = page.evaluate("""() => [...document.querySelectorAll('td')]
            .filter(td => new RegExp('^(reproduced|not reproduced|holds at|does not hold '
                + 'at|not judged|not testable|not comparable|not run)')
                .test(td.textContent.trim()))
            .map(td => [td.textContent.trim(), getComputedStyle(td).backgroundColor])""")
        assert cells
        for verdict, colour in cells:  # one colour per kind of verdict, as the legend says
            hex_ = scorecard.verdict_colour(verdict).lstrip("#")
            assert colour == "rgb({}, {}, {})".format(*bytes.fromhex(hex_)), verdict
        page.screenshot(path=str(ARTIFACTS / "scorecard.png"))

        # Each explorer: the images shown before and after one step of its slider.
        before, after = _step_slider(page, built / "01_mask_criteria.html", "explorer")
        h21_before, h21_after = _step_slider(page, built / "05_decoupling.html", "lpr_explorer")
        l23_before, l23_after = _step_slider(page, built / "06_layerwise.html",
                                             "overlap_explorer")
        browser.close()
    assert failed == [] and external == [] and errors == []
    assert len(after) == 1 and after != before  # the displayed mask changed
    assert len(h21_before) == 1 and h21_after != h21_before  # the LPR of the next level
    assert len(l23_before) == 3 and l23_after != l23_before  # the masks of the next level


def test_mask_explorer_page_size_bound(built):
    """Every explorer state is kept (one image each) and notebook 01's page at quick scale
    (297 states) stays within a quarter of its former 8.6 MB: projected from this tiny page,
    whose other parts (text, figures, the widgets' controls and stacks) do not grow with
    the number of rounds."""
    page = built / "01_mask_criteria.html"
    html = page.read_text()
    state = json.loads(re.search(r'<script type="application/vnd.jupyter.widget-state\+json">'
                                 r"(.*?)</script>", html, re.S).group(1))["state"]
    images = [len(json.dumps(m)) for m in state.values() if m["model_name"] == "ImageModel"]
    arms, layers, rounds = 11, 3, 3  # params/tiny/01_mask_criteria.yaml: 2 pruning rounds
    assert len(images) == arms * layers * rounds
    quick_states = arms * layers * 9  # params/quick: 8 pruning rounds
    projected = page.stat().st_size - sum(images) + quick_states * sum(images) / len(images)
    assert projected <= 8.6e6 / 4, projected
