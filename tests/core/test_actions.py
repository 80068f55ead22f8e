"""Mask-1 and mask-0 actions on hand-built tensors, with expectations worked out by hand."""

import pytest
import torch

from lt_core import actions


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


W0 = torch.tensor([[0.3, -0.1], [-0.4, 0.2]])
MASK = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # -0.1 is pruned


def test_rewind_returns_the_starting_weights():
    assert torch.equal(actions.mask1_action("rewind", W0, MASK, gen()), W0)


def test_reinit_permutes_the_layer_over_all_positions():
    out = actions.mask1_action("reinit", W0, MASK, gen())
    assert sorted(out.flatten().tolist()) == sorted(W0.flatten().tolist())
    signed = actions.mask1_action("reinit_init_sign", W0, MASK, gen())
    assert torch.equal(torch.sign(signed), torch.sign(W0))  # init sign kept
    assert torch.equal(signed.abs(), out.abs())  # same draw, magnitudes from the permutation


def test_reshuffle_permutes_among_kept_positions_only():
    for seed in range(10):
        out = actions.mask1_action("reshuffle", W0, MASK, gen(seed))
        assert out[0, 1] == W0[0, 1]  # the pruned position is untouched
        kept = out[MASK.bool()].tolist()
        assert sorted(kept) == pytest.approx([-0.4, 0.2, 0.3])
        signed = actions.mask1_action("reshuffle_init_sign", W0, MASK, gen(seed))
        assert torch.equal(torch.sign(signed), torch.sign(W0))
        assert sorted(signed[MASK.bool()].abs().tolist()) == pytest.approx([0.2, 0.3, 0.4])


def test_constant_is_the_population_std_of_the_whole_layer():
    sigma = torch.tensor([0.3, -0.1, -0.4, 0.2]).std(unbiased=False)  # pruned entry included
    out = actions.mask1_action("constant_init_sign", W0, MASK, gen())
    assert torch.allclose(out, sigma * torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    shuffled = actions.mask1_action("constant", W0, MASK, gen())
    assert torch.allclose(shuffled.abs(), torch.full((2, 2), float(sigma)))
    assert int((shuffled > 0).sum()) == 2  # the same signs, permuted


# Mask-0: w_s = start, w_e = end of training, mask = the new mask.
W_S = torch.tensor([0.5, -0.5, 0.2, 0.3, -0.7, 0.0])
W_E = torch.tensor([0.1, -0.9, -0.1, 0.3, -0.6, 0.4])
# toward zero (|w_e| < |w_s|): 0.5->0.1 yes, -0.5->-0.9 no, 0.2->-0.1 yes (sign flip),
# 0.3->0.3 no (equal: strict), -0.7->-0.6 yes, 0->0.4 no.
NEW = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 1.0])  # the first four are pruned


def test_freeze_at_zero_and_at_init():
    frozen, zero_kept = actions.mask0_action("zero", W_S, W_E, NEW, gen())
    assert frozen.tolist() == [0, 0, 0, 0, 0, 0] and not zero_kept.any()
    frozen, _ = actions.mask0_action("init", W_S, W_E, NEW, gen())
    assert frozen.tolist() == pytest.approx([0.5, -0.5, 0.2, 0.3, 0, 0])


def test_init_or_zero_zeroes_the_pruned_weights_that_moved_toward_zero():
    frozen, zero_kept = actions.mask0_action("init_or_zero", W_S, W_E, NEW, gen())
    assert frozen.tolist() == pytest.approx([0, -0.5, 0, 0.3, 0, 0])
    assert not zero_kept.any()
    frozen_all, zero_kept = actions.mask0_action("init_or_zero_all", W_S, W_E, NEW, gen())
    assert torch.equal(frozen_all, frozen)
    assert zero_kept.tolist() == [False, False, False, False, True, False]  # -0.7 -> -0.6


def test_reversed_control_zeroes_those_that_moved_away():
    frozen, _ = actions.mask0_action("init_or_zero_reversed", W_S, W_E, NEW, gen())
    assert frozen.tolist() == pytest.approx([0.5, 0, 0.2, 0.3, 0, 0])  # only -0.5 -> -0.9


def test_random_zeros_control_has_the_same_count_on_random_pruned_positions():
    seen = set()
    for seed in range(30):
        frozen, _ = actions.mask0_action("random_zeros", W_S, W_E, NEW, gen(seed))
        zeros = tuple(i for i in range(4) if frozen[i] == 0)
        assert len(zeros) == 2  # two pruned weights moved toward zero
        assert frozen[4:].tolist() == [0, 0]  # kept entries carry no frozen value
        seen.add(zeros)
    assert len(seen) > 3  # positions vary with the seed


def test_previously_frozen_entries_keep_their_value():
    # An entry frozen earlier has w_e == w_s: it never counts as moving toward zero.
    w = torch.tensor([0.4, -0.2])
    frozen, _ = actions.mask0_action("init_or_zero", w, w.clone(), torch.zeros(2), gen())
    assert torch.equal(frozen, w)


def test_unknown_action_names_the_choices():
    with pytest.raises(ValueError, match="choose one of rewind, reinit"):
        actions.mask1_action("rewnd", W0, MASK, gen())
    with pytest.raises(ValueError, match="choose one of zero, init"):
        actions.mask0_action("zeros", W_S, W_E, NEW, gen())
