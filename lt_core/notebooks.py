"""Execute the book's notebooks with papermill, all from one Python process.

Sources are jupytext ``py:percent`` files ``book/NN_name.py``; each gets its parameters from
``lt_core.scales.params`` (``params/<scale>/NN_name.yaml``; at smoke scale the paper's,
shrunk) and is written, executed, to ``book/NN_name.ipynb`` (a build
artefact) by way of a temp file, so a crash never leaves a half-written notebook.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from . import scales, shipped
from .files import atomic_path
from .store import training_off

SCALES = scales.SCALES
REPO = Path(__file__).resolve().parent.parent


def sources(book: Path = REPO / "book") -> list[Path]:
    """The numbered pages in order, then the entry page, which reads what they stored."""
    return sorted(book.glob("[0-9][0-9]_*.py")) + sorted(book.glob("index.py"))


def show_parameters_once(path: Path, values: dict, source: str) -> None:
    """Hide the notebook's parameters cell and papermill's injected one (two code cells a
    reader would have to diff) and put the injected values in their place as one table."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    hidden = [i for i, c in enumerate(nb.cells)
              if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    for i in hidden:
        nb.cells[i].metadata.setdefault("tags", []).append("remove-cell")
    rows = "\n".join(f"| `{k}` | {v} |" for k, v in _flatten(values).items())
    table = nbformat.v4.new_markdown_cell(
        f"**Parameters of this page** (`{source}`):\n\n| parameter | value |\n|---|---|\n{rows}")
    # After the cell that describes the run (tag "describe"), so that the title's banner
    # stays above the fold; else where the parameters were.
    described = [i + 1 for i, c in enumerate(nb.cells) if "describe" in c.metadata.get("tags", [])]
    nb.cells.insert(described[0] if described else hidden[0] if hidden else 0, table)
    nbformat.write(nb, path)


def _flatten(values: dict, prefix: str = "") -> dict[str, str]:
    """Nested params as dotted names; a list of mappings (the arms) as one entry per item."""
    out = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            out[name] = "; ".join(", ".join(map(str, v.values())) for v in value)
        elif isinstance(value, list):
            out[name] = ", ".join(map(str, value))
        else:
            out[name] = str(value)
    return out


def execute(scale: str = "quick", only: list[str] | None = None, book: Path = REPO / "book",
            params: Path = scales.PARAMS, store: str | None = None,
            executor: str | None = None, ray_address: str | None = None,
            out_dir: Path | None = None) -> list[str]:
    """Execute every notebook (or those whose name starts with one of ``only``).

    ``store``, ``executor`` and ``ray_address`` override the params files' (``executor: ray``
    spreads every experiment's populations over a Ray cluster); ``out_dir``: where the
    executed notebooks go (default: beside their sources, where the book build reads them).
    Returns one line per failure (empty when all succeeded); prints progress as it goes.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
    logging.getLogger("papermill").setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # ipykernel's TCP warning
    packs_only = scale == "paper" and training_off()  # LT_TRAIN=none: what the packs hold
    if packs_only:
        print("[paper] LT_TRAIN=none: every chapter shows what the shipped packs hold; nothing "
              "trains", flush=True)
    elif scale == "paper":  # hours to days on a GPU: say first what is read and what trains
        print("\n".join(f"[paper] plan: {line}" for line in shipped.plan()), flush=True)
    failures = []
    for src in sources(book):
        if only and not any(src.stem.startswith(o) for o in only):
            continue
        values = scales.params(scale, src.stem, params)
        out = (out_dir or book) / f"{src.stem}.ipynb"
        if values is None and packs_only:
            _not_computed_page(src, out)
            print(f"[{scale}] {src.stem}: no shipped runs (LT_TRAIN=none)", flush=True)
            continue
        if values is None:
            failures.append(f"{src.stem}: no parameters at scale {scale} in {params}")
            continue
        if store is not None:
            values["store"] = store
        if executor is not None:
            values["executor"] = executor
        if ray_address is not None:
            values["ray"] = {**values.get("ray", {}), "address": ray_address}
        started = time.time()
        print(f"[{scale}] {src.stem} ...", flush=True)
        try:
            with atomic_path(out) as tmp:
                tmp_nb = tmp.with_suffix(".ipynb")
                nb = jupytext.read(src)
                try:
                    papermill.execute_notebook(
                        _papers_settings_only(nb) if packs_only else nb, str(tmp_nb),
                        parameters={"scale": scale, "params": values},
                        kernel_name="python3", language="python", cwd=str(REPO),
                        progress_bar=False, extra_arguments=["--IPKernelApp.log_level=ERROR"],
                    )
                    show_parameters_once(tmp_nb, values, scales.source(scale, src.stem))
                    os.replace(tmp_nb, tmp)
                finally:
                    tmp_nb.unlink(missing_ok=True)
        except PapermillExecutionError as err:
            failures.append(f"{src.stem}: cell {err.exec_count}: {err.ename}: {err.evalue}")
            print(f"[{scale}] {src.stem} FAILED", flush=True)
            continue
        print(f"[{scale}] {src.stem} done in {time.time() - started:.0f} s", flush=True)
    return failures


def _not_computed_page(src: Path, out: Path) -> None:
    """A chapter that no shipped pack holds, built under ``LT_TRAIN=none``: its title and the
    line that says what computing it would cost."""
    import jupytext
    import nbformat

    title = jupytext.read(src).cells[0]
    line = (shipped.provenance_line(src.stem) + " This build ran with `LT_TRAIN=none` "
            "(`make book SCALE=paper TRAIN=none`): nothing trained.")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(title.source),
                                         nbformat.v4.new_markdown_cell(line)])
    with atomic_path(out) as tmp:
        nbformat.write(nb, str(tmp))


PAPERS_SETTINGS = "papers-settings"  # the tag of a chapter's cells that show the shipped packs


def _papers_settings_only(nb):
    """A chapter under ``LT_TRAIN=none`` at paper scale: its title, parameters and first
    code cell (the experiment call, which reads the packs), the cells tagged
    ``PAPERS_SETTINGS``, and a line that says so. The rest of a chapter analyses what only a
    run with its weights has (the packs ship none). A reader page (no tagged cell) whole."""
    import nbformat

    tagged = [PAPERS_SETTINGS in c.metadata.get("tags", []) for c in nb.cells]
    if not any(tagged):
        return nb
    run_cell = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                    and "parameters" not in c.metadata.get("tags", []))
    nb.cells = [c for i, c in enumerate(nb.cells) if i <= run_cell or tagged[i]] + [
        nbformat.v4.new_markdown_cell(
            "Built with `LT_TRAIN=none` (`make book SCALE=paper TRAIN=none`): this page shows "
            "what the shipped packs hold at the papers' settings and trained nothing; the "
            "chapter's other sections need the runs' weights, which the packs leave out.")]
    return nb
