# %% [markdown]
# # Reproduction scorecard
#
# Every number and ordering from the papers that this build can compare, next to this
# build's value (mean over seeds, with the min-max range in brackets) and a verdict computed
# by `lt_core.scorecard`:
#
# - a **number** is *reproduced* when this build's mean is within 3 percentage points of the
#   paper's. It is judged only for results run at the paper's settings; otherwise the verdict
#   is *not run at this scale* and the value is shown for reference only;
# - an **ordering** is *reproduced* when it holds in this build, comparing mean test accuracy
#   at early stopping over the sparser half of the pruning rounds. The scale column says at
#   which settings it was checked: an ordering seen at quick scale is not a paper-scale result.
# - L23's Table 2 cells use the paper's std instead: within max(0.1, 2 s sqrt(1/3 + 1/n))
#   points (see the L23 chapter); numbers the paper gives without a std within 25%.

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import scorecard

card = scorecard.build(scale, store=params.get("store"))
display(card)

# %%
counts = card["verdict"].value_counts()
display(Markdown(", ".join(f"**{n}** {verdict}" for verdict, n in counts.items())
                 + f" (this build ran at scale **{scale}**)."))
