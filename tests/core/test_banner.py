"""The banner under every chapter's title, from plain facts and from departures."""

import pandas as pd

from lt_core import banner
from lt_core.departures import Departure


def test_line_from_plain_facts():
    facts = banner.Facts("quick", "cpu", ("5,000 MNIST digits",), 2, ("stand-in network",))
    assert banner.line(facts) == ("Quick scale · CPU · 5,000 MNIST digits · 2 seeds · not "
                                  "comparable with the paper: stand-in network")
    assert 'class="lt-banner"' in banner.html(facts)
    gpu = banner.Facts("paper", "cuda:0", ("full CIFAR-10",), 1, (), "NVIDIA H200")
    assert banner.line(gpu) == ("Paper scale · GPU (NVIDIA H200) · full CIFAR-10 · 1 seed · "
                                "comparable with the paper: its settings, seeds and data")
    fewer = banner.Facts("paper", "cuda", ("full MNIST",), 2, ("fewer seeds",))
    assert fewer.comparable and banner.line(fewer).endswith("its settings, fewer seeds")


def test_reasons_are_a_few_words_the_settings_first():
    deps = [Departure("number of seeds", 3, 5, effect="sample"),
            Departure("data", "mnist-embedded-5k", "mnist", "fc"),
            Departure("train.iterations", 800, 50_000, "fc"),
            Departure("train.eval_every", 200, 100, "fc")]
    assert banner.reasons(deps) == ("data subset", "shorter training", "other training settings",
                                    "fewer seeds")
    # H21 on a stand-in network, L23 on fewer measures and levels
    h21 = [Departure("model", "lenet_300_100", "resnet20"),
           Departure("data.augment", "none", "crop_flip"),
           Departure("studies[warmup]", "not run", "run", effect="sample"),
           Departure("levels", 2, 24, "lenet_300_100", effect="sample"),
           Departure("measures", ("l1", "l2"), ("l1", "l2", "minmax"), effect="sample"),
           Departure("train length", "30 iterations", "40 epochs", "lenet_300_100")]
    assert banner.reasons(h21) == ("stand-in network", "no augmentation", "fewer pruning levels",
                                   "shorter training", "fewer studies", "fewer measures")


def test_data_and_device_labels():
    assert banner.data_label("mnist-embedded-5k", {"train": 3500, "val": 500, "test": 1000}) \
        == "5,000 MNIST digits"
    assert banner.data_label("mnist-embedded-5k") == "5,000 MNIST digits"
    assert banner.data_label("cifar10+imagenet", {"train": 50_000, "test": 10_000}) \
        == "CIFAR-10 (50,000 training images)"
    assert banner.data_label("cifar10-smoke+noval", {"train": 40, "test": 20}) \
        == "synthetic data in CIFAR-10's layout (40 training images)"
    assert banner.device_label("cpu", "x86_64") == "cpu"
    assert banner.device_label("cuda:0", "NVIDIA H200") == "cuda (NVIDIA H200)"


def test_summary_of_every_chapter():
    info = pd.DataFrame({"notebook": ["01_mask_criteria", "05_decoupling"],
                         "paper settings": ["no", "no"], "data": ["mnist-embedded-5k"] * 2,
                         "seeds": [3, 2], "device": ["cpu", "cpu"]})
    line = str(banner.summary(info, "quick"))
    assert line.startswith("Quick scale · CPU · 5,000 MNIST digits · 2-3 seeds · not comparable")
    smoke = info.assign(data=["cifar10-smoke, mnist-smoke", "tiny-imagenet-smoke+x"], seeds=1)
    assert str(banner.summary(smoke, "smoke")).startswith(
        "Smoke scale · CPU · synthetic data in the CIFAR-10, MNIST, Tiny ImageNet layouts · 1 seed")
