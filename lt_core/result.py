"""What every experiment's result has and says, written once.

A result holds its config, one runs frame (at least ``RUN_COLUMNS``), its data per network
(``loop.DataInfo``), the device it ran on and the store its runs are in. Here, once for every
paper: the page's description (the paper's own head and paragraphs, then the failed runs and
the one sentence on how it departs from the paper), where a verdict was checked, the
number of seeds, and the entry page's row. Each paper's result (``z19.experiment.Result``,
``z19.supermasks.SupermasksResult``, ``h21.Result``, ``l23.LayerwiseResult``) adds what is its
own: its ``departures``, ``failures``, ``claims``, ``scorecard_rows``, ``report`` and the
paragraphs of ``describe``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from . import departures as departures_mod
from . import engine
from .loop import DataInfo
from .store import RunStore

RUN_COLUMNS = ("key", "model", "seed")  # every result's runs frame has these columns


@dataclass
class Result:
    """The shared part of every experiment's result (see the module's docstring)."""

    # The fields of the config a verdict on one network depends on (None: every field).
    VERDICT_FIELDS: ClassVar[tuple[str, ...] | None] = None

    config: Any  # the experiment's config (``z19.Experiment``, ``h21.Decoupling``, ...)
    runs: pd.DataFrame  # one row per run: RUN_COLUMNS, then the paper's own columns
    data: dict[str, DataInfo]  # per network
    device: str
    store: RunStore

    def __post_init__(self) -> None:
        if isinstance(self.runs, pd.DataFrame):  # None: a result built to ask its settings only
            missing = [c for c in RUN_COLUMNS if c not in self.runs.columns]
            if missing:
                raise ValueError(f"{type(self).__name__}.runs has no column {missing[0]!r}")

    # -- each paper's own ---------------------------------------------------------------------
    def departures(self) -> list[departures_mod.Departure]:
        """How this result departs from the paper's settings; empty at paper scale."""
        raise NotImplementedError

    def failures(self) -> list[str]:
        """One line per failed training: from that level on it has no result, and every
        table, figure and verdict leaves it out."""
        raise NotImplementedError

    def claims(self) -> pd.DataFrame:
        """The paper's claims (or numbers) this result judges, with their verdicts."""
        raise NotImplementedError

    def scorecard_rows(self, scale: str) -> list[dict]:
        """The scorecard's rows (``scorecard.COLUMNS``) of this result."""
        raise NotImplementedError

    def report(self) -> str:
        """Plain-text tables for the command line."""
        raise NotImplementedError

    def to_pack(self) -> dict | None:
        """What a pack carries to rebuild this result without data (``lt_core.view``); None:
        no view (the pack holds its runs, and the experiment reads them from a store)."""
        return None

    def head(self, scale: str) -> str:
        """The description's first paragraph: the scale, what ran, the device."""
        raise NotImplementedError

    def paragraphs(self) -> list[str]:
        """The description's paragraphs of settings and data (per network, per study)."""
        return []

    # -- written once ---------------------------------------------------------------------------
    def describe(self, scale: str) -> str:
        """Markdown: scale, device, settings and data, the failed runs, and the one sentence on
        how this result compares with the paper's settings."""
        return "\n\n".join([self.head(scale), *self.paragraphs(), *failure_note(self.failures()),
                            departures_mod.verdict(self.departures())])

    def checked_at(self, scale: str, paper_settings: bool) -> str:
        """Where a verdict was reached: at the paper's settings (with what it ran fewer of),
        else at this scale."""
        return departures_mod.checked_at(scale, self.departures(), paper_settings)

    def paper_settings(self, model: str | None = None, fields: tuple[str, ...] | None = None
                       ) -> bool:
        """Whether a verdict on ``model`` (None: on any network) was reached at the paper's
        settings, fewer seeds or lines aside: no setting departs of its data or of ``fields``
        (default ``VERDICT_FIELDS``), so that it is a reproduction or not."""
        return not departures_mod.blocking(
            self.departures(), model, self.VERDICT_FIELDS if fields is None else fields)

    @property
    def seeds(self) -> int:
        """The seeds the experiment asks for (``info`` counts those its runs hold)."""
        return len(self.config.seeds)

    @property
    def data_name_by_model(self) -> dict[str, str]:
        return {model: d.name for model, d in self.data.items()}

    @property
    def data_names(self) -> str:
        """The distinct data this result's networks trained on, in one line."""
        return ", ".join(sorted({d.name for d in self.data.values()}))

    def env(self) -> dict:
        """The environment its first run's first level was trained in
        (``provenance.environment``); empty where it has none."""
        return self.store.level(self.runs["key"].iloc[0], 0).env if len(self.runs) else {}

    def info(self) -> dict:
        """The entry page's row: networks, data, number of seeds, environment."""
        return {"networks": ", ".join(self.data), "data": self.data_names,
                "seeds": len(self.runs["seed"].unique()), "env": self.env()}


def failure_note(failures: list[str]) -> list[str]:
    """The visible paragraph that names failed runs (none: no paragraph)."""
    if not failures:
        return []
    return [f"**Failed runs, left out of every table and figure** (diverged: the monitored "
            "loss, validation or, where the data has no validation split, test, turned "
            f"non-finite, rose above {engine.DIVERGENCE_FACTOR:g} x its start or never went "
            "below it; at extreme sparsity a network that cannot learn at all collapses this "
            "way): " + "; ".join(failures) + "."]
