"""The papers' protocols on any registered network and on a user's nn.Module given by import
path (``package.module:ClassName``): Z19's iterative pruning, H21's find/eval design and L23's
measures."""

import pytest
import torch
from conftest import cli_run

from lt_core import experiments, models
from lt_core.config import ConfigError

USER_NET = '''
from torch import nn


class SmallNet(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], 4, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.head = nn.Linear(4 * 16, num_classes)

    def forward(self, x):
        return self.head(self.pool(self.conv(x).relu()).flatten(1))
'''
TINY = {"experiment": "z19_iterative", "data": {"dataset": "mnist"},
        "train": {"optimizer": "sgd", "lr": 0.05, "iterations": 6, "eval_every": 3,
                  "batch_size": 16, "divergence": "non_finite"},
        "pruning": {"levels": 1, "arms": [
            {"criterion": "large_final"},
            {"criterion": "softmax", "selection": "global", "fraction": 0.2,
             "count": "threshold"}]},  # an L23 measure, pooled as L23 pools it
        "seeds": [0]}


@pytest.fixture
def user_net(user_code):
    return user_code("mynets", USER_NET)


def test_a_users_module_prunes_every_conv_and_linear_weight_from_its_own_init(user_net):
    net = models.build("mynets:SmallNet", (1, 28, 28), 10)
    assert net.prune_rates == {"conv.weight": 0.2, "head.weight": 0.2}
    assert models.prunable(net, ignore_output_layer=True) == {"conv.weight": 0.2}
    a, b = models.initial_state(net, 0), models.initial_state(net, 0)
    c = models.initial_state(net, 1)
    assert set(a) == set(net.state_dict())
    assert all(torch.equal(a[k], b[k]) for k in a)  # a seed is one network
    assert not torch.equal(a["conv.weight"], c["conv.weight"])
    bound = 1 / 9 ** 0.5  # nn.Conv2d.s default init: |w| <= 1/sqrt(fan_in), fan_in 9
    assert a["conv.weight"].abs().max() <= bound


def test_the_protocol_needs_what_z19_cannot_supply():
    with pytest.raises(ConfigError, match="unknown network 'resnet50'"):
        experiments.config({**TINY, "models": ["resnet50"]})
    with pytest.raises(ConfigError, match="resnet20 has no Z19 settings; set train.lr"):
        experiments.config({**TINY, "models": ["resnet20"], "train": {"iterations": 6}})
    with pytest.raises(ConfigError, match="mynets:SmallNet has no dataset of its own: set data.dataset"):
        experiments.config({**TINY, "models": ["mynets:SmallNet"], "data": {}})


def test_a_lottery_ticket_on_resnet20_and_on_a_users_module_from_the_cli(user_net):
    run = cli_run({**TINY, "models": ["resnet20", "mynets:SmallNet"]}, user_net)
    assert "network resnet20 instead of a Z19 network" in run.stdout
    rows = [line.split() for line in run.stdout.splitlines()]
    for net in ("resnet20", "mynets:SmallNet"):  # both levels of both networks ran, each arm
        assert sum(r[-2:] == [net, "large_final"] for r in rows) == 2, net
        assert sum(len(r) > 2 and r[-3] == net and r[-2].startswith("softmax")
                   for r in rows) == 2, net


def test_h21_find_and_eval_on_a_users_module_from_the_cli(user_net):
    run = cli_run({"experiment": "h21_decoupling", "model": "mynets:SmallNet",
                   "data": {"dataset": "mnist", "augment": "none"},
                   "train": {**TINY["train"], "last_batch": "keep"}, "levels": 1,
                   "lpr_levels": [1], "seeds": [0, 1],
                   "studies": [{"name": "lr", "vary": "lr", "find": [0.05, 0.1],
                                "eval": [0.05]}]}, user_net)
    assert "A stand-in, not H21's network" in run.stdout  # it says what it cannot speak to
    assert "mynets:SmallNet" in run.stdout


def test_l23_measures_on_another_network_and_a_users_module_from_the_cli(user_net):
    run = cli_run({"experiment": "l23_layerwise", "models": ["fc", "mynets:SmallNet"],
                   "data": {"dataset": "mnist"}, "train": {"lr": 0.05, "iterations": 6,
                                                          "eval_every": 3, "batch_size": 16},
                   "levels": 1, "seeds": [0], "measures": ["l1", "minmax"],
                   "overlap": {"level": 1, "measures": ["l1", "minmax"], "reinit_seeds": []}},
                  user_net)
    for net in ("fc", "mynets:SmallNet"):  # each is said to be no L23 network, and ran
        assert f"network {net} instead of one of L23's networks" in run.stdout
    assert "== test accuracy (%)" in run.stdout
