"""lt_core: the library behind the lottery-ticket companion book.

Modules, one job each: config (typed params), data (whole-split tensors), models (Z19 nets),
masks (criteria, selection), engine (population trainer), store (run store), lottery
(iterative pruning), supermask (heuristic and learned), maskfile (a supermask as a file),
departures (this config vs the paper's), claims (the papers' orderings), stats, plots
(paper-style figures), widgets (mask explorer), paper (the papers' numbers), scorecard,
notebooks (papermill runner), bench.
"""

__version__ = "0.1.0"
