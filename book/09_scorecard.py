# %% [markdown]
# # Reproduction scorecard

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import banner, scorecard, tables

info = scorecard.build_info(scale, store=params.get("store"))
card = scorecard.build(scale, store=params.get("store"))
banner.summary(info, scale)

# %% tags=["remove-input"]
display(Markdown(scorecard.headline(card)))

# %% [markdown]
# Every number and claim of the three papers that this build can check, next to this build's
# value and a verdict computed by `lt_core.scorecard` from the runs of the chapters before.
#
# **The rule for orderings.** An ordering "A > B" holds when, over seeds, the paired
# differences A − B (each seed's mean over the levels both sides have) are positive beyond the
# seeds' spread: a one-sided paired t-test at 5%, equivalently the lower end of the one-sided
# 95% confidence interval of the mean difference above 0. With one seed there is no spread, and
# the ordering is *not judged*. "A ≈ B" holds when the mean difference is within 1 percentage
# point. A claim with several parts holds only if every part does; its statistic shows each
# part. A comparison of the best pair of a grid (H21 Figures 3 and 5, "the best H_eval
# changes") chooses the best on the first half of the seeds and judges it on the others, so
# that a maximum over more noisy numbers does not win for being a maximum. "At each level"
# claims are judged at each level and say at how many they hold.
#
# **The words.** Only a claim checked at the papers' settings is *reproduced* or *not
# reproduced*; checked at a stand-in scale it *holds* or *does not hold at quick scale* (the
# scale named). A number (Z19 Table S2 within 3 points, L23 Table 2 within the tolerance its
# std gives, section 5 within 25%) off the papers' settings is *not comparable* and shown
# for reference. *Not judged* names why (runs failed, too few seeds); *not testable* means the
# claim cannot fail here (an L23 cell whose std makes the tolerance cover every accuracy); *not
# run* means this build lacks the experiment. The same rows are data:
# `python -m lt_core scorecard --scale quick --format csv`.
#
# The learned supermask's length follows chapter 04: Z19's lengths read as epochs (FC 440,000
# iterations at the papers' scale), FC and Conv2 at the end of training, Conv4 and Conv6
# early-stopped.
#
# Each chapter's data, device and seeds, read from its runs:

# %% tags=["describe"]
tables.build(info)

# %% [markdown]
# ## Every claim, by paper
#
# Under each claim, in small type: the network, the paper's source, the statistic behind the
# verdict, the scale and data it was checked at. The last column names both sides: what the
# paper says, then this build's value.

# %%
tables.scorecard(card)
