import math

import torch

from lt_core import criteria, masks


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_large_final_prunes_floor_q_of_remaining_smallest():
    w_f = torch.tensor([[0.5, -0.1, 0.3], [-0.9, 0.05, 0.2]])
    mask = torch.ones(2, 3)
    s = criteria.score("large_final", w_f * 0, w_f, mask)
    new = masks.select(s, mask, 0.5, gen())  # floor(0.5 * 6) = 3: |0.05|, |-0.1|, |0.2| go
    assert new.tolist() == [[1, 0, 1], [1, 0, 0]]
    new2 = masks.select(s, new, 0.5, gen())  # floor(0.5 * 3) = 1 more: |0.3|
    assert new2.tolist() == [[1, 0, 0], [1, 0, 0]]


def test_already_pruned_entries_are_never_reselected_or_recounted():
    w_f = torch.tensor([0.0, 0.01, 5.0, 4.0, 3.0])  # the pruned entries have the largest...
    mask = torch.tensor([1.0, 1.0, 0.0, 0.0, 1.0])  # ...and smallest scores; 3 remain
    new = masks.select(criteria.score("small_final", w_f, w_f, mask), mask, 0.5, gen())
    # small_final keeps small |w|: floor(0.5 * 3) = 1 pruned, the largest remaining (3.0).
    assert new.tolist() == [1, 1, 0, 0, 0]


def test_floor_counts_and_zero_when_too_few():
    mask = torch.ones(9)
    assert int(masks.select(torch.rand(9), mask, 0.2, gen()).sum()) == 9 - math.floor(1.8)
    assert int(masks.select(torch.rand(4), torch.ones(4), 0.2, gen()).sum()) == 4  # floor(0.8)=0


def test_random_ties_are_seeded_and_uniform():
    mask = torch.ones(1000)
    s = criteria.score("random", torch.ones(1000), torch.ones(1000), mask)
    a = masks.select(s, mask, 0.3, gen(1))
    b = masks.select(s, mask, 0.3, gen(1))
    c = masks.select(s, mask, 0.3, gen(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert int(a.sum()) == 700
    assert 0.6 < a[:500].mean().item() < 0.8  # no positional bias


def test_ties_within_equal_scores_broken_randomly():
    w_f = torch.tensor([1.0, 1.0, 1.0, 1.0, 2.0, 2.0])
    mask = torch.ones(6)
    s = criteria.score("large_final", w_f, w_f, mask)
    seen = set()
    for seed in range(20):
        new = masks.select(s, mask, 0.5, gen(seed))  # 3 of the four 1.0s go
        assert new[4:].tolist() == [1, 1] and int(new[:4].sum()) == 1
        seen.add(tuple(new.tolist()))
    assert len(seen) > 1


def test_scores_of_the_criteria_by_hand():
    w_i = torch.tensor([0.5, -0.2, 0.1, -0.4])
    w_f = torch.tensor([0.6, 0.3, -0.05, -0.1])
    m = torch.ones(4)
    def close(name, expected):
        return torch.allclose(criteria.score(name, w_i, w_f, m), torch.tensor(expected))

    assert close("magnitude_increase", [0.1, 0.1, -0.05, -0.3])
    assert close("movement", [0.1, 0.5, 0.15, 0.3])
    assert close("large_final_same_sign", [0.6, 0.0, 0.0, 0.1])
    assert close("large_final_diff_sign", [0.0, 0.3, 0.05, 0.0])
    assert close("small_init", [-0.5, -0.2, -0.1, -0.4])
    # rank form of min(alpha|w_i|, |w_f|): ranks |w_i| = [3,1,0,2], |w_f| = [3,2,0,1]
    assert close("large_init_large_final", [3.0, 1.0, 0.0, 1.0])


def test_next_masks_per_layer_rates_and_nesting():
    layers = {"a": torch.randn(100, 10), "b": torch.randn(10, 10)}
    rates = {"a": 0.2, "b": 0.1}
    m = {n: torch.ones_like(t) for n, t in layers.items()}
    counts = []
    for rnd in range(5):
        new = masks.next_masks("large_final", layers, layers, m, rates, gen(rnd))
        assert all(bool((new[n] <= m[n]).all()) for n in m)  # nested
        counts.append((int(new["a"].sum()), int(new["b"].sum())))
        m = new
    assert counts == [(800, 90), (640, 81), (512, 73), (410, 66), (328, 60)]


def test_density():
    assert masks.density({"a": torch.tensor([1.0, 0.0]), "b": torch.ones(2)}) == 0.75
