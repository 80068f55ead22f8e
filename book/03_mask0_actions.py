# %% [markdown]
# # Mask-0 actions: masking is training
#
# **What the paper claims** (Zhou et al. 2019, §4, Figure 3; the controls from the NeurIPS
# supplement). Freezing the pruned weights at **zero** works much better than freezing them
# at their initial values. Zero matters because the pruned weights had been moving toward
# zero: setting each pruned weight to zero *only if it moved toward zero* (else to its init)
# does as well as zeroing all of them, and applying that rule to the kept weights too
# ("apply to all") does better still at moderate sparsity. Both controls, the same number of
# zeros on random pruned positions and the reversed rule, fall behind.
#
# Frozen non-zero weights take part in the forward pass: W_eff = W * M + V * (1 - M).
# The horizontal line is the dense network's accuracy (round 0, mean over seeds).

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
# ## Figure 3: early-stopping iteration and test accuracy vs weights remaining

# %%
fig = plots.rounds(result.summary, dense_baseline=True,
                   title=f"Mask-0 actions on {result.data_names}, scale {scale}")

# %% [markdown]
# ## What this run shows
#
# Mean test accuracy at early stopping over the sparser half of the rounds:

# %%
claims = [
    [["large_final"], ["large_final, mask0 init"]],
    [["large_final, mask0 init_or_zero"], ["large_final, mask0 random_zeros"]],
    [["large_final, mask0 init_or_zero"], ["large_final, mask0 init_or_zero_reversed"]],
]
for model, part in result.summary.groupby("model"):
    for groups in claims:
        display(Markdown(f"**{model}:** " + stats.describe_ordering(stats.sparse_mean(part), groups)))
