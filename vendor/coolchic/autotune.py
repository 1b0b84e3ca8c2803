# SPDX-License-Identifier: BSD-3-Clause
"""cuDNN's autotuner for the convolutions of a GPU encode.

With its default heuristics, cuDNN picks slow kernels for Cool-chic's
single-channel convolutions at full resolution: the upsampling's 7- and
8-tap separable filters, whose weight gradients are reductions over every
pixel. On an H200, hop.cfg on a 768x512 image, those weight gradients took
a third of the graphed iteration's device time; with the autotuner (cuDNN
times its candidate algorithms the first time it meets a shape, then keeps
the fastest) the iteration went from 9.7 to 6.2 ms
(``benchmarks/results/gpu-autotune-h200``). The timing costs a few seconds
once per process, and which algorithm wins can differ between runs, so float
rounding (never the maths) can too.

``torch.backends.cudnn.benchmark`` belongs to the whole process: it is on
while at least one encode on a CUDA device is inside :func:`tuned_convolutions`
and back to what it was when the last one leaves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from coolchic.switch import SharedSwitch

_before: list[bool] = []  # the process's setting when the first holder entered


def _tune() -> None:
    _before.append(torch.backends.cudnn.benchmark)
    torch.backends.cudnn.benchmark = True


def _restore() -> None:
    torch.backends.cudnn.benchmark = _before.pop()


_switch = SharedSwitch(_tune, _restore)


@contextmanager
def tuned_convolutions(enabled: bool, device: torch.device) -> Iterator[bool]:
    """cuDNN's autotuner on inside the block for an encode on ``device``; yields whether it is."""
    if not enabled or device.type != "cuda":
        yield False
        return
    with _switch.held():
        yield True
