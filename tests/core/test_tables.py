"""Tables as the book shows them: every cell whole, both sides named, statuses coloured."""

import pandas as pd

from lt_core import tables
from lt_core.papers import l23, z19


def test_status_by_first_words():
    assert tables.status("does not hold at quick scale") == "does not hold"
    assert tables.status("not reproduced") == "not reproduced"
    assert tables.status("reproduced") == "reproduced"
    assert tables.status("not judged: runs failed") == "not judged"
    assert tables.status("not run at this scale (tiny)") == "not run"
    assert tables.status("maybe") is None
    legend = tables.legend(["holds", "not judged: x", "holds"])
    assert legend.count("<li>") == 2


def test_no_cell_is_cut_short():
    long = "x" * 120 + " with words after it"
    html = tables.show(pd.DataFrame({"claim": [long], "verdict": ["holds"]}),
                       verdicts=("verdict",)).to_html()
    assert long in html and "…" not in html and "overflow-wrap: normal" in html


def test_claims_table_shows_the_words_and_statistic_of_each_row():
    frame = pd.DataFrame({"id": ["01.1", "01.2"], "claim": ["large_final > random", "a > b"],
                          "network": ["fc", "fc"], "source": ["Z19", "Z19"],
                          "verdict": ["holds at quick scale", "not judged: runs failed: fc a"],
                          "this build": ["large_final 93.98%, random 92.80%", ""],
                          "statistic": ["paired t, p = 0.01", ""]})
    html = z19.tables.claims(frame)._repr_html_()
    assert "holds at quick scale" in html and "not judged: runs failed: fc a" in html
    assert "paired t, p = 0.01" in html and ">failed<" not in html
    assert html.count("<li>") == 2  # the legend: holds, not judged


def test_table2_verdicts_come_from_the_layerwise_rule():
    row = {"model": "lenet_300_100", "level": 24, "sparsity_pct": 99.5, "measure": "magnitude",
           "mean": 96.37, "std": 0.1, "n": 2, "paper_mean": 90.62, "paper_std": 0.5,
           "diff": 5.75, "tolerance": 1.0, "within": False, "chance_pct": 10.0,
           "comparable": True, "failed": [], "collapsed": []}
    frame = pd.DataFrame([row, {**row, "comparable": False}, {**row, "collapsed": ["fc"]}])
    html = l23.tables.table2(frame, "quick")._repr_html_()
    assert ">not reproduced<" in html and "not comparable at quick scale" in html
    assert "not judged: layer collapse" in html
