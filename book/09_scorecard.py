# %% [markdown]
# # Reproduction scorecard

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import banner, scorecard, tables

info = scorecard.build_info(scale, store=params.get("store"))
banner.summary(info, scale)

# %% [markdown]
# Every number and ordering from Z19, H21 and L23 that this build can compare, next to this
# build's value and a verdict computed by `lt_core.scorecard`:
#
# - a **number** (Table S2) is *reproduced* when this build's mean over seeds is within 3
#   percentage points of the paper's. It is judged only when the settings that change what is
#   measured (training, data, lengths, evaluation) are the paper's for that network; fewer
#   seeds or c values are listed where it was checked. Otherwise the value is shown for
#   reference only, with no verdict of reproduction;
# - an **ordering** is *reproduced* when it holds in this build. The statistic (in small type
#   under each claim) says what it compares: for the iterative-pruning figures the mean test
#   accuracy at early stopping over the sparser half of the pruning rounds (the rounds are
#   listed), all seeds pooled; "~" means within 1 percentage point. An ordering seen at quick
#   scale is not a paper-scale result: "checked at" says at which settings it was seen;
# - L23's Table 2 cells use the paper's std instead: within max(0.1, 2 s sqrt(1/3 + 1/n))
#   points (see the L23 chapter); numbers the paper gives without a std within 25%.
#
# The learned supermask's length follows notebook 04's decision: Z19's lengths read as epochs
# (FC 440,000 iterations at the paper's scale), FC and Conv2 at the end of training, Conv4
# and Conv6 early-stopped.
#
# Each chapter's data, device and seeds, read from its runs:

# %% tags=["describe"]
tables.build(info)

# %% [markdown]
# ## Every claim, by paper
#
# Under each claim, in small type: the network, the paper's source, the statistic behind the
# verdict and the settings it was checked at. The last column names both sides: the paper's
# value, then this build's.

# %%
card = scorecard.build(scale, store=params.get("store"))
tables.scorecard(card)

# %%
counts = card["verdict"].map(lambda v: tables.status(v) or v).value_counts()
display(Markdown(", ".join(f"**{n}** {v}" for v, n in counts.items())
                 + f" (this build ran at scale **{scale}**)."))
