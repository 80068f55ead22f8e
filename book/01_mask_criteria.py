# %% [markdown]
# # Mask criteria: which weights make a winning ticket?
#
# **What the paper claims** (Zhou et al. 2019, §2, Figure 1). Train a dense network, keep the
# weights that score highest under a *mask criterion* M(w_i, w_f), rewind the kept weights to
# their initial values, freeze the pruned ones at zero, and repeat. The lottery-ticket
# criterion `large_final` (keep the largest final magnitudes) and `magnitude_increase` find
# networks that train to the dense accuracy or above down to a few percent of the weights;
# `random` masks fall behind as pruning proceeds, and criteria that keep *small* final
# weights (`small_final`) do worse than random.
#
# Here all nine criteria of Figure 1 and every seed train together as one population per
# round; each round prunes 20% of each hidden layer's remaining weights and 10% of the output
# layer's (per conv layer 10% or 15%).

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import config, lottery, plots, stats

result = lottery.run_iterative(config.load(params), progress=False)
display(Markdown(result.describe(scale)))

# %% [markdown]
# ## Test accuracy at the sparsest round reached
#
# Mean, min and max over seeds of the test accuracy at the early-stopping iteration (the
# evaluation with the lowest validation loss).

# %%
result.final_round_accuracy().round(4)

# %% [markdown]
# ## Figure 1: early-stopping iteration and test accuracy vs weights remaining
#
# Lines are means over seeds, bands span the minimum and maximum; a star marks a round where
# one criterion beats all others (one-sided Welch t-test, p < 0.05).

# %%
fig = plots.rounds(result.summary, title=f"Mask criteria on {result.data_names}, scale {scale}")

# %% [markdown]
# ## What this run shows
#
# Mean test accuracy at early stopping over the sparser half of the pruning rounds:

# %%
for model, part in result.summary.groupby("model"):
    display(Markdown(f"**{model}:** " + stats.describe_ordering(
        stats.sparse_mean(part),
        [["large_final", "magnitude_increase"], ["random"], ["small_final"]])))

# %% [markdown]
# ## Mask explorer
#
# Pick a criterion, a layer and a pruning round (seed of the first run). Left: the mask chosen
# at the end of that round (dark = kept); for the first layer also how many hidden units keep
# each input pixel; the density of every layer; and a fixed sample of weights in the
# (w_i, w_f) plane, orange where the new mask prunes them, with the criterion's decision
# boundary where it is a curve in that plane (Figure S1/S2 of the paper). Every state is
# rendered in advance, so the controls work in the static page.

# %%
from lt_core import widgets  # noqa: E402

widgets.explorer(result, model=result.experiment.models[0])
