# %% [markdown]
# # Mask criteria: which weights make a winning ticket?

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import banner, experiments, shipped
from lt_core.papers import z19

result = experiments.run(params, progress=False)
banner.of(result, scale)

# %% [markdown] tags=["papers-settings"]
# ## At Z19's settings
#
# What the book ships at Z19's settings (`book/results/`, read without training); the rest
# of the page is this build's own run, at the scale its banner names.

# %% tags=["remove-input", "papers-settings"]
paper = experiments.from_packs("01_mask_criteria")
shipped.section("01_mask_criteria", paper)

# %% [markdown]
# **What the paper claims** (Zhou et al. 2019, §2, Figure 1). Train a dense network, keep the
# weights that score highest under a *mask criterion* M(w_i, w_f), rewind the kept weights to
# their initial values, freeze the pruned ones at zero, and repeat. The lottery-ticket
# criterion `large_final` (keep the largest final magnitudes) and `magnitude_increase` find
# networks that train to the dense accuracy or above down to a few percent of the weights;
# `random` masks fall behind as pruning proceeds, and criteria that keep *small* final
# weights (`small_final`) do worse than random. The NeurIPS supplement (§S5, Figure S5) adds
# tickets of the two sign criteria of the supermasks: `large_final_same_sign`, the best
# supermask, trains slightly *worse* than `large_final`.
#
# Here all eleven criteria and every seed train together as one population per level; each
# level prunes 20% of each hidden layer's remaining weights and 10% of the output layer's
# (per conv layer 10% or 15%).
#
# ## This run

# %% tags=["remove-input", "describe"]
display(Markdown(result.describe(scale)))

# %% [markdown]
# ## The networks (Z19 Table S1)
#
# Generated from this code's networks and settings (the paper's, whatever this page's scale):
# compare it with the paper's Table S1. The last row is the learned supermasks' training
# (§S6.2), with Z19's lengths read as epochs (notebook 04).

# %%
z19.tables.table_s1(z19.config.table_s1())

# %% [markdown]
# ## Test accuracy at the sparsest level reached
#
# Mean, min and max over seeds of the test accuracy at the early-stopping iteration (the
# evaluation with the lowest validation loss), in %.

# %%
z19.tables.final_accuracy(result.final_level_accuracy())

# %% [markdown]
# ## Figure 1: early-stopping iteration and test accuracy vs weights remaining
#
# x: the percent of weights remaining on a log scale, dense on the left (Z19's axis); y: test
# accuracy in %. Lines are means over seeds, bands span the minimum and maximum. As in the
# NeurIPS supplement's Figure S1, a star marks a level where `large_final` or
# `magnitude_increase` is significantly better than the other (one-sided Welch t-test over
# seeds, p < 0.05; never on an exact tie); the sentence under the figure says how many there
# are.

# %%
S5 = ["large_final_same_sign", "large_final_diff_sign"]
summary = result.summary
figure1 = summary[~summary["line"].isin(S5)]
pair = ("large_final", "magnitude_increase")
fig = z19.figures.levels(figure1, stars=pair,
                   title=f"Mask criteria on {result.data_names}, {scale}")

# %%
z19.tables.stars(figure1, pair)

# %% [markdown]
# ## Figure S5 (NeurIPS supplement): tickets of the sign criteria
#
# Trained tickets of `large_final_same_sign` (keep large final weights that kept their sign)
# and `large_final_diff_sign`, with `large_final` for reference. Axes as in Figure 1.

# %%
fig = z19.figures.levels(summary[summary["line"].isin(["large_final", *S5])],
                   panels=("test_acc_at_early_stop",),
                   title=f"Sign criteria on {result.data_names}, {scale}")

# %% [markdown]
# ## What this run shows
#
# Each claim compares two lines seed by seed, by the statistic in its row (each seed's mean
# over the sparser half of the pruning levels, where the paper's lines separate): "A > B"
# holds when the paired differences are positive beyond the seeds' spread (a one-sided
# paired t-test at 5%); "A ≈ B" when the mean difference is within 1 percentage point.

# %%
z19.tables.claims(z19.claims.table(result, "01_mask_criteria", scale))

# %% [markdown]
# ## Mask explorer
#
# Pick a criterion, a layer and a pruning level (seed of the first run). Left: the mask chosen
# at the end of that level (dark = kept); for the first layer instead how many hidden units
# keep each input pixel. Right: a fixed sample of weights in the (w_i, w_f) plane, orange
# where the new mask prunes them, with the criterion's decision boundary where it is a curve
# in that plane (Figure S1/S2 of the paper). The title gives every layer's density. Every
# state is rendered in advance, so the controls work in the static page.

# %%
z19.figures.explorer(result, model=result.config.models[0])
