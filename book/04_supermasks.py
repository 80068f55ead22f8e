# %% [markdown]
# # Supermasks: masks that work with no training

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from pathlib import Path

from IPython.display import Markdown, display

from lt_core import banner, experiments, shipped
from lt_core.papers import z19

result = experiments.run(params, progress=False)
cfg, heuristic, learned, dense = result.config, result.heuristic, result.learned, result.dense
banner.of(result, scale)

# %% [markdown] tags=["papers-settings"]
# ## At Z19's settings
#
# What the book ships at Z19's settings (`book/results/`, read without training); the rest
# of the page is this build's own run, at the scale its banner names.

# %% tags=["remove-input", "papers-settings"]
paper = experiments.from_packs("04_supermasks")
shipped.section("04_supermasks", paper)

# %% [markdown] tags=["papers-settings"]
# Table S2 at Z19's settings, from the shipped runs (the columns they hold):

# %% tags=["remove-input", "papers-settings"]
z19.tables.table_s2(paper.claims("paper")) if paper is not None else None

# %% [markdown] tags=["papers-settings"]
# Figure 4 / S8 at Z19's settings, from the shipped runs (drawn as in the section of this
# build's run below):

# %% tags=["remove-input", "papers-settings"]
fig = z19.figures.supermask_curves(
    paper.heuristic, paper.learned, paper.dense.summary,
    title="Supermasks at Z19's settings (shipped runs)") if paper is not None else None

# %% [markdown]
# **What the paper claims** (Zhou et al. 2019, §5, Figure 4, Table S2, §S6). A mask alone,
# applied to the *untrained* initial weights, gives far better than chance accuracy: with the
# `large_final_same_sign` criterion (keep large final weights whose sign did not change)
# about 80% on MNIST, and 86% when the kept weights are replaced by a signed constant
# σ_l · sign(w_i). Random masks stay at chance. Masks *learned* by gradient descent on the
# frozen initial weights reach 95.3% on MNIST.
#
# Heuristic masks are one-shot masks of the dense run at prune powers p = 0..24 (per-layer
# fraction 1 - (1 - q_l)^p), evaluated without training. Learned masks start from a constant
# logit c in every layer; each forward pass samples a Bernoulli mask and gradients pass
# straight through the sample; the accuracy is the mean over several mask samples.
#
# **How long the masks learn: a decision.** Z19's text says FC, Conv2, Conv4 and Conv6 trained
# for {2000, 2000, 1000, 800} *iterations*; the authors' code runs `--num_epochs 2000` at a
# batch of 250, i.e. 220 iterations per epoch on MNIST's 55,000 training images: 440,000
# iterations for FC. The paper's remark that Conv4 and Conv6 overfit, so that they were
# early-stopped, only makes sense in epochs. This book reads the lengths as **epochs** at the
# paper's scale (FC 440,000, Conv2 360,000, Conv4 180,000, Conv6 144,000 iterations;
# `learned.length_unit` chooses), early-stops only Conv4 and Conv6 (at the minimum validation
# loss; Z19's code stopped on the test set) and reports FC and Conv2 at the end of training.
# The figure "accuracy against training length" below shows where the paper's number lies.
#
# ## This run

# %% tags=["remove-input", "describe"]
display(Markdown(result.describe(scale)))

# %% [markdown]
# ## Table S2 next to this run
#
# Test accuracy in %: Z19's value and this run's mean over seeds [min-max], side by side,
# with the verdict the scorecard gives each (a cell whose runs failed is *not judged*, not
# averaged over the seeds that survived). Heuristic columns take the best prune power of
# `large_final_same_sign`; the learned column the best c.

# %% tags=["remove-input"]
z19.tables.table_s2(result.claims(scale))

# %% [markdown]
# ## Figure 4 / S8: untrained accuracy of every supermask vs weights remaining
#
# Every criterion's one-shot mask on the initial weights (top) and on the signed constant
# (bottom), untrained: x is the percent of weights remaining on a log scale, dense on the left
# (Z19's axis), y the test accuracy in %. `large_final_same_sign`, the supermask this chapter
# is about, is the thick black line; criteria beyond the palette's six colours are dashed.
# Also drawn: the untrained network with no mask (`untrained_baseline`), the trained dense
# network (`trained_baseline`) and, on the top panel, the learned supermasks (one diamond
# per c: expected weights remaining, mean accuracy over seeds with their min-max).

# %%
fig = z19.figures.supermask_curves(heuristic, learned, dense.summary,
                             title=f"Supermasks on {dense.data_names}, {scale}")

# %% [markdown]
# ## Learned supermasks, per initial logit c
#
# Mean over seeds of the test accuracy (%), of the expected share of weights pruned,
# 1 - mean σ(m) (%), and of the iteration the accuracy was taken at.

# %%
z19.tables.learned(learned)

# %% [markdown]
# ## Learned-mask accuracy against training length
#
# Test accuracy in % during training (one mask sample per 2,500 test images, mean over seeds)
# against training iterations on a log scale, with the paper's number and the two readings of
# its length on this page's data.

# %%
fig = z19.figures.learned_length(
    z19.learned.learned_curves(cfg), z19.learned.lengths(cfg, dense),
    title=f"Learned supermasks on {dense.data_names}, {scale}")

# %% [markdown]
# ## A supermask as a file
#
# "We only need to save a binary mask and a single random seed to reconstruct the full
# weights of the network" (§5). `lt_core.papers.z19.maskfile` writes exactly that: the architecture, the
# init seed, the value rule and one bit per weight, with a checksum
# (`python -m lt_core export <run key> --power N`, `python -m lt_core import <file>`). Here
# the first seed's best `large_final_same_sign` supermask on the signed constant is written,
# read back into a freshly built network and evaluated again.

# %%
files = Path(cfg.store) / "supermask_files"
z19.tables.round_trip(z19.maskfile.round_trip(heuristic, cfg.store, files,
                                      data_root=cfg.data.root))

# %% [markdown]
# ## What this run shows
#
# Each claim's outcome is its scorecard verdict; the other sentences give numbers only.

# %% tags=["remove-input"]
display(Markdown(result.conclusions(scale)))
