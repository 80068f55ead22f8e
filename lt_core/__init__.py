"""lt_core: the library behind the lottery-ticket companion book.

Modules, one job each: config (typed params), data/ (whole-split tensors, augmentation,
downloads), models (the papers' networks), masks (criteria, importance measures, selections),
actions (mask-1 and mask-0 actions), schedule (iterations and learning rates by global step),
optim (population SGD and Adam), engine (population trainer), executor (local or Ray), store
(run store), lottery (THE pruning loop), supermask (heuristic and learned), maskfile (a
supermask as a file), departures (this config vs the paper's), claims (the papers'
orderings), stats, plots (paper-style figures), widgets, paper (the papers' numbers),
scorecard, notebooks (papermill runner), bench.
"""

__version__ = "0.1.0"
