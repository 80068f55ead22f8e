"""Execute the book's notebooks with papermill, all from one Python process.

Sources are jupytext ``py:percent`` files ``book/NN_name.py``; each gets its parameters from
``params/<scale>/NN_name.yaml`` and is written, executed, to ``book/NN_name.ipynb`` (a build
artefact) by way of a temp file, so a crash never leaves a half-written notebook.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import yaml

from .files import atomic_path

SCALES = ("tiny", "quick", "paper")
REPO = Path(__file__).resolve().parent.parent


def sources(book: Path = REPO / "book") -> list[Path]:
    """The numbered pages in order, then the entry page, which reads what they stored."""
    return sorted(book.glob("[0-9][0-9]_*.py")) + sorted(book.glob("index.py"))


def execute(scale: str = "quick", only: list[str] | None = None, book: Path = REPO / "book",
            params: Path = REPO / "params", store: str | None = None,
            executor: str | None = None, ray_address: str | None = None) -> list[str]:
    """Execute every notebook (or those whose name starts with one of ``only``).

    ``store``, ``executor`` and ``ray_address`` override the params files' (``executor: ray``
    spreads every experiment's populations over a Ray cluster). Returns one line per failure
    (empty when all succeeded); prints progress as it goes.
    """
    import jupytext
    import papermill
    from papermill.exceptions import PapermillExecutionError

    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)} (got {scale!r})")
    logging.getLogger("papermill").setLevel(logging.WARNING)
    logging.getLogger("traitlets").setLevel(logging.ERROR)  # ipykernel's TCP warning
    failures = []
    for src in sources(book):
        if only and not any(src.stem.startswith(o) for o in only):
            continue
        param_file = params / scale / f"{src.stem}.yaml"
        if not param_file.exists():
            failures.append(f"{src.stem}: no parameters at {param_file}")
            continue
        values = yaml.safe_load(param_file.read_text()) or {}
        if store is not None:
            values["store"] = store
        if executor is not None:
            values["executor"] = executor
        if ray_address is not None:
            values["ray"] = {**values.get("ray", {}), "address": ray_address}
        started = time.time()
        print(f"[{scale}] {src.stem} ...", flush=True)
        out = book / f"{src.stem}.ipynb"
        try:
            with atomic_path(out) as tmp:
                tmp_nb = tmp.with_suffix(".ipynb")
                try:
                    papermill.execute_notebook(
                        jupytext.read(src), str(tmp_nb),
                        parameters={"scale": scale, "params": values},
                        kernel_name="python3", language="python", cwd=str(REPO),
                        progress_bar=False, extra_arguments=["--IPKernelApp.log_level=ERROR"],
                    )
                    os.replace(tmp_nb, tmp)
                finally:
                    tmp_nb.unlink(missing_ok=True)
        except PapermillExecutionError as err:
            failures.append(f"{src.stem}: cell {err.exec_count}: {err.ename}: {err.evalue}")
            print(f"[{scale}] {src.stem} FAILED", flush=True)
            continue
        print(f"[{scale}] {src.stem} done in {time.time() - started:.0f} s", flush=True)
    return failures
