# %% [markdown]
# # Supermasks: masks that work with no training
#
# **What the paper claims** (Zhou et al. 2019, §5, Figure 4, Table S2). A mask alone, applied
# to the *untrained* initial weights, gives far better than chance accuracy: with the
# `large_final_same_sign` criterion (keep large final weights whose sign did not change)
# about 80% on MNIST, and 86% when the kept weights are replaced by a signed constant
# σ_l · sign(w_i). Random masks stay at chance. Masks *learned* by gradient descent on the
# frozen initial weights reach 95.3% on MNIST.
#
# Heuristic masks are one-shot masks of the dense run at prune powers p = 0..24 (per-layer
# fraction 1 - (1 - q_l)^p), evaluated without training. Learned masks start from a constant
# logit c in every layer; each forward pass samples a Bernoulli mask and gradients pass
# straight through the sample; the accuracy is the mean over several mask samples at the
# early-stopping iteration (minimum validation loss; Z19's code stopped on the test set).

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import config, plots, supermask

cfg = config.load(params, config.Supermasks)
heuristic, dense = supermask.heuristic(cfg, progress=False)
learned = supermask.learned(cfg, progress=False)
display(Markdown(supermask.describe(cfg, dense, scale, learned)))

# %% [markdown]
# ## Table S2 next to this run
#
# Test accuracy in %: the paper's value and this run's mean over seeds. Heuristic columns take
# the best prune power of `large_final_same_sign`; the learned column the best c.

# %%
supermask.table_s2(heuristic, learned, dense).pivot(
    index="column", columns="network", values=["paper", "this_run"])

# %% [markdown]
# ## Figure 4: untrained accuracy of heuristic supermasks vs weights remaining

# %%
fig = plots.supermask_curves(heuristic, ["large_final_same_sign", "large_final",
                                         "magnitude_increase", "large_final_diff_sign",
                                         "small_final", "random"],
                             title=f"Heuristic supermasks on {dense.data_names}, scale {scale}")

# %% [markdown]
# ## Learned supermasks, per initial logit c
#
# Mean over seeds of the final accuracy and of the expected pruned fraction 1 - mean σ(m).

# %%
learned.groupby(["model", "c"])[["final_acc", "pruned_pct", "early_stop_iteration"]].mean().round(4)

# %% [markdown]
# ## What this run shows

# %%
display(Markdown(supermask.conclusions(heuristic, learned)))
