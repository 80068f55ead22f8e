"""Every registered criterion's scores on hand-built tensors, checked by hand; and a
researcher's own criterion by import path through Z19's iterative experiment and as an L23
measure."""

import math

import pytest
import torch
from conftest import cli_run

from lt_core import criteria, experiments
from lt_core.config import ConfigError

W_I = torch.tensor([0.5, -0.2, 0.1, -0.4])
W_F = torch.tensor([0.6, 0.3, -0.05, -0.1])
MASK = torch.tensor([1.0, 1.0, 1.0, 0.0])  # the last entry is already pruned

# Kept |w_f| = 0.6, 0.3, 0.05 (the pruned entry: 0 in every L23 measure).
_SOFT = [1.0, math.exp(-0.3), math.exp(-0.55)]
EXPECTED = {
    "large_final": [0.6, 0.3, 0.05, 0.1],
    "small_final": [-0.6, -0.3, -0.05, -0.1],
    "large_init": [0.5, 0.2, 0.1, 0.4],
    "small_init": [-0.5, -0.2, -0.1, -0.4],
    # ranks among kept entries, the pruned one below all: |w_i| and |w_f| both rank 3, 2, 1, 0
    "large_init_large_final": [3.0, 2.0, 1.0, 0.0],
    # -|w_i| = -0.5, -0.2, -0.1 and -|w_f| = -0.6, -0.3, -0.05 both rank 1, 2, 3 (pruned: 0)
    "small_init_small_final": [1.0, 2.0, 3.0, 0.0],
    "magnitude_increase": [0.1, 0.1, -0.05, -0.3],
    "movement": [0.1, 0.5, 0.15, 0.3],
    "random": [0.0, 0.0, 0.0, 0.0],
    "large_final_same_sign": [0.6, 0.0, 0.0, 0.1],
    "large_final_diff_sign": [0.0, 0.3, 0.05, 0.0],
    "magnitude": [0.6, 0.3, 0.05, 0.0],
    "l1": [0.6 / 0.95, 0.3 / 0.95, 0.05 / 0.95, 0.0],
    "l2": [0.36 / 0.4525, 0.09 / 0.4525, 0.0025 / 0.4525, 0.0],
    "softmax": [s / sum(_SOFT) for s in _SOFT] + [0.0],
    "minmax": [1.0, 0.25 / 0.55, 0.0, 0.0],
    # ascending 0.05, 0.3, 0.6: a^2 over the sum of the squares from it up
    "lamp": [1.0, 0.09 / 0.45, 0.0025 / 0.4525, 0.0],
}


def test_every_registered_criterion_has_a_hand_checked_expectation():
    assert set(criteria.REGISTRY) == set(EXPECTED)
    assert len(criteria.names("Z19")) == 11 and len(criteria.names("L23")) == 6


@pytest.mark.parametrize("name", list(criteria.REGISTRY))
def test_scores_by_hand(name):
    got = criteria.score(name, W_I, W_F, MASK)
    assert got.shape == W_F.shape
    torch.testing.assert_close(got.double(), torch.tensor(EXPECTED[name], dtype=torch.float64),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", list(criteria.REGISTRY))
def test_what_a_criterion_declares_is_what_it_does(name):
    c = criteria.get(name)
    if c.all_tie:  # every entry ties
        assert criteria.score(name, W_I, W_F, MASK).unique().numel() == 1
    if c.elementwise:  # each entry's score from its own (w_i, w_f): a permutation commutes
        perm = torch.tensor([2, 0, 3, 1])
        torch.testing.assert_close(criteria.score(name, W_I[perm], W_F[perm], MASK),
                                   criteria.score(name, W_I, W_F, MASK)[perm])


def test_unknown_or_unimportable_criteria_name_the_field():
    base = {"experiment": "z19_iterative", "pruning": {"arms": [{"criterion": "large_finale"}]}}
    with pytest.raises(ConfigError, match=r"pruning.arms\[0\].criterion.*unknown criterion "
                                          "'large_finale'"):
        experiments.config(base)
    base["pruning"]["arms"][0]["criterion"] = "no_such_module:f"
    with pytest.raises(ConfigError, match="cannot be imported"):
        experiments.config(base)
    with pytest.raises(ConfigError, match=r"measures\[1\]"):
        experiments.config({"experiment": "l23_layerwise", "measures": ["l1", "l7"]})


USER_CRITERION = '''
import torch

from lt_core.criteria import needs_gradients

def moved_toward_sign(w_i, w_f, mask):
    """Keep the weights whose final value grew in the direction of their initial sign."""
    return torch.sign(w_i) * (w_f - w_i)

@needs_gradients
def saliency(w_i, w_f, mask, grad):
    """SNIP's connection sensitivity |w dL/dw|, at the end of the level's training."""
    return (w_f * grad).abs()
'''


@pytest.fixture
def user_module(user_code):
    return user_code("mycrit", USER_CRITERION)


@pytest.mark.parametrize("function, gradients", [("moved_toward_sign", False),
                                                 ("saliency", True)])
def test_a_users_criterion_by_import_path_in_z19_and_as_an_l23_measure(user_module, function,
                                                                       gradients):
    own = f"mycrit:{function}"
    assert criteria.get(own).source == own and not criteria.get(own).elementwise
    assert criteria.get(own).gradients is gradients
    z19 = cli_run({"experiment": "z19_iterative", "data": {"dataset": "mnist"},
                   "train": {"iterations": 6, "eval_every": 3, "batch_size": 16},
                   "pruning": {"levels": 1, "arms": [{"criterion": own}]}, "seeds": [0]},
                  user_module)
    assert sum(own in line for line in z19.stdout.splitlines()) >= 2  # both levels
    l23 = cli_run({"experiment": "l23_layerwise", "models": ["lenet_300_100"],
                   "train": {"iterations": 12, "eval_every": 6}, "levels": 1, "seeds": [0],
                   "measures": ["magnitude", own],
                   "overlap": {"level": 1, "measures": ["magnitude", own],
                               "reinit_seeds": []}}, user_module)
    assert own in l23.stdout


def test_the_gradients_a_criterion_gets_are_the_training_losss_on_one_batch():
    """A linear layer at zero weights outputs p = (1/2, 1/2) for every example, so the mean
    cross-entropy's gradient is row k: (1/B) sum_b (1/2 - [y_b = k]) x_b, here by hand."""
    from lt_core.data.dataset import Dataset
    from lt_core.loop import batch_gradients

    x = torch.tensor([[1.0, 2.0, 0.0, -1.0], [0.0, 1.0, 3.0, 1.0], [2.0, 0.0, 1.0, 1.0]])
    y = torch.tensor([0, 1, 0])
    data = Dataset("hand", "", {"train": (x.view(3, 1, 2, 2), y)}, num_classes=2)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2, bias=False))
    state = {"1.weight": torch.zeros(2, 4)}
    net.eval()
    got = batch_gradients(net, state, data, 3, ["1.weight"], torch.Generator().manual_seed(0),
                          torch.device("cpu"))
    # row 0: (1/3)(-1/2 x_0 + 1/2 x_1 - 1/2 x_2); row 1 is its negative
    row0 = torch.tensor([-1.5, -0.5, 1.0, 0.5]) / 3
    assert torch.allclose(got["1.weight"], torch.stack([row0, -row0]))
    assert not net.training  # called in training mode, left as it was


def test_gradients_leave_the_trained_state_as_it_was():
    """BatchNorm in training mode updates its running statistics: on a copy, not in the
    level's stored state (which the next level and the supermasks read)."""
    from lt_core.data.dataset import Dataset
    from lt_core.loop import batch_gradients

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3),
                              torch.nn.BatchNorm1d(3), torch.nn.Linear(3, 2))
    state = {n: t.clone() for n, t in net.state_dict().items()}
    before = {n: t.clone() for n, t in state.items()}
    data = Dataset("hand", "", {"train": (torch.randn(8, 1, 2, 2), torch.arange(8) % 2)},
                   num_classes=2)
    got = batch_gradients(net, state, data, 8, ["1.weight", "3.weight"],
                          torch.Generator().manual_seed(0), torch.device("cpu"))
    assert got["1.weight"].abs().sum() > 0
    for n in state:
        assert torch.equal(state[n], before[n]), n


def test_a_gradient_criterion_outside_the_loop_says_it_has_no_gradients(user_module):
    with pytest.raises(ValueError, match="scores with gradients, and none were computed"):
        criteria.score("mycrit:saliency", W_I, W_F, MASK)
