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
# **How the book is organised.** Every chapter opens with one line that says at which
# scale, on which device and data and with how many seeds it ran, and whether it is
# comparable with the paper; then what the paper claims, the run's settings, and the figures
# and tables with the claims checked.
#
# - **Z19**: [01 mask criteria](01_mask_criteria.ipynb) (Figure 1, Table S1, Figure S5, a mask
#   explorer), [02 mask-1 actions](02_mask1_actions.ipynb) (Figure 2), [03 mask-0
#   actions](03_mask0_actions.ipynb) (Figure 3), [04 supermasks](04_supermasks.ipynb) (Figure 4/S8,
#   Table S2, learned supermasks, a supermask as a file).
# - **H21**: [05 decoupling](05_decoupling.ipynb): finding a mask and training it with different
#   hyperparameters, the layerwise pruning ratios (an LPR explorer), Figures 1-9 and A9.
# - **L23**: [06 layerwise importance](06_layerwise.ipynb): Table 2, the layer sparsity of each
#   measure, the overlap of the tickets and the partial re-initialisation (an overlap
#   explorer).
# - **Verdict**: [09 the reproduction scorecard](09_scorecard.ipynb): every claim, grouped by
#   paper, with the statistic behind it and its verdict.
#
# Every page is a notebook executed by papermill from the parameters in `params/<scale>/`,
# with the `lt_core` library doing the work. Only results at the paper's settings are
# compared with the paper's numbers. Each chapter shows first the results at the paper's
# settings that the book ships (run packs in `book/results/`, computed once, each with the
# device, date and commit that made it), then this build's own run.
#
# ## Shipped results at the papers' settings
#
# What the packs in `book/results/` hold, read from them:

# %% tags=["remove-input"]
from lt_core import shipped

shipped.overview()

# %% [markdown]
# ## This build
#
# Read from the stored runs, not typed:
# %% tags=["parameters"]
scale = "tiny"
params = {}

# %% tags=["describe"]
from IPython.display import display

from lt_core import banner, scorecard, tables

info = scorecard.build_info(scale, store=params.get("store"))
display(banner.summary(info, scale))
tables.build(info)

# %% [markdown]
# ## Rebuilding at another scale
#
# | scale | what it is | what it costs |
# |---|---|---|
# | `tiny` | a few dozen iterations, 2 levels: checks that everything runs | seconds per chapter on a CPU (CI) |
# | `quick` | the papers' hyperparameters with fewer iterations, levels and seeds (the default) | about 13 minutes for the whole book on an idle 2-core laptop CPU |
# | `smoke` | the papers' settings shrunk (a few steps, 2 levels, 1 seed) on synthetic data: every code path of the paper scale | about 7 minutes for the whole book on a 2-core CPU, 6.5 on one H200 (measured) |
# | `paper` | the papers' settings, seeds and data | about 1,000 GPU-hours (below) |
#
# At the paper scale, on one H200 (ResNet-20 measured: 0.84 s per network-epoch of CIFAR-10
# in a population of 32; the other networks scaled by their training FLOPs, which is
# optimistic for the small Z19 networks: they do not fill a GPU):
#
# | chapter | what trains | GPU-hours |
# |---|---|---|
# | 01 mask criteria | 11 arms x 5 seeds x 24 levels, FC, Conv2/4/6 | ~73 |
# | 02 mask-1 actions | 8 arms x 5 seeds x 24 levels | ~53 |
# | 03 mask-0 actions | 6 arms x 5 seeds x 24 levels | ~40 |
# | 04 supermasks | 11 c values x 5 seeds of 144,000-440,000 iterations, dense runs | ~88 |
# | 05 H21 decoupling | ResNet-20: 5,787 trainings (621,828 epochs); Figure A9, ResNet-18 on Tiny ImageNet: 462 trainings | ~146 + ~154 |
# | 06 L23 | ResNet-20, VGG-16 and ResNet-18, about 600 trainings each; LeNet on the CPU | ~424 |
#
# A cluster of 8 GPUs with `executor: ray` (README, "Scaling out") does it in about five
# days.
#
# ```bash
# make book               # quick scale on the CPU (the default)
# make book SCALE=tiny    # seconds: what CI runs
# # the paper's settings shrunk, on synthetic data: every code path
# make book SCALE=smoke
# make data               # full MNIST into ./data
# # the papers' settings: a GPU and the full data
# make book SCALE=paper
# # the same on a Ray cluster
# make book SCALE=paper EXECUTOR=ray
# # a data root holding mnist/ and cifar-10
# LT_DATA=/path/to/data make book
# ```
#
# Without a data root the book runs on 5,000 real MNIST digits embedded in a dependency,
# and says so on every page. Results go to the run store `runs/`: finished work is never
# recomputed, so an interrupted build continues where it stopped.
#
# ## One experiment from Python or the command line
#
# ```python
# from lt_core import config, experiments
# result = experiments.run(config.read_yaml("params/quick/01_mask_criteria.yaml"))
# result.summary   # one row per run and level
# result.metrics   # every evaluation
# ```
#
# ```bash
# # one experiment: progress bars, then a table
# python -m lt_core run params/quick/02_mask1_actions.yaml
# python -m lt_core runs            # the stored runs
# python -m lt_core metrics <key>   # one run's metrics
# ```
