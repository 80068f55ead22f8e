import subprocess
import sys

import pytest
import torch

from lt_core import models


@pytest.mark.parametrize("name, shape, kernels, conv_kernels", [
    ("fc", (1, 28, 28), 266_200, 0),
    ("conv2", (3, 32, 32), 4_300_992, 38_592),
    ("conv4", (3, 32, 32), 2_425_024, 259_776),
    ("conv6", (3, 32, 32), 2_261_184, 1_144_512),
])
def test_kernel_counts_match_table_s1(name, shape, kernels, conv_kernels):
    m = models.build(name, shape)
    params = dict(m.named_parameters())
    assert models.count_prunable(m) == kernels
    assert sum(params[n].numel() for n in m.prune_rates if params[n].dim() == 4) == conv_kernels
    assert all(n.endswith("weight") for n in m.prune_rates)  # biases never pruned
    assert m(torch.zeros(2, *shape)).shape == (2, 10)


def test_prune_rates_follow_the_code():
    assert models.build("fc", (1, 28, 28)).prune_rates == {
        "fc1.weight": 0.2, "fc2.weight": 0.2, "out.weight": 0.1}
    for name, conv_rate in (("conv2", 0.1), ("conv4", 0.1), ("conv6", 0.15)):
        rates = models.build(name, (3, 32, 32)).prune_rates
        assert {r for n, r in rates.items() if n.startswith("features")} == {conv_rate}
        assert rates["out.weight"] == 0.1 and rates["fc1.weight"] == 0.2


def test_glorot_truncated_normal_init():
    m = models.build("fc", (1, 28, 28))
    state = models.initial_state(m, seed=0)
    w = state["fc1.weight"]
    sigma = (2 / (784 + 300)) ** 0.5
    assert abs(w.std().item() - sigma) / sigma < 0.01  # post-truncation std = Glorot std
    assert w.abs().max().item() <= 2 * sigma / 0.87962566 + 1e-7  # truncated at 2 sigma'
    assert all(float(state[n].abs().sum()) == 0 for n in state if n.endswith("bias"))
    again = models.initial_state(m, seed=0)
    assert all(torch.equal(state[n], again[n]) for n in state)
    assert not torch.equal(state["fc1.weight"], models.initial_state(m, seed=1)["fc1.weight"])
    conv = models.build("conv2", (3, 32, 32))
    k = models.initial_state(conv, 0)["features.2.weight"]  # 64 -> 64, 3x3: fans 576 + 576
    assert abs(k.std().item() - (2 / 1152) ** 0.5) < 0.01 * (2 / 1152) ** 0.5


@pytest.mark.parametrize("name", ["conv2", "conv6"])
def test_conv_nets_hand_max_pool_a_channels_last_gradient_with_the_same_numbers(name):
    """The engine feeds channels_last images to members in turn on a GPU; flatten's own
    gradient is NCHW, which sends max-pool's backward to its copying kernel. The net's gradient at the pool is
    channels_last, and every parameter's gradient equals plain flatten's, bit for bit."""
    torch.manual_seed(0)
    net = models.build(name, (3, 32, 32))
    x = torch.randn(8, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (8,))
    params = list(net.parameters())
    seen = []

    def plain(x):
        h = net.features(x).flatten(1)
        return net.out(torch.relu(net.fc2(torch.relu(net.fc1(h)))))

    def grads(forward):
        loss = torch.nn.functional.cross_entropy(forward(x), y)
        return torch.autograd.grad(loss, params)

    hook = net.features[-1].register_full_backward_hook(
        lambda m, grad_in, grad_out: seen.append(grad_out[0]))
    ours = grads(net)
    hook.remove()
    assert seen[0].is_contiguous(memory_format=torch.channels_last)
    assert not seen[0].is_contiguous()
    assert all(torch.equal(a, b) for a, b in zip(ours, grads(plain)))
    # NCHW images (the GPU's vmap path, a plain loop): left alone
    h = net.features(x.contiguous())
    assert models._ChannelsLastGradient.keep(h) is h


@pytest.mark.parametrize("model", ["resnet20", "resnet18"])
def test_a_strided_shortcut_trains_on_a_channels_last_batch_on_the_cpu(model):
    """torch 2.13's CPU weight gradient of a strided 1x1 conv over a channels_last input
    crashes or hangs (0 of 5 fresh processes survived three steps of ResNet-20 before the
    shortcut took NCHW): the engine's CPU conv layout must not reach it. A fresh process each
    time, one thread (where it crashes rather than hangs), a timeout for the hang."""
    shape = "(3, 32, 32)" if model == "resnet20" else "(3, 64, 64)"
    code = (f"import torch; from lt_core import models; torch.set_num_threads(1)\n"
            f"net = models.build({model!r}, {shape}, width=4)\n"
            f"x = torch.randn(8, *{shape}).contiguous(memory_format=torch.channels_last)\n"
            f"for _ in range(3): net(x).sum().backward()\n")
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()[-500:]
