# %% [markdown]
# # Layerwise importance: many lottery tickets per initialisation

# %% tags=["parameters"]
scale = "tiny"
params = {}

# %%
from IPython.display import Markdown, display

from lt_core import banner, experiments, shipped, tables
from lt_core.papers import l23

result = experiments.run(params, progress=False)
banner.of(result, scale)

# %% [markdown] tags=["papers-settings"]
# ## At L23's settings
#
# What the book ships at L23's settings (`book/results/`, read without training); the rest
# of the page is this build's own run, at the scale its banner names.

# %% tags=["remove-input", "papers-settings"]
paper = experiments.from_packs("06_layerwise")
shipped.section("06_layerwise", paper)

# %% [markdown] tags=["papers-settings"]
# Table 2 at L23's settings, from the shipped runs (the networks they hold):

# %% tags=["remove-input", "papers-settings"]
l23.tables.table2(paper.table2(), "paper") if paper is not None else None

# %% [markdown]
# **What the paper claims** (L23, *Considering Layerwise Importance in the Lottery Ticket
# Hypothesis*). Lottery-ticket rewinding prunes the weights of smallest magnitude pooled over
# the whole network. L23 replaces the magnitude by an *importance measure* that normalises
# |w| within each layer over its unpruned weights (L1: |w| / sum |w|; L2: w² / sum w²;
# SoftMax: exp|w| / sum exp|w|; MinMax: (|w| - min) / (max - min)) and still pools the scores
# globally, pruning 20% of what remains per level (OpenLTH's rule: keep score > the n-th
# smallest). Its findings: magnitude, L1 and L2 give tickets of about the same accuracy
# (Table 2), while SoftMax and MinMax fall behind at high sparsity on the larger networks;
# the measures spread the sparsity over the layers very differently (Figure 1, Appendix C);
# from one initialisation they find **different** tickets that share few connections
# (section 5); the shared connections vary less from level to level and flip sign less
# (Figure 2), moved further in the first layer (Figure 3), and survive a re-initialisation of
# every other weight more often than chance.
#
# Here every measure and seed of a network trains as one population per level, on the same
# pruning loop as the Z19 chapters: pretrain k iterations once per seed, train level 0 from
# there, and after each level score, prune and rewind every parameter and buffer to the state
# at k.
#
# ## This run

# %% tags=["remove-input", "describe"]
display(Markdown(result.describe(scale)))

# %% [markdown]
# ## Table 2: accuracy of the tickets
#
# Test accuracy at the end of training (%), mean and std over seeds, at the levels of L23's
# Table 2 that ran here, next to the paper's. A cell is within tolerance when the two means
# differ by at most max(0.1, 2 s sqrt(1/3 + 1/n)) points: two standard errors of the
# difference when the paper's std s is taken as the run-to-run std of both its 3 runs and
# our n. It is a verdict only for a network run at the paper's settings. One table per
# network; the last column says whether the difference is within that tolerance.

# %%
table = result.table2()
display(l23.tables.table2(table, scale))
display(Markdown(l23.claims.table2_verdict(table, scale)))

# %% [markdown]
# The same numbers as a figure: x is the percent of weights remaining on a log scale, dense on
# the left (OpenLTH's axis, as in the Z19 chapters; Table 2's sparsity s is at 100 - s), y the
# test accuracy at the end of training in %. Lines: this build's mean over seeds with a band
# of one std; open squares: L23's Table 2, mean ± std, in the line's colour.

# %%
fig = l23.figures.l23_accuracy(result.ticket_levels(), table,
                         title=f"Tickets of each measure, {scale}")

# %% [markdown]
# ## Layer collapse
#
# A level whose mask leaves a layer with no weight disconnects the input from the output
# (Tanaka et al.'s layer collapse, which L23 names as the worst case of pruning): its accuracy
# is not a ticket's. MinMax invites it: the smallest remaining weight of every layer scores 0,
# so every layer loses at least one weight at every level, however small it is.

# %% tags=["remove-input"]
display(Markdown(l23.claims.collapse_note(result)))

# %% [markdown]
# ## Layer sparsity (Figure 1, Appendices C and D)
#
# The layerwise pruning ratio (LPR: % of a layer's weights pruned) of every layer as the
# levels go by (x: the level, each pruning 20% of the remaining weights), one panel per
# measure, the network as a whole dashed black; and by depth at the section-5 level (bottom
# panel), a line per measure. Mean over seeds, one figure per network.

# %%
model, level = result.config.overlap_model, result.config.overlap.level
for net in result.config.models:
    last = min(level, result.config.setting(net).levels)
    fig = l23.figures.l23_layer_sparsity(result.layer_sparsity, net, mark_level=last)

# %% [markdown]
# ## Section 5: one initialisation, several tickets
#
# The tickets that the measures below find from the same initialisation and data order, at
# the section-5 level: how many connections all of them keep (the overlap O), as % of all
# prunable connections and as % of each ticket, per layer, next to what chance would give.

# %%
overlap = result.overlap_at_level()
display(l23.tables.overlap(overlap))

# %% [markdown]
# The overlap at every level (x: the level), as % of a ticket per layer with what chance
# would give dashed in the same colour, and as % of all prunable connections; y on a log
# scale. Mean over measures and seeds.

# %%
fig = l23.figures.l23_overlap_curves(result.overlaps, model)

# %% [markdown]
# **Figure 2.** For each connection of a ticket, the end-of-training values it took at
# levels 0..L: their std, and whether its sign changed, for connections in the overlap
# (orange) and the others (blue). Histograms per measure (x: the std, log scale), then the %
# of connections whose sign flipped for every measure.

# %%
stability = result.stability
summary = l23.analysis.stability_summary(stability, by=("measure",))
display(l23.tables.stability(summary))
fig = l23.figures.l23_stability(stability, level)

# %% [markdown]
# **Figure 3.** The first layer's ticket connections: value at the rewind point (x) vs at the
# end of the section-5 level (y), in the overlap (orange) or not (blue); the grey diagonal is
# no movement. One panel per measure.

# %%
fig = l23.figures.l23_movement(result.movement, level)

# %% [markdown]
# **Partial re-initialisation.** Keep the initial values of the overlap's connections, draw
# every other prunable weight afresh from the same Kaiming normal, and run the same
# procedure with the same data order to the same level. Observed: how many of the overlap's
# connections the new ticket keeps; expected: as many as a ticket of that density per layer
# would keep by chance.

# %%
reinit = result.reinit
if reinit.empty:
    display(Markdown("The partial re-initialisation is not run at this scale "
                     "(no `overlap.reinit_seeds`)."))
else:
    display(l23.tables.reinit(l23.analysis.reinit_summary(reinit)))
    fig = l23.figures.l23_reinit(reinit)

# %% [markdown]
# ## What this run shows
#
# L23's claims about its tickets, checked on these runs (section 5 and Appendix C):

# %%
l23_claims = l23.claims.claims(result)
display(Markdown(l23.claims.describe_claims(l23_claims, scale)))
tables.legend_of(l23.claims.claim_words(l23_claims, scale))

# %% [markdown]
# ## Overlap explorer
#
# Pick two measures and a level: the first layer under each measure and where both keep it
# (for a layer on 28 x 28 images, the fraction of units that keep each input pixel), and per
# layer how much of the first measure's ticket the second keeps too, next to chance. Every
# state is rendered in advance, so the controls work in the static page.

# %%
l23.figures.overlap_explorer(result)
