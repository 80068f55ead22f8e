"""The papers' networks as plain nn.Modules, their initialisers and prunable sets.

* Z19 (paper_specs.md 0.2): ``fc`` (LeNet-300-100) and ``conv2/4/6``, Glorot
  truncated-normal kernels, zero biases.
* L23 and H21 (paper_specs.md 6.1, OpenLTH layouts): ``lenet_300_100``, ``resnet20`` (a width
  multiplier as OpenLTH's ``cifar_resnet_20_W``), ``vgg16`` and ``resnet18`` (ImageNet layout),
  with OpenLTH's initialisation: Kaiming-normal (fan_in) conv/linear weights, BatchNorm
  gamma ~ U(0, 1) and beta = 0, biases at PyTorch's default.

Every model declares ``prune_rates``: prunable tensor name -> fraction of that layer's
*remaining* weights a layerwise rule removes per level (Z19: 0.2 hidden FC, 0.1 output,
0.1/0.15 conv; the other networks: 0.2). The prunable set is every conv and linear weight,
the first conv, the shortcut convs and the output layer included; biases and BatchNorm never.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# TF 1.x glorot_normal samples a normal truncated at two std and rescales the std so that the
# truncated distribution has the Glorot std: sigma' = sigma / 0.87962566.
_TRUNC_CORRECTION = 0.87962566103423978

MODELS = ("fc", "conv2", "conv4", "conv6", "lenet_300_100", "resnet20", "vgg16", "resnet18")
# Each registered network's own dataset (its paper's): what every experiment trains it on
# unless data.dataset says otherwise. A user's network has none: data.dataset names it.
NATIVE_DATASET = {"fc": "mnist", "conv2": "cifar10", "conv4": "cifar10", "conv6": "cifar10",
                  "lenet_300_100": "mnist", "resnet20": "cifar10", "vgg16": "cifar10",
                  "resnet18": "tiny_imagenet"}
WIDTH_MODELS = ("resnet20", "vgg16", "resnet18")  # the networks with a width option


class FC(nn.Module):
    """Z19's LeNet-300-100: flatten -> 300 ReLU -> 100 ReLU -> logits (Glorot init)."""

    init_scheme = "glorot"
    output_layer = "out.weight"

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

    init_scheme = "glorot"
    output_layer = "out.weight"

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
        x = _ChannelsLastGradient.keep(self.features(x)).flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.out(x)


class _ChannelsLastGradient(torch.autograd.Function):
    """The identity, whose gradient is laid out channels_last.

    flatten hands back an NCHW gradient; given one, the CPU max-pool backward over a
    channels_last activation (the engine's CPU conv path) runs its NCHW kernel and copies the
    whole input gradient out and back (a tenth of a Conv2 step). The numbers are the same:
    2x2 windows with stride 2 do not overlap, so no gradient element sums two terms.
    """

    generate_vmap_rule = True

    @staticmethod
    def keep(x: torch.Tensor) -> torch.Tensor:
        channels_last = x.dim() == 4 and x.size(1) > 1 and x.stride(1) == 1
        return _ChannelsLastGradient.apply(x) if channels_last else x

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        pass

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


class _OpenLTH(nn.Module):
    """The L23/H21 networks: OpenLTH's init, every conv and linear weight prunable."""

    init_scheme = "kaiming"
    output_layer = "fc.weight"

    def _set_prunable(self) -> None:
        self.prune_rates = {f"{name}.weight": 0.2 for name, m in self.named_modules()
                            if isinstance(m, nn.Conv2d | nn.Linear)}


class LeNet300100(_OpenLTH):
    """L23's LeNet-300-100 (OpenLTH ``mnist_lenet_300_100``): 784-300-100-10, Kaiming init."""

    def __init__(self, input_shape: tuple[int, ...] = (1, 28, 28), num_classes: int = 10):
        super().__init__()
        self.fc_layers = nn.ModuleList([nn.Linear(math.prod(input_shape), 300), nn.Linear(300, 100)])
        self.fc = nn.Linear(100, num_classes)
        self._set_prunable()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        for layer in self.fc_layers:
            x = F.relu(layer(x))
        return self.fc(x)


class _BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the shortcut (1x1 strided conv + BN when the shape
    changes), then ReLU. Shared by ResNet-20 (CIFAR) and ResNet-18 (ImageNet layout)."""

    def __init__(self, f_in: int, f_out: int, stride: int, shortcut_name: str = "shortcut"):
        super().__init__()
        self.conv1 = nn.Conv2d(f_in, f_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(f_out)
        self.conv2 = nn.Conv2d(f_out, f_out, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(f_out)
        self.shortcut_name = shortcut_name
        shortcut = nn.Sequential()
        if stride != 1 or f_in != f_out:
            shortcut = nn.Sequential(nn.Conv2d(f_in, f_out, 1, stride=stride, bias=False),
                                     nn.BatchNorm2d(f_out))
        setattr(self, shortcut_name, shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = getattr(self, self.shortcut_name)
        if len(shortcut) and x.device.type == "cpu":
            # torch 2.13's CPU weight gradient of a strided 1x1 conv over a channels_last input
            # (the engine's CPU conv layout) crashes or hangs at random; NCHW is safe.
            x = x.contiguous()
        return F.relu(out + shortcut(x))


class ResNet20(_OpenLTH):
    """OpenLTH ``cifar_resnet_20_W``: conv3x3(W)-BN-ReLU, 3 stages x 3 basic blocks of widths
    W/2W/4W (the first block of stages 2 and 3 strides by 2), global average pool, FC."""

    def __init__(self, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10,
                 width: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(input_shape[0], width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, f_in = [], width
        for stage, f_out in enumerate((width, 2 * width, 4 * width)):
            for b in range(3):
                blocks.append(_BasicBlock(f_in, f_out, stride=2 if stage > 0 and b == 0 else 1))
                f_in = f_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(f_in, num_classes)
        self._set_prunable()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(out.mean((2, 3)))


_VGG16_PLAN = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)


class VGG16(_OpenLTH):
    """OpenLTH ``cifar_vgg_16``: 13 conv3x3 (with bias) + BN + ReLU in the standard plan with
    max-pools, then AvgPool2 (the global mean at 32x32) and FC 512-10. ``width`` (64) is the
    first layer's; the plan scales with it (narrow copies for tests)."""

    def __init__(self, input_shape: tuple[int, ...] = (3, 32, 32), num_classes: int = 10,
                 width: int = 64):
        super().__init__()
        layers, f_in = [], input_shape[0]
        for spec in _VGG16_PLAN:
            if spec == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                f_out = spec * width // 64
                layers += [nn.Conv2d(f_in, f_out, 3, padding=1), nn.BatchNorm2d(f_out), nn.ReLU()]
                f_in = f_out
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(f_in, num_classes)
        self._set_prunable()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # OpenLTH's AvgPool2d(2) on the 2x2 maps of 32x32 inputs, written as the global mean
        # so that smaller inputs (tests) work too.
        return self.fc(self.layers(x).mean((2, 3)))


class ResNet18(_OpenLTH):
    """OpenLTH ``imagenet_resnet_18`` (torchvision layout): conv7x7/2-BN-ReLU, max-pool 3x3/2,
    4 stages x 2 basic blocks of widths 64-512 (1x1 strided downsample convs), global
    average pool, FC to the dataset's classes."""

    def __init__(self, input_shape: tuple[int, ...] = (3, 64, 64), num_classes: int = 200,
                 width: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(input_shape[0], width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        f_in = width
        for i, f_out in enumerate((width, 2 * width, 4 * width, 8 * width)):
            stride = 1 if i == 0 else 2
            stage = [_BasicBlock(f_in, f_out, stride, "downsample"),
                     _BasicBlock(f_out, f_out, 1, "downsample")]
            setattr(self, f"layer{i + 1}", nn.Sequential(*stage))
            f_in = f_out
        self.fc = nn.Linear(f_in, num_classes)
        self._set_prunable()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, stride=2, padding=1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


def is_user_module(name: str) -> bool:
    """``package.module:ClassName``: a user's network given by import path."""
    module, _, cls = name.partition(":")
    return bool(module and cls) and all(p.isidentifier() for p in (*module.split("."), cls))


def name_problem(name: str, dataset: str | None, width: int | None = None) -> str | None:
    """Why ``name`` (trained on ``dataset``, None: its own) cannot be built, or None: a
    registered network or ``package.module:ClassName`` (imported only when built)."""
    if name not in MODELS and not is_user_module(name):
        return (f"unknown network {name!r}; choose from {', '.join(MODELS)} or give "
                "package.module:ClassName")
    if name not in NATIVE_DATASET and dataset is None:
        return f"{name} has no dataset of its own: set data.dataset"
    if width is not None and name not in WIDTH_MODELS:
        return f"{name} has no width option ({', '.join(WIDTH_MODELS)})"
    return None


def user_module(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A user's ``nn.Module`` class by import path, built as ``Class(input_shape,
    num_classes)`` (or ``Class()`` if it takes no arguments). Unless the class declares its
    own ``prune_rates`` (and ``output_layer``), every conv and linear weight is prunable at
    0.2 per level and the last linear layer is the output layer; parameters start from the
    module's own initialisation (``reset_parameters``) under the run's seed."""
    import importlib
    import inspect

    module_name, _, cls_name = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), cls_name)
    except (ImportError, AttributeError, SyntaxError) as err:
        raise ValueError(f"model {name!r}: cannot import it ({err}); the module must be on "
                         "the Python path (e.g. PYTHONPATH=.)") from None
    if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
        raise ValueError(f"model {name!r} is not an nn.Module class")
    takes = len(inspect.signature(cls).parameters)
    model = cls(input_shape, num_classes) if takes >= 2 else cls()
    layers = {f"{n}.weight" if n else "weight": m for n, m in model.named_modules()
              if isinstance(m, nn.Conv2d | nn.Linear)}
    if not layers:
        raise ValueError(f"model {name!r} has no conv or linear layer to prune")
    if not hasattr(model, "prune_rates"):
        model.prune_rates = dict.fromkeys(layers, 0.2)
    if not hasattr(model, "output_layer"):
        linear = [n for n, m in layers.items() if isinstance(m, nn.Linear)]
        model.output_layer = linear[-1] if linear else None
    model.init_scheme = "module"
    return model


def build(name: str, input_shape: tuple[int, ...], num_classes: int = 10,
          width: int | None = None) -> nn.Module:
    """The network ``name`` for inputs of ``input_shape``; ``width`` sets the first layer's
    width of ResNet-20 (16), VGG-16 (64) and ResNet-18 (64), the rest scaling with it. A name
    ``package.module:ClassName`` is a user's network (``user_module``)."""
    if is_user_module(name) and width is None:
        return user_module(name, input_shape, num_classes)
    if width is not None and name not in WIDTH_MODELS:
        raise ValueError(f"model {name!r} has no width option ({', '.join(WIDTH_MODELS)})")
    if name == "fc":
        return FC(input_shape, num_classes)
    if name in _CONV_PLANS:
        return ConvNet(name, input_shape, num_classes)
    if name == "lenet_300_100":
        return LeNet300100(input_shape, num_classes)
    if name == "resnet20":
        return ResNet20(input_shape, num_classes, width or 16)
    if name == "vgg16":
        return VGG16(input_shape, num_classes, width or 64)
    if name == "resnet18":
        return ResNet18(input_shape, num_classes, width or 64)
    raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")


def prunable(model: nn.Module, ignore_output_layer: bool = False) -> dict[str, float]:
    """The prunable tensors and their layerwise rates; optionally without the output layer
    (OpenLTH's default for LeNet and VGG; off here, paper_specs.md 6.2)."""
    return {n: q for n, q in model.prune_rates.items()
            if not (ignore_output_layer and n == model.output_layer)}


def glorot_std(weight: torch.Tensor) -> float:
    receptive = weight[0, 0].numel() if weight.dim() > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    return math.sqrt(2.0 / (fan_in + fan_out))


def initial_state(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """The seed's initial parameters and buffers, drawn from a generator of their own, so the
    same seed gives the same network whatever else consumed random numbers before.

    Z19 networks: Glorot truncated-normal kernels, zero biases. The others (OpenLTH):
    Kaiming-normal fan_in kernels, BatchNorm gamma ~ U(0, 1) and beta = 0, every other bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as PyTorch's default, running statistics at their
    defaults (mean 0, variance 1).
    """
    if model.init_scheme == "module":  # a user's network: its own initialisers, seeded
        return _module_initial_state(model, seed)
    g = torch.Generator().manual_seed(seed)
    state = {}
    for module_name, module in model.named_modules():
        for attr, p in list(module.named_parameters(recurse=False)):
            t = torch.zeros(p.shape)
            if model.init_scheme == "glorot":
                if attr == "weight":
                    std = glorot_std(t) / _TRUNC_CORRECTION
                    nn.init.trunc_normal_(t, std=std, a=-2 * std, b=2 * std, generator=g)
            elif isinstance(module, nn.BatchNorm2d):
                if attr == "weight":
                    t.uniform_(0.0, 1.0, generator=g)
            elif attr == "weight":
                nn.init.kaiming_normal_(t, generator=g)
            else:  # bias of a conv or linear layer: PyTorch's default
                bound = 1.0 / math.sqrt(module.weight[0].numel())
                t.uniform_(-bound, bound, generator=g)
            state[_join(module_name, attr)] = t
        for attr, b in module.named_buffers(recurse=False):
            state[_join(module_name, attr)] = b.detach().clone().to("cpu")
    return state


def _module_initial_state(model: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Every submodule's ``reset_parameters`` under the seed (PyTorch's defaults for its
    layers), on a copy, so the same seed gives the same network."""
    import copy

    fresh = copy.deepcopy(model).cpu()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for m in fresh.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return {k: v.detach().clone() for k, v in fresh.state_dict().items()}


def _join(module: str, attr: str) -> str:
    return f"{module}.{attr}" if module else attr


def count_prunable(model: nn.Module) -> int:
    params = dict(model.named_parameters())
    return sum(params[n].numel() for n in model.prune_rates)
