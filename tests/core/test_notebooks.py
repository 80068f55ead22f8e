"""Every notebook executed at tiny scale by the runner, then the book built with -W."""

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import PINNED_KEYS, run_keys

from lt_core import config, notebooks, scales, shipped, tables
from lt_core.papers import z19

REPO = Path(__file__).resolve().parents[2]
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


def _displays_only(source: str) -> bool:
    tree = ast.parse(source)
    return bool(tree.body) and all(
        isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)
        and getattr(s.value.func, "id", None) == "display" for s in tree.body)


def test_cells_that_only_display_hide_their_input():
    """A reader sees each page's experiment call and its results, not display plumbing."""
    import jupytext

    for src in notebooks.sources():
        for cell in jupytext.read(src).cells:
            if cell.cell_type == "code" and _displays_only(cell.source):
                assert "remove-input" in cell.metadata.get("tags", []), (src.name, cell.source)


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
                assert any("image/png" in o.get("data", {})
                           or "not run at this scale" in str(o.get("data", {}).get(
                               "text/markdown", "")) for o in cell.outputs), cell.source


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
    assert "holds at tiny scale" in card or "does not hold at tiny scale" in card
    # Reproduced or not only at the papers' settings: the shipped packs' verdicts, counted
    # in the headline.
    paper = [r["verdict"] for r in shipped.scorecard_rows()]
    counts = [sum(v == w for v in paper) for w in ("reproduced", "not reproduced")]
    assert sum(counts) > 0
    assert (f"At the papers' settings: {counts[0]} reproduced, {counts[1]} not reproduced."
            in card)
    assert "checked at paper settings" in card and "(shipped pack)" in card
    # Every claim of notebooks 02 and 03 is on the scorecard, with its statistic.
    for notebook in ("02_mask1_actions", "03_mask0_actions"):
        for claim in z19.claims.CLAIMS[notebook]:
            assert claim.text.replace(">", "&gt;") in card or claim.text in card, claim.text
    assert "per seed, mean test acc. at early stop over level 2" in card
    assert "H21 Fig 1a" in card and "05_decoupling" in index  # H21's orderings and build



def test_run_keys_are_pinned_and_every_tiny_params_file_runs_from_the_cli(executed):
    """Every run the tiny book trains keeps its key (a changed key orphans stored results:
    bump config.SCHEMA_VERSION deliberately instead); then ``python -m lt_core run`` on every
    tiny params file exits 0 reading the same store and trains nothing new."""
    assert run_keys(executed) == PINNED_KEYS["tiny"]
    for path in sorted((REPO / "params" / "tiny").glob("*.yaml")):
        params = executed.parent / f"cli-{path.name}"
        params.write_text(yaml.safe_dump({**config.read_yaml(path), "store": str(executed)}))
        out = subprocess.run([sys.executable, "-m", "lt_core", "run", str(params)],
                             capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 0, (path.name, out.stderr[-2000:])
    assert run_keys(executed) == PINNED_KEYS["tiny"]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO / "tests" / "_artifacts"
CHAPTERS = [src.stem for src in notebooks.sources() if src.stem != "index"]


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


# What a reader needs, measured on the loaded page at 1280 px (one call per page): the content
# column's width; every figure, table and explorer wider than it or overflowing it; every
# figure image shown at under 0.6 of its natural size without a link to it; the banner's top;
# per explorer the sizes of its visible images; truncated cells of verdict tables.
READER_CHECKS = """() => {
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const cs = getComputedStyle(article);
  const box = article.getBoundingClientRect();
  const left = box.left + parseFloat(cs.paddingLeft), width = article.clientWidth
    - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
  const name = e => (e.tagName + '.' + [...e.classList].join('.')).slice(0, 80) + ' '
    + (e.textContent || e.src || '').trim().slice(0, 60);
  const wide = [];
  const items = article.querySelectorAll(
    '.cell_output img, .cell_output table, .cell_output .jupyter-widgets, .lt-banner');
  for (const e of items) {
    if (e.offsetParent === null) continue;
    const r = e.getBoundingClientRect();
    if (r.width > width + 1 || r.left < left - 1 || r.right > left + width + 1)
      wide.push(name(e) + ` ${Math.round(r.width)}px of ${Math.round(width)}`);
  }
  for (const e of article.querySelectorAll('.cell_output, .cell_output .output'))
    if (e.scrollWidth > e.clientWidth + 1) wide.push('scrolls: ' + name(e));
  const small = [];
  for (const img of article.querySelectorAll('.cell_output img')) {
    if (img.closest('.jupyter-widgets') || img.offsetParent === null) continue;
    const link = img.closest('a[href]');
    const linked = link && link.getAttribute('href').split('/').pop()
      === img.getAttribute('src').split('/').pop();
    if (!linked && img.width < 0.6 * img.naturalWidth)
      small.push(`${img.getAttribute('src')} ${img.width}/${img.naturalWidth}`);
  }
  const banner = document.querySelector('.lt-banner');
  const explorers = [...article.querySelectorAll('.cell_output .jupyter-widgets.widget-vbox')]
    .filter(v => !v.parentElement.closest('.widget-vbox'))
    .map(v => [...v.querySelectorAll('img')].filter(i => i.offsetParent !== null)
      .map(i => `${Math.round(i.width)}x${Math.round(i.height)}`));
  const cut = [];
  for (const t of article.querySelectorAll('table')) {
    const heads = [...t.querySelectorAll('th')].map(h => h.textContent.trim());
    if (!heads.some(h => ['verdict', 'tolerance'].includes(h))) continue;
    for (const td of t.querySelectorAll('td'))
      if (td.textContent.includes('\u2026') || td.scrollWidth > td.clientWidth + 1)
        cut.push(td.textContent.trim().slice(0, 80));
  }
  return {width, wide, small, cut, explorers,
          banner: banner ? banner.getBoundingClientRect().top + window.scrollY : null};
}"""


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium: install it (Debian: apt-get install "
                    "-y chromium) to run the browser test; CI does")
def test_built_book_in_headless_chromium(built):
    """At 1280 x 900, what a reader needs: every page loads with no failed or external
    request and no console error; no figure, table or explorer wider than the text column;
    every figure image at 0.6 of its natural size or more, or linked to it; the banner on
    every chapter within the first 900 px; each explorer's images of one size; no verdict
    table cell cut short; moving each explorer's slider changes its images. A screenshot of
    every page in tests/_artifacts/."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    failed, external, errors, problems = [], [], [], []
    local = ("file:", "data:", "blob:", "about:")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
        page.on("request", lambda r: None if r.url.startswith(local) else external.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        pages = sorted(built.glob("*.html"))
        assert len(pages) >= 6
        for html in pages:
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_timeout(200)
            if html.stem not in [*CHAPTERS, "index"]:
                continue  # search, genindex
            if page.locator(".jupyter-widgets").count():
                page.locator(".widget-slider [role=slider]").first.wait_for(timeout=20_000)
            seen = page.evaluate(READER_CHECKS)
            page.screenshot(path=str(ARTIFACTS / f"{html.stem}.png"), full_page=True)
            where = html.stem
            problems += [f"{where}: wider than the column: {w}" for w in seen["wide"]]
            problems += [f"{where}: figure shown small, not linked: {s}" for s in seen["small"]]
            problems += [f"{where}: verdict cell cut: {c}" for c in seen["cut"]]
            problems += [f"{where}: explorer images differ in size: {e}"
                         for e in seen["explorers"] if len(set(e)) > 1]
            if where in CHAPTERS and not (seen["banner"] is not None and seen["banner"] < 900):
                problems.append(f"{where}: no banner in the first 900 px ({seen['banner']})")

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
            key = tables.status(verdict)
            hex_ = (tables.STATUSES[key][0] if key else tables.NEUTRAL).lstrip("#")
            assert colour == "rgb({}, {}, {})".format(*bytes.fromhex(hex_)), verdict
        page.screenshot(path=str(ARTIFACTS / "scorecard.png"))

        # Each explorer: the images shown before and after one step of its slider.
        before, after = _step_slider(page, built / "01_mask_criteria.html", "explorer")
        h21_before, h21_after = _step_slider(page, built / "05_decoupling.html", "lpr_explorer")
        l23_before, l23_after = _step_slider(page, built / "06_layerwise.html",
                                             "overlap_explorer")
        browser.close()
    assert failed == [] and external == [] and errors == []
    assert problems == [], "\n".join(problems)
    assert len(after) == 1 and after != before  # the displayed mask changed
    assert len(h21_before) == 1 and h21_after != h21_before  # the LPR of the next level
    assert len(l23_before) == 3 and l23_after != l23_before  # the masks of the next level


def test_mask_explorer_page_size_bound(built):
    """Every explorer state is kept (one image each) and notebook 01's page at quick scale
    (11 arms x 3 layers x 5 of its 9 levels: z19.figures.MAX_LEVELS) stays under 1.5 MB: projected
    from this tiny page, whose other parts (text, figures, the widgets' controls and stacks)
    do not grow with the number of levels."""
    page = built / "01_mask_criteria.html"
    html = page.read_text()
    state = json.loads(re.search(r'<script type="application/vnd.jupyter.widget-state\+json">'
                                 r"(.*?)</script>", html, re.S).group(1))["state"]
    images = [len(json.dumps(m)) for m in state.values() if m["model_name"] == "ImageModel"]
    arms, layers, levels = 11, 3, 3  # params/tiny/01_mask_criteria.yaml: 2 pruning levels
    assert len(images) == arms * layers * levels
    quick_states = arms * layers * 5  # params/quick: 8 pruning levels, 5 of 9 shown
    projected = page.stat().st_size - sum(images) + quick_states * sum(images) / len(images)
    assert projected <= 1.5e6, projected


def test_overlap_explorer_page_size_bound(built):
    """Notebook 06's page at quick scale (10 pairs of measures x levels 0..10) stays under
    1.5 MB: projected from this tiny page (3 pairs x levels 0..2), whose states (one HTML
    widget each: three small maps, a colour scale and a table) are what grows."""
    page = built / "06_layerwise.html"
    html = page.read_text()
    state = json.loads(re.search(r'<script type="application/vnd.jupyter.widget-state\+json">'
                                 r"(.*?)</script>", html, re.S).group(1))["state"]
    views = [len(json.dumps(m)) for m in state.values()
             if "<img class='lt-map'" in str(m["state"].get("value", ""))]
    assert len(views) == 3 * 3  # params/tiny/06_layerwise.yaml: 3 measures, levels 0..2
    projected = page.stat().st_size - sum(views) + 10 * 11 * sum(views) / len(views)
    assert projected <= 1.5e6, projected
