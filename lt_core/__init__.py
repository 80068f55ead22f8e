"""lt_core: the library behind the lottery-ticket companion book.

The core, one job per module, knows no paper: config (loader, hash, shared sections), data/
(whole-split tensors, augmentation, downloads), models (the papers' networks), masks
(criteria, importance measures, selections), actions (mask-1 and mask-0 actions), schedule
(iterations and learning rates by global step), optim (population SGD and Adam), device
(where and how a population trains), engine (population trainer), loop (THE pruning loop),
executor (local or Ray), record (what a level holds), store (run store over its packs),
packfile (the run-pack format), pack (packs made, checked, merged, recomputed), view (a
result as data), result (what every experiment's result has and says), shipped (the paper-scale results the book ships), departures (this config
vs the paper's), verdicts, stats, plots (house style), widgets, tables, banner,
paper (the papers' numbers), experiments (the registry), scorecard, notebooks (papermill
runner), bench.

Each paper lives in ``papers/<paper>/`` with the same files: config, experiment, analysis,
claims, figures, tables (``lt_core.papers``).
"""

__version__ = "0.1.0"
