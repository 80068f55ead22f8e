"""The line under every chapter's title: scale, device, data, seeds and whether the page is
comparable with the paper, computed from the run, never typed.

``line`` and ``html`` take plain facts (``Facts``); ``of`` reads them from any experiment's
result (``result.Result``): its device and the device name stored with its runs, its data,
its seeds and its ``departures()``, each departure reduced to a few words.

    Quick scale · CPU · 5,000 MNIST digits · 2 seeds · not comparable with the paper:
    stand-in network, data subset, shorter training
"""

from __future__ import annotations

import html as html_mod
import re
from dataclasses import dataclass, field

from .store import StoreError

# A CPU's stored "device name" when the processor has none: the machine's architecture.
ARCHITECTURES = {"", "x86_64", "amd64", "aarch64", "arm64", "i386", "i686"}
DATASETS = {"mnist": "MNIST", "cifar10": "CIFAR-10", "tiny-imagenet": "Tiny ImageNet",
            "tiny_imagenet": "Tiny ImageNet", "synthetic": "synthetic data"}
# Departures that only measure the same quantity on less (fewer seeds, lines, networks):
# the page stays comparable, with less statistical power.
SAMPLE = ("fewer seeds", "fewer lines", "fewer networks", "fewer measures", "fewer c values",
          "fewer criteria", "fewer studies")


@dataclass(frozen=True)
class Facts:
    scale: str  # tiny | quick | paper | ...
    device: str  # as torch names it: cpu, cuda, cuda:0
    data: tuple[str, ...]  # one short label per dataset (``data_label``)
    seeds: int | str  # a number, or a range such as "2-3 seeds"
    departures: tuple[str, ...] = field(default=())  # short reasons (``reasons``)
    device_name: str = ""  # e.g. NVIDIA H200; empty or an architecture for a CPU

    @property
    def comparable(self) -> bool:
        """Nothing departs but the amount of sampling (seeds, lines, networks)."""
        return all(d in SAMPLE for d in self.departures)


def device_label(device: str, name: str = "") -> str:
    """``cpu``, ``cpu (Intel Xeon ...)`` or ``cuda (NVIDIA H200)``: the device as torch names
    it, and its name where the run stored one (a CPU's architecture is not a name)."""
    base = "cuda" if device.startswith("cuda") else device or "cpu"
    return f"{base} ({name})" if name and name not in ARCHITECTURES else base


def data_label(name: str, sizes: dict[str, int] | None = None) -> str:
    """A dataset in a few words: ``5,000 MNIST digits`` (the embedded subset), ``MNIST
    (55,000 training images)``; from its name alone (``mnist-embedded-5k``, ``cifar10``)
    where the sizes are not at hand."""
    base = name.split("+")[0]
    if "embedded" in base:
        if sizes:
            return f"{sum(sizes.values()):,} MNIST digits"
        k = re.search(r"(\d+)k$", base)
        return f"{int(k.group(1)) * 1000:,} MNIST digits" if k else "embedded MNIST digits"
    family = _family(base)
    train = (sizes or {}).get("train")
    if _is_smoke(base):
        return f"synthetic data in {family}'s layout" + (
            f" ({train:,} training images)" if train else "")
    return f"{family} ({train:,} training images)" if train else f"full {family}"


def _is_smoke(base: str) -> bool:  # python -m lt_core data --smoke: prototypes plus noise
    return base.endswith("-smoke")


def _family(base: str) -> str:
    """``cifar10-smoke`` -> ``CIFAR-10``: the dataset a name's first part stands for."""
    base = base.removesuffix("-smoke")
    return DATASETS.get(base, DATASETS.get(base.split("-")[0], base))


def line(f: Facts) -> str:
    """The banner as one line of text."""
    device = "CPU" if not f.device.startswith("cuda") else (
        f"GPU ({f.device_name})" if f.device_name else "GPU")
    seeds = f.seeds if isinstance(f.seeds, str) else f"{f.seeds} seed{'s' * (f.seeds != 1)}"
    parts = [f"{f.scale.capitalize()} scale", device, *f.data, seeds]
    if not f.departures:
        parts.append("comparable with the paper: its settings, seeds and data")
    elif f.comparable:
        parts.append("comparable with the paper: its settings, " + ", ".join(f.departures))
    else:
        blocking = [d for d in f.departures if d not in SAMPLE]
        parts.append("not comparable with the paper: " + ", ".join(blocking))
    return " · ".join(parts)


def html(f: Facts) -> str:
    """The banner as the book shows it: one boxed line (class ``lt-banner``), green when the
    page is comparable with the paper, amber when it is not."""
    colour = "#1b7837" if f.comparable else "#b35806"
    return (f'<div class="lt-banner" style="border-left: 5px solid {colour}; padding: 0.45em '
            f'0.8em; background: #f6f6f6; font-size: 0.95em; margin: 0.2em 0 0.8em 0">'
            f"{html_mod.escape(line(f))}</div>")


class Banner:
    """Shows itself as HTML in a notebook and as the plain line elsewhere."""

    def __init__(self, facts: Facts):
        self.facts = facts

    def _repr_html_(self) -> str:
        return html(self.facts)

    def __str__(self) -> str:
        return line(self.facts)

    __repr__ = __str__


# ----------------------------------------------------------------------------------------------
# Facts from the experiments' results


def reasons(departures) -> tuple[str, ...]:
    """Each ``departures.Departure`` in a few words, deduplicated, the ones that change what is
    measured first."""
    out = [_reason_of_departure(d) for d in departures]
    ordered = sorted(dict.fromkeys(out), key=lambda r: (r in SAMPLE, out.index(r)))
    return tuple(ordered)


# A departure's field (``Departure.what``, the params files' words) -> its few words.
REASONS = {"number of seeds": "fewer seeds", "models": "fewer networks", "criteria":
           "fewer criteria", "measures": "fewer measures", "learned.init_values":
           "fewer c values", "learned.samples": "fewer mask samples", "network":
           "another network", "model": "stand-in network", "width": "stand-in network",
           "data.dataset": "other data", "levels": "fewer pruning levels", "pruning.levels":
           "fewer pruning levels", "max_power": "fewer pruning levels", "train length":
           "shorter training", "overlap": "section 5 on another network"}


def _reason_of_departure(d) -> str:
    what = d.what
    if what == "data":
        return "data subset" if "embedded" in str(d.this) else "other data"
    if what.startswith("pruning.arms"):
        return "fewer lines"
    if what.startswith("studies[") and d.this == "not run":
        return "fewer studies"
    if what.endswith("data.augment") and d.this == "none":
        return "no augmentation"
    if what.endswith((".iterations", ".epochs")):
        return "shorter training"
    return REASONS.get(what, "other training settings")


def of(result, scale: str) -> Banner:
    """The banner of one chapter's result (``result.Result``): the device and device name
    stored with its first run, its data, seeds and departures."""
    try:
        env = result.env()
    except (OSError, StoreError):
        env = {}
    data = tuple(dict.fromkeys(data_label(d.name, d.sizes) for d in result.data.values()))
    return Banner(Facts(scale, env.get("device", str(result.device)), data, result.seeds,
                        reasons(result.departures()), env.get("device_name", "")))


def summary(info, scale: str) -> Banner:
    """The banner of a page that reads every chapter (the entry page, the scorecard), from
    ``scorecard.build_info``'s rows: their devices and data, the range of their seeds, and
    comparable only if every chapter ran at the paper's settings."""
    devices = sorted(set(info["device"])) if len(info) else ["cpu"]
    gpu = [d for d in devices if d.startswith("cuda")]
    names = [n.strip() for ns in info["data"] for n in str(ns).split(",")]
    seeds = sorted(set(int(n) for n in info["seeds"])) or [0]
    seed_text = (f"{seeds[0]} seed{'s' * (seeds[0] != 1)}" if len(seeds) == 1
                 else f"{seeds[0]}-{seeds[-1]} seeds")
    off = [n for n, ok in zip(info["notebook"], info["paper settings"]) if ok != "yes"]
    reasons = (f"chapters {', '.join(n[:2] for n in off)} depart from the paper's settings",
               ) if off else ()
    name = gpu[0].split("(", 1)[1].rstrip(")") if gpu and "(" in gpu[0] else ""
    smoke = [n for n in names if _is_smoke(n.split("+")[0])]
    labels = list(dict.fromkeys(data_label(n) for n in names if n not in smoke))
    families = list(dict.fromkeys(_family(n.split("+")[0]) for n in smoke))
    if len(families) > 1:  # the smoke scale: one phrase for all its layouts
        labels.append(f"synthetic data in the {', '.join(families)} layouts")
    elif smoke:
        labels.append(data_label(smoke[0]))
    return Banner(Facts(scale, "cuda" if gpu else "cpu", tuple(labels), seed_text, reasons,
                        name))
