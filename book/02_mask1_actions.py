# %% [markdown]
# # Mask-1 actions: the signs are what matter

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
paper = experiments.from_packs("02_mask1_actions")
shipped.section("02_mask1_actions", paper)

# %% [markdown]
# **What the paper claims** (Zhou et al. 2019, §3, Figure 2). After a `large_final` mask is
# chosen, the kept weights need not be rewound to their exact initial values. Re-initialising
# them (a permutation of the layer's initial values), reshuffling them among the kept
# positions, or setting them to a constant ±σ all fall towards the `random`-mask baseline as
# pruning proceeds, **unless the initial sign is kept**: each action with the init sign
# performs close to rewinding (the NeurIPS supplement's Figure S4: "reshuffle, init sign" and
# "constant, init sign" perform similarly to the rewind baseline).
#
# Every action is applied each level to that level's starting weights, as in Z19's code;
# pruned weights are frozen at zero.
#
# ## This run

# %% tags=["remove-input", "describe"]
display(Markdown(result.describe(scale)))

# %% [markdown]
# ## Test accuracy at the sparsest level reached
#
# Mean, min and max over seeds of the test accuracy at early stopping, in %.

# %%
z19.tables.final_accuracy(result.final_level_accuracy())

# %% [markdown]
# ## Figure 2: early-stopping iteration and test accuracy vs weights remaining
#
# x: the percent of weights remaining on a log scale, dense on the left (Z19's axis); y: test
# accuracy in %. Means over seeds with min-max bands. As in the NeurIPS supplement's Figure
# S4, a star marks a level where rewinding (`large_final`) or "constant, init sign" is
# significantly better than the other (one-sided Welch t-test, p < 0.05; never on an exact
# tie); the sentence under the figure says how many there are.

# %%
pair = ("large_final", "large_final, constant_init_sign")
fig = z19.figures.levels(result.summary, stars=pair,
                   title=f"Mask-1 actions on {result.data_names}, {scale}")

# %%
z19.tables.stars(result.summary, pair)

# %% [markdown]
# ## What this run shows
#
# For each action, keeping the initial sign against not keeping it, and the init-sign
# actions against rewinding ("≈": within 1 percentage point), seed by seed: "A > B" holds
# when the paired differences are positive beyond the seeds' spread (one-sided paired
# t-test at 5%).

# %%
z19.tables.claims(z19.claims.table(result, "02_mask1_actions", scale))
