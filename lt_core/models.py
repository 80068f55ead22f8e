"""The Z19 networks (paper_specs.md 0.2) as plain nn.Modules, their initialiser and prunable set.

Every model declares ``prune_rates``: prunable tensor name -> fraction of that layer's
*remaining* weights removed per pruning round (0.2 hidden FC, 0.1 output, 0.1/0.15 conv).
Biases are never pruned.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# TF 1.x glorot_normal samples a normal truncated at two std and rescales the std so that the
# truncated distribution has the Glorot std: sigma' = sigma / 0.87962566.
_TRUNC_CORRECTION = 0.87962566103423978


class FC(nn.Module):
    """LeNet-300-100: flatten -> 300 ReLU -> 100 ReLU -> logits."""

    def __init__(self, input_shape: tuple[int, ...] = (1, 28, 28), num_classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(math.prod(input_shape), 300)
        self.fc2 = nn.Linear(300, 100)
        self.out = nn.Linear(100, num_classes)
        self.prune_rates = {"fc1.weight": 0.2, "fc2.weight": 0.2, "out.weight": 0.1}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)


_CONV_PLANS = {  # conv widths per block; every block is two 3x3 convs then a 2x2 max-pool
    "conv2": ((64,), 0.10),
    "conv4": ((64, 128), 0.10),
    "conv6": ((64, 128, 256), 0.15),
}


class ConvNet(nn.Module):
    """Conv2/Conv4/Conv6 of Z19: [conv3x3 ReLU] x2 + maxpool per block, then FC 256-256-10."""

    def __init__(self, name: str, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10):
        super().__init__()
        widths, conv_rate = _CONV_PLANS[name]
        layers: list[nn.Module] = []
        channels, size = input_shape[0], input_shape[1]
        for width in widths:
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
                channels = width
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(channels * size * size, 256)
        self.fc2 = nn.Linear(256, 256)
        self.out = nn.Linear(256, num_classes)
        self.prune_rates = {
            f"features.{i}.weight": conv_rate
            for i, m in enumerate(self.features)
            if isinstance(m, nn.Conv2d)
        }
        self.prune_rates.update({"fc1.weight": 0.2, "fc2.weight": 0.2, "out.weight": 0.1})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)


def build(name: str, input_shape: tuple[int, ...], num_classes: int = 10) -> nn.Module:
    if name == "fc":
        return FC(input_shape, num_classes)
    if name in _CONV_PLANS:
        return ConvNet(name, input_shape, num_classes)
    raise ValueError(f"unknown model {name!r}; choose fc, conv2, conv4 or conv6")


def glorot_std(weight: torch.Tensor) -> float:
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    return math.sqrt(2.0 / (fan_in + fan_out))


def initial_state(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The seed's initial parameters: Glorot truncated-normal kernels, zero biases (Z19).

    Drawn from a generator of its own, so the same seed gives the same network whatever else
    consumed random numbers before.
    """
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, p in model.named_parameters():
        t = torch.zeros(p.shape)
        if name.endswith("weight"):
            std = glorot_std(t) / _TRUNC_CORRECTION
            nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std, generator=g)
        state[name] = t
    return state


def count_prunable(model: nn.Module) -> int:
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in model.prune_rates)
