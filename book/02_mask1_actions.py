# %% [markdown]
# # Mask-1 actions: the signs are what matter
#
# **What the paper claims** (Zhou et al. 2019, §3, Figure 2). After a `large_final` mask is
# chosen, the kept weights need not be rewound to their exact initial values. Re-initialising
# them (a permutation of the layer's initial values), reshuffling them among the kept
# positions, or setting them to a constant ±σ all fall towards the `random`-mask baseline as
# pruning proceeds, **unless the initial sign is kept**: each action with the init sign
# performs close to rewinding.
#
# Every action is applied each round to that round's starting weights, as in Z19's code;
# pruned weights are frozen at zero.

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

# %%
result.final_round_accuracy().round(4)

# %% [markdown]
# ## Figure 2: early-stopping iteration and test accuracy vs weights remaining
#
# Means over seeds with min-max bands; stars where one action beats all others (p < 0.05).

# %%
fig = plots.rounds(result.summary, title=f"Mask-1 actions on {result.data_names}, scale {scale}")

# %% [markdown]
# ## What this run shows
#
# For each action, keeping the initial sign against not keeping it (mean test accuracy at
# early stopping over the sparser half of the rounds):

# %%
for model, part in result.summary.groupby("model"):
    values = stats.sparse_mean(part)
    for action in ("reinit", "reshuffle", "constant"):
        display(Markdown(f"**{model}:** " + stats.describe_ordering(
            values, [[f"large_final, {action}_init_sign"], [f"large_final, {action}"]])))
