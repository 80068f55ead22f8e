# %% [markdown]
# # Mask criteria: which weights make a winning ticket?
#
# **What the paper claims** (Zhou et al. 2019, §2 and Figure 1). Train a dense network, keep
# the weights that score highest under a *mask criterion*, rewind the kept weights to their
# initial values, freeze the pruned ones at zero, and repeat. With the lottery-ticket
# criterion `large_final` (keep the largest final magnitudes) the pruned networks train to
# the dense network's accuracy, or above it, down to a few percent of the weights, and stop
# early sooner; masks drawn at random (`random`) fall behind as pruning proceeds.
#
# This page runs that experiment for the FC 300-100-10 network on MNIST: every criterion and
# seed trained together as one population per round, 20% of each hidden layer's remaining
# weights (10% of the output layer's) pruned per round.

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import config, lottery, plots

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
# ## Figure 1 (left column): early-stopping iteration and test accuracy vs weights remaining
#
# Lines are means over seeds, bands span the minimum and maximum.

# %%
fig = plots.rounds(result.summary, title=f"FC on {result.data_name}, scale {scale}")

# %% [markdown]
# ## What this run shows

# %%
table = result.final_round_accuracy()
best, worst = table.index[0], table.index[-1]
display(Markdown(
    f"At {table['percent_remaining'].iloc[0]:.1f}% of weights remaining, `{best}` reaches "
    f"{100 * table['mean'].iloc[0]:.2f}% mean test accuracy and `{worst}` "
    f"{100 * table['mean'].iloc[-1]:.2f}% (over {int(table['seeds'].min())} seeds, "
    f"scale {scale})."
))
