"""L23, *Considering Layerwise Importance in the Lottery Ticket Hypothesis*: tickets found with
layerwise importance measures on the one loop (``experiment``), section 5's overlap and
partial re-initialisation (``analysis``), Table 2 and the claims judged (``claims``), figures."""

from . import analysis, claims, config, experiment, figures, tables
from .config import MEASURES, Layerwise, Overlap, Setting, arm, paper_config, run_config
from .experiment import LayerwiseResult, load_data, run, ticket

__all__ = ["MEASURES", "Layerwise", "LayerwiseResult", "Overlap", "Setting", "analysis", "arm",
           "claims", "config", "experiment", "figures", "load_data", "tables", "paper_config", "run",
           "run_config", "ticket"]
