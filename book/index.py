# %% [markdown]
# # Lottery tickets, deconstructed
#
# An executable companion to three papers on lottery tickets:
#
# - **Z19**: Zhou, Lan, Liu and Yosinski, *Deconstructing Lottery Tickets: Zeros, Signs, and
#   the Supermask* (NeurIPS 2019). The lottery ticket's mask criterion (keep large final
#   weights) is one of several that work, and the ones that work keep weights that moved away
#   from zero. Rewinding the kept weights matters mostly for their **signs**, freezing the
#   pruned weights at **zero** matters because masking is a form of training, and a mask alone
#   applied to the untrained initial weights (a **supermask**) gives far better than chance
#   accuracy: 80% on MNIST, 95% when the mask is learned.
# - **H21**: *Uncovering the Impact of Hyperparameters for Global Magnitude Pruning*
#   (ICLR 2021 submission): the hyperparameters that find a mask and those that evaluate it
#   should differ, and the layerwise pruning ratio carries the effect (chapter 05).
# - **L23**: *Considering Layerwise Importance in the Lottery Ticket Hypothesis* (ICLR 2023
#   submission): importance measures beyond magnitude find tickets of similar accuracy that
#   overlap very little (chapter 06: Table 2, layer sparsity, overlap and re-initialisation).
#
# **How the book is organised.** One page per figure or table family of Z19: mask criteria
# (Figure 1, with a mask explorer), mask-1 actions (Figure 2), mask-0 actions (Figure 3),
# supermasks (Figure 4, Table S2); one page for H21's figure families (05, with an LPR
# explorer); then the reproduction scorecard. Every page is a notebook
# executed by papermill from the parameters in `params/<scale>/`, with the `lt_core` library
# doing the work, and states the scale, data and device it ran on. Only results at the
# paper's settings are compared with the paper's numbers.
#
# ## This build
#
# Read from the stored runs, not typed:

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from lt_core import scorecard

scorecard.build_info(scale, store=params.get("store"))

# %% [markdown]
# ## Rebuilding at another scale
#
# ```bash
# make book                 # quick scale on the CPU, minutes (the default)
# make book SCALE=tiny      # seconds: what CI runs
# make book SCALE=smoke     # the paper's settings shrunk, on synthetic data: every code path
# make book SCALE=paper     # the papers' settings: use a GPU and the full data (make data)
# LT_DATA=/path/to/data make book   # a data root holding mnist/ and cifar-10
# ```
#
# Without a data root the book runs on 5,000 real MNIST digits embedded in a dependency,
# and says so on every page. Results go to the run store `runs/`: finished work is never
# recomputed, so an interrupted build continues where it stopped.
#
# ## One experiment from Python or the command line
#
# ```python
# from lt_core import config, lottery
# result = lottery.run_iterative(config.load("params/quick/01_mask_criteria.yaml"))
# result.summary            # one row per run and round; result.metrics: every evaluation
# ```
#
# ```bash
# python -m lt_core run params/quick/02_mask1_actions.yaml   # progress bars, then a table
# python -m lt_core runs                                      # list the stored runs
# python -m lt_core metrics <key>                             # one run's metrics
# ```
