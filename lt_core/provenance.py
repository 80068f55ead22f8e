"""Where a result was computed: the code (version, git commit, uncommitted changes), the
libraries, the device and the date, recorded with every level (``environment``) and, per
run, in a pack (``lt_core.pack.provenance``)."""

from __future__ import annotations

import datetime
import functools
import platform
import subprocess
from pathlib import Path

import numpy as np
import torch


def _cpu_name() -> str:
    """The processor's model name (Linux: /proc/cpuinfo), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# The instruction sets that decide which kernels torch's CPU libraries run, and so the order
# of their float sums: two CPUs agree bit for bit only with the same family, model and these.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")


@functools.cache
def cpu_kind() -> str:
    """The kind of CPU that decides bit-identical results: its model name, family and model
    numbers and the instruction sets of ``ISA_FLAGS`` (Linux: /proc/cpuinfo; elsewhere the
    name and architecture, which cannot tell two generations apart)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
            if not line.strip():
                break  # the first processor's block
    except OSError:
        return f"{platform.processor()} {platform.machine()}".strip()
    isa = [f for f in ISA_FLAGS if f in fields.get("flags", "").split()]
    return (f"{fields.get('model name', '?')}, family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')}, {' '.join(isa) or 'no avx2'}")


@functools.cache
def git_state() -> dict:
    """The commit of the checkout lt_core runs from and whether its tracked files differ from
    it (``dirty``); empty for an installed wheel or without git. Read once per process."""
    here = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], text=True,
                                capture_output=True, timeout=10)
        if commit.returncode != 0:
            return {}
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                 "--untracked-files=no", "--", "lt_core", "params"],
                                text=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment(device: torch.device | str) -> dict:
    """What produced a result: library versions, the code's commit, the device and the date."""
    import lt_core

    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "lt_core": lt_core.__version__,
        **{f"git_{k}": v for k, v in git_state().items()},
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "device_name": name or platform.machine(),
        "cpu": _cpu_name() or platform.machine(),
        "cpu_kind": cpu_kind(),
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
