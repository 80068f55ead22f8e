# %% [markdown]
# # Mask-0 actions: masking is training

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
paper = experiments.from_packs("03_mask0_actions")
shipped.section("03_mask0_actions", paper)

# %% [markdown]
# **What the paper claims** (Zhou et al. 2019, §4, Figure 3; the controls from the NeurIPS
# supplement, §S3 and Figure S2). Freezing the pruned weights at **zero** works much better
# than freezing them at their initial values. Zero matters because the pruned weights had
# been moving toward zero: setting each pruned weight to zero *only if it moved toward zero*
# (else to its init) fully recovers the lottery ticket's performance, and applying that rule
# to the kept weights too ("apply to all") outperforms even the lottery ticket. Both controls
# perform worse than the proposed rule: the same number of zeros on random pruned positions,
# and the reversed rule (zero where the weight moved *away* from zero), which is also worse
# than random zeros and than freezing at init.
#
# Frozen non-zero weights take part in the forward pass: W_eff = W * M + V * (1 - M).
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
# ## Figure 3: early-stopping iteration and test accuracy vs weights remaining
#
# x: the percent of weights remaining on a log scale, dense on the left (Z19's axis); y: test
# accuracy in %. Means over seeds with min-max bands (the paper's Figure 3 marks no stars, so
# neither does this one). The dashed line is the dense network (level 0, mean over seeds).

# %%
fig = z19.figures.levels(result.summary, dense_baseline=True,
                   title=f"Mask-0 actions on {result.data_names}, {scale}")

# %% [markdown]
# ## What this run shows
#
# Every claim of §4 and §S3, seed by seed, by the statistic in its row ("≈": within 1
# percentage point; "A > B": the paired differences positive beyond the seeds' spread, a
# one-sided paired t-test at 5%).

# %%
z19.tables.claims(z19.claims.table(result, "03_mask0_actions", scale))
