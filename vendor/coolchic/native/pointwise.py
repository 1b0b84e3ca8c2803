# SPDX-License-Identifier: BSD-3-Clause
"""Two 1x1 convolutions with a ReLU between them, as one autograd operator (``pointwise.c``).

The synthesis of every shipped configuration starts so (hop: 48-1-linear-relu,
X-1-linear-none). torch would keep the hidden activation (48 planes at full
resolution) for the backward and pass over it five times; the C kernel keeps
only the input and computes the hidden values again, tile by tile, in the
backward. The arithmetic is the same up to float rounding (the sums run in
another order), so a training with it follows the same path as one without
to within rounding, but does not write the same bytes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from coolchic.native import library, pointer


class PointwisePair(torch.autograd.Function):
    """``conv1x1(relu(conv1x1(x, w1, b1)), w2, b2)`` for one float32 CPU image."""

    @staticmethod
    def forward(ctx, x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
        _, cin, height, width = x.shape
        hid, cout = w1.shape[0], w2.shape[0]
        x, w1, b1, w2, b2 = (t.detach().contiguous() for t in (x, w1, b1, w2, b2))
        y = x.new_empty(1, cout, height, width)
        library().pointwise_forward(pointer(x), height * width, cin, hid, cout, pointer(w1),
                                    pointer(b1), pointer(w2), pointer(b2), pointer(y))
        ctx.save_for_backward(x, w1, b1, w2)
        return y

    @staticmethod
    def backward(ctx, gy: Tensor):
        x, w1, b1, w2 = ctx.saved_tensors
        _, cin, height, width = x.shape
        hid, cout = w1.shape[0], w2.shape[0]
        gy = gy.contiguous()
        gx, gw1, gb1, gw2 = (torch.empty_like(t) for t in (x, w1, b1, w2))
        gb2 = gy.new_empty(cout)
        status = library().pointwise_backward(
            pointer(x), pointer(gy), height * width, cin, hid, cout, pointer(w1),
            pointer(b1), pointer(w2), pointer(gx), pointer(gw1), pointer(gb1),
            pointer(gw2), pointer(gb2))
        if status != 0:
            raise MemoryError("the C kernel of the synthesis's 1x1 layers ran out of memory")
        return gx, gw1, gb1, gw2, gb2


def supported(x: Tensor) -> bool:
    """Whether :func:`pointwise_pair` computes this call (one float32 CPU image)."""
    return x.dim() == 4 and x.shape[0] == 1 and x.device.type == "cpu" and x.dtype == torch.float32


def pointwise_pair(x: Tensor, w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor) -> Tensor:
    """:class:`PointwisePair` of ``x`` ([1, C, H, W]) and two 1x1 layers' ``[out, in, 1, 1]``
    weights and biases."""
    if not supported(x):
        raise ValueError(f"pointwise_pair needs one float32 CPU image, not {tuple(x.shape)} "
                         f"{x.dtype} on {x.device}")
    return PointwisePair.apply(x, w1, b1, w2, b2)
