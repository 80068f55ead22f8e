"""Z19, Zhou et al. 2019, *Deconstructing Lottery Tickets: Zeros, Signs, and the Supermask*:
mask criteria, mask-1 and mask-0 actions (``experiment``: iterative pruning on the one loop),
heuristic and learned supermasks (``supermasks``), its claims (``claims``) and figures."""

from . import claims, config, experiment, figures, learned, maskfile, supermasks, tables
from .config import (
    PAPER_DATASET,
    PAPER_SUPERMASK,
    PAPER_TRAIN,
    PAPER_TRAIN_SIZE,
    Experiment,
    Learned,
    ModelName,
    Pruning,
    Supermasks,
)
from .experiment import Result, run_config, run_iterative

__all__ = ["PAPER_DATASET", "PAPER_SUPERMASK", "PAPER_TRAIN",
           "PAPER_TRAIN_SIZE", "Experiment", "Learned", "ModelName", "Pruning", "Result",
           "Supermasks", "claims", "config", "experiment", "figures", "learned", "maskfile",
           "run_config", "run_iterative", "supermasks", "tables"]
