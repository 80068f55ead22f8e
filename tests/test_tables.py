"""Tables as the book shows them: every cell whole, both sides named, statuses coloured."""

import pandas as pd

from lt_core import tables


def test_status_by_first_words():
    assert tables.status("does not hold at quick scale") == "does not hold"
    assert tables.status("not reproduced") == "not reproduced"
    assert tables.status("reproduced") == "reproduced"
    assert tables.status("not judged: runs failed") == "not judged"
    assert tables.status("not run at this scale (tiny)") == "not run"
    assert tables.status("maybe") is None
    legend = tables.legend(["holds", "not judged: x", "holds"])
    assert legend.count("<li>") == 2


def test_both_sides_of_a_comparison_are_named():
    assert tables.labelled("large_final > random", "93.98, 92.80") == \
        "large_final 93.98% · random 92.80%"
    assert tables.labelled("a ~ b ~ c", "1.00, 2.00") == "1.00, 2.00"  # cannot pair: as is


def test_no_cell_is_cut_short():
    long = "x" * 120 + " with words after it"
    html = tables.show(pd.DataFrame({"claim": [long], "verdict": ["holds"]}),
                       verdicts=("verdict",)).to_html()
    assert long in html and "…" not in html and "overflow-wrap: normal" in html


def test_claims_table_has_words_and_no_failed_column():
    check = pd.DataFrame({"claim": ["large_final > random", "a > b"], "network": ["fc", "fc"],
                          "source": ["Z19", "Z19"], "this build": ["93.98, 92.80", ""],
                          "statistic": ["s", "s"], "holds": [True, None],
                          "failed": [[], ["fc a seed 0"]]}).set_index("claim")
    html = tables.claims(check, "quick")._repr_html_()
    assert "holds at quick scale" in html and "not judged: runs failed (fc a seed 0)" in html
    assert "final 93.98% · random 92.80%" in html and ">failed<" not in html
    assert "lt-legend" in html
