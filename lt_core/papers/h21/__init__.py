"""H21: the hyperparameters that find a mask (H_find) and those that evaluate it (H_eval), on
the one pruning loop (paper_specs.md Notebook 5).

* **Find runs**: iterative global magnitude pruning (``ceil(fraction x remaining)`` of all
  prunable weights pooled per level) trained under H_find; the mask of every level is kept.
* **Eval runs**: the find run's initial weights with its mask M^(n), trained once under
  H_eval (``loop.Run`` with ``start_mask``). A pair whose training would be identical to
  one the find runs already did (coupled: H_find = H_eval) reads that training instead.
* **Random baselines** at every level, trained under H_eval for the coupled pairs (H21 A2:
  "random baselines have the same LR_find and LR_eval as the value in the title"): *global
  random* (a uniformly random subset of all prunable weights, as many as the ticket keeps)
  and *preserve LPR* (random within each layer, the ticket's per-layer counts). Both are runs
  of the loop whose random masks nest from level to level; a nested uniform subset is a
  uniform subset, so each level's mask is distributed as a one-shot draw.
* **LPR-constrained runs** (Fig 7): global magnitude with each layer's kept count taken from
  another find run at the same level (``selection="reference"``), evaluated under one H_eval.
* **Study variants** (Fig 4, 8, 9): per-phase overrides (warmup, weight decay 0, a schedule
  truncated at ``stop_epoch``), late rewinding (both phases start from the find run's state
  at epoch ``rewind_epochs``) and LR rewinding (find: the trained weights go on and only the
  schedule restarts; eval: the find run's trained weights at level n-1, masked).
* **One-shot structured pruning** (Fig 5): a dense find run; the units (conv filters, hidden
  neurons) with the smallest mean |w| over all eligible layers pooled are masked, with their
  BatchNorm scale and shift; evaluated from the init under H_eval.

A study varies one hyperparameter (``vary``): every find value x every eval value, the
others at the shared ``train`` settings and the phase overrides. Members that differ only in
learning rate or weight decay train as one population; each batch size is its own. Every
training is a run in the store: an interrupted experiment resumes where it stopped.

Modules: ``config`` (the experiment's schema), ``plan`` (its trainings as runs of the loop),
``structured`` (Fig 5's masks), ``experiment`` (``run``, the ``Result`` frames, the page's
description and the scorecard's rows), ``analysis`` (curves, best pairs, LPR), ``claims``
(Q1-Q16 judged) and ``figures``.
"""

from . import analysis, claims, config, experiment, figures, plan, structured, tables
from .config import (
                     FIGURES,
                     Constrained,
                     Decoupling,
                     Phase,
                     Study,
                     load,
                     phase_train,
)
from .experiment import (
                     Result,
                     departures,
                     describe_a9,
                     run,
                     stand_in_note,
)
from .plan import Plan
from .structured import filter_masks, unit_layers

__all__ = ["analysis", "claims", "config", "experiment", "figures", "plan", "structured",
           "tables",
           "FIGURES", "Constrained", "Decoupling", "Phase", "Plan",
           "Result", "Study", "departures", "describe_a9", "filter_masks", "load",
           "phase_train", "run", "stand_in_note", "unit_layers"]
