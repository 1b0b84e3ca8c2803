# SPDX-License-Identifier: BSD-3-Clause
"""Cool-chic's ARM MLP as one autograd operator (``arm.c``).

:class:`coolchic.arm.Arm` runs in torch as a dozen operators over the
``[latents, N]`` contexts (matrix products, residual additions, ReLUs and
their backward), each a pass over several MiB. The C kernel goes through the
contexts by cache-sized tiles and computes the activations again in the
backward. Same maths up to float rounding.
"""

from __future__ import annotations

import torch
from torch import Tensor

from coolchic.native import library, pointer


class ArmMlp(torch.autograd.Function):
    """``[B, N]`` contexts -> ``[B, 2]``; the parameters as ``w [H, N, N]``, ``b [H, N]``,
    ``wo [2, N]``, ``bo [2]`` and the stabiliser's ``ws [2, N]``, ``bs [2]`` (or empty)."""

    @staticmethod
    def forward(ctx, context: Tensor, w: Tensor, b: Tensor, wo: Tensor, bo: Tensor,
                ws: Tensor, bs: Tensor) -> Tensor:
        batch, n = context.shape
        tensors = [t.detach().contiguous() for t in (context, w, b, wo, bo, ws, bs)]
        context, w, b, wo, bo, ws, bs = tensors
        stabiliser = ws.numel() > 0
        out = context.new_empty(batch, 2)
        if library().arm_forward(pointer(context), batch, n, w.shape[0], pointer(w),
                                 pointer(b), pointer(wo), pointer(bo), int(stabiliser),
                                 pointer(ws if stabiliser else None),
                                 pointer(bs if stabiliser else None), pointer(out)) != 0:
            raise MemoryError("the C kernel of the ARM ran out of memory")
        ctx.save_for_backward(*tensors)
        return out

    @staticmethod
    def backward(ctx, gout: Tensor):
        context, w, b, wo, bo, ws, bs = ctx.saved_tensors
        batch, n = context.shape
        stabiliser = ws.numel() > 0
        gout = gout.contiguous()
        grads = [torch.empty_like(t) for t in (context, w, b, wo, bo, ws, bs)]
        gcontext, gw, gb, gwo, gbo, gws, gbs = grads
        status = library().arm_backward(
            pointer(context), pointer(gout), batch, n, w.shape[0], pointer(w), pointer(b),
            pointer(wo), pointer(bo), int(stabiliser), pointer(ws if stabiliser else None),
            pointer(bs if stabiliser else None), pointer(gcontext), pointer(gw), pointer(gb),
            pointer(gwo), pointer(gbo), pointer(gws if stabiliser else None),
            pointer(gbs if stabiliser else None))
        if status != 0:
            raise MemoryError("the C kernel of the ARM ran out of memory")
        return tuple(grads)


def supported(context: Tensor) -> bool:
    """Whether :func:`arm_mlp` computes this call (float32 contexts on the CPU)."""
    return (context.dim() == 2 and context.device.type == "cpu"
            and context.dtype == torch.float32)


def arm_mlp(context: Tensor, hidden: list[tuple[Tensor, Tensor]], output: tuple[Tensor, Tensor],
            stabiliser: tuple[Tensor, Tensor] | None) -> Tensor:
    """:class:`ArmMlp` of ``context`` with the residual layers' ``(weight, bias)``, the output
    layer's and the stabiliser's (or ``None``)."""
    if not supported(context):
        raise ValueError(f"arm_mlp needs float32 CPU contexts [B, N], not "
                         f"{tuple(context.shape)} {context.dtype} on {context.device}")
    n = context.shape[1]
    if hidden:
        w = torch.stack([weight for weight, _ in hidden])
        b = torch.stack([bias for _, bias in hidden])
    else:
        w, b = context.new_empty(0, n, n), context.new_empty(0, n)
    ws, bs = stabiliser if stabiliser is not None else (context.new_empty(0), context.new_empty(0))
    return ArmMlp.apply(context, w, b, *output, ws, bs)
