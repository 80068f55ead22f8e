"""lt_core: the library behind the lottery-ticket companion book.

Modules, one job each: config (typed params), data (whole-split tensors), models (Z19 nets),
masks (criteria, selection), engine (population trainer), store (run store), lottery
(iterative pruning), plots (paper-style figures), notebooks (papermill runner), bench.
"""

__version__ = "0.1.0"
