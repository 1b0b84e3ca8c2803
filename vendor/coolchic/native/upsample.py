# SPDX-License-Identifier: BSD-3-Clause
"""Cool-chic's x2 upsampling stage as one autograd operator (``upsample.c``).

:class:`coolchic.upsampling.UpsamplingTConv` runs as four torch operators
(replicate pad, a stride-2 transposed convolution and a crop, per axis), whose
one-channel convolutions take torch's slowest CPU paths, forward and backward.
The C kernel computes the same samples directly: each output is the sum of
k/2 taps over replicate-clamped inputs. Same maths up to float rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor

from coolchic.native import library, pointer

#: The largest kernel the C code takes (its per-line tap sums are on the stack).
MAX_KERNEL = 64


class UpsampleX2(torch.autograd.Function):
    """``[B, 1, H, W]`` -> ``[B, 1, 2H, 2W]`` with the whole (symmetric) kernel ``[k]``."""

    @staticmethod
    def forward(ctx, x: Tensor, kernel: Tensor) -> Tensor:
        planes, _, height, width = x.shape
        x, kernel = x.detach().contiguous(), kernel.detach().contiguous()
        out = x.new_empty(planes, 1, 2 * height, 2 * width)
        if library().upsample_forward(pointer(x), planes, height, width, pointer(kernel),
                                      kernel.numel(), pointer(out)) != 0:
            raise MemoryError("the C kernel of the upsampling ran out of memory")
        ctx.save_for_backward(x, kernel)
        return out

    @staticmethod
    def backward(ctx, gout: Tensor):
        x, kernel = ctx.saved_tensors
        planes, _, height, width = x.shape
        gout = gout.contiguous()
        gx, gkernel = torch.empty_like(x), torch.empty_like(kernel)
        if library().upsample_backward(pointer(x), pointer(gout), planes, height, width,
                                       pointer(kernel), kernel.numel(), pointer(gx),
                                       pointer(gkernel)) != 0:
            raise MemoryError("the C kernel of the upsampling ran out of memory")
        return gx, gkernel


def supported(x: Tensor, kernel_size: int) -> bool:
    """Whether :func:`upsample_x2` computes this call (float32 planes on the CPU)."""
    return (x.dim() == 4 and x.shape[1] == 1 and x.device.type == "cpu"
            and x.dtype == torch.float32 and kernel_size % 2 == 0
            and 4 <= kernel_size <= MAX_KERNEL)


def upsample_x2(x: Tensor, kernel: Tensor) -> Tensor:
    """:class:`UpsampleX2` of ``x`` ([B, 1, H, W]) with the whole kernel ``[k]``."""
    if not supported(x, kernel.numel()):
        raise ValueError(f"upsample_x2 needs float32 CPU planes [B, 1, H, W] and an even kernel "
                         f"of 4 to {MAX_KERNEL} taps, not {tuple(x.shape)} {x.dtype} on "
                         f"{x.device} with {kernel.numel()}")
    return UpsampleX2.apply(x, kernel)
