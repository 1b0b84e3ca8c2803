# SPDX-License-Identifier: BSD-3-Clause
"""What machine a result came from: the records of A/B jobs, benchmarks and golden files.

Two views. :func:`float_identity` holds what float training results depend on
besides the code (the CPU model, torch, the CPU kernels torch picked): two
machines that agree on it write the same bytes. :func:`describe` adds what a
reader of a timing needs (cores, Python, the compiler of the C kernels that CPU
training uses by default, the GPU when one is used).
"""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch

from coolchic import native
from coolchic.encoder import resolve_device


@functools.cache
def cpu_model() -> str:
    """The CPU's model name as the kernel reports it, else what Python knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def float_identity() -> dict[str, str]:
    return {"cpu": cpu_model(), "torch": torch.__version__,
            "capability": torch.backends.cpu.get_cpu_capability()}


def describe(device: str = "cpu") -> dict[str, str | int]:
    """:func:`float_identity` plus the cores, Python and, where ``device`` (as the encoder
    resolves it: ``auto`` is CUDA when there is one) is a GPU, its name."""
    found = float_identity() | {"cores": os.cpu_count() or 0,
                                "python": platform.python_version(),
                                "c_kernels": native.identity()}
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        found["gpu"] = torch.cuda.get_device_name(resolved)
    return found
