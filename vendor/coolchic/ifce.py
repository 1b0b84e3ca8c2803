# SPDX-License-Identifier: BSD-3-Clause
"""Inter-feature context extractor (IFCE), as in Cool-chic 5.

Grids are decoded from the last coded grid (the coarsest) to the first. Before
grid ``k`` is decoded, every grid decoded so far is brought to the resolution
of the grid decoded just before it (``k + 1``) by nearest-neighbour x2 steps
and stacked, the most recently decoded first::

    decoded[k] = cat(y_{k+1}, nearest(cat(y_{k+2}, nearest(...))))   # n - 1 - k channels

(for the first decoded grid, one channel of zeros). For a grid inside
``ifce_resolution``, a linear layer (no hidden layer, no stabiliser) maps
each position of ``decoded[k]`` to ``C_f`` features, which are brought to the
grid's resolution by one more nearest x2 step and crop. They follow the
provider's context values in the ARM input. Other grids get ``C_f`` zeros, so
the ARM width is the same for every grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coolchic.architecture import Architecture
from coolchic.arm import ArmLinear


def nearest_double(x: Tensor, shape: tuple[int, int]) -> Tensor:
    """``[B, C, h, w]`` -> nearest x2, cropped to ``shape`` (exact on integer tensors too).

    ``F.interpolate`` rather than an indexing trick, so fvcore counts it as it
    does in Cool-chic 5's own complexity figures.
    """
    if x.is_floating_point():
        up = F.interpolate(x, scale_factor=2.0, mode="nearest")
    else:  # integers below 2^53 are exact in float64
        up = F.interpolate(x.double(), scale_factor=2.0, mode="nearest").to(x.dtype)
    return up[..., : shape[0], : shape[1]]


def push_grid(stack: Tensor | None, grid: Tensor) -> Tensor:
    """The stack once ``grid`` ``[1, 1, H, W]`` is decoded: ``grid``, then the stack at its size."""
    if stack is None:
        return grid
    if stack.shape[-2:] != grid.shape[-2:]:
        stack = nearest_double(stack, tuple(grid.shape[-2:]))
    return torch.cat([grid, stack], dim=1)


def decoded_stacks(grids: list[Tensor]) -> list[Tensor]:
    """``decoded[k]`` for every coded grid ``k`` (see the module docstring).

    ``grids`` are the coded grids ``[1, 1, H_k, W_k]`` in coded order; works on
    float and integer tensors alike.
    """
    n = len(grids)
    stacks: list[Tensor | None] = [None] * n
    stacks[n - 1] = torch.zeros_like(grids[n - 1])
    state = grids[n - 1]
    for k in range(n - 2, -1, -1):
        stacks[k] = state
        state = push_grid(state, grids[k])
    return stacks  # type: ignore[return-value]


class Ifce(nn.Module):
    """One linear layer per coded grid inside ``ifce_resolution``."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.n_features = arch.n_ifce_features
        self.inputs = [g.ifce_inputs for g in arch.coded_grids]
        self.layers = nn.ModuleDict(
            {str(k): ArmLinear(n_in, self.n_features) for k, n_in in enumerate(self.inputs) if n_in}
        )

    def reset_parameters(self) -> None:
        for layer in self.layers.values():
            layer.reset_parameters()

    def features(self, grids: list[Tensor]) -> list[Tensor]:
        """``[H_k * W_k, C_f]`` features of every coded grid (zeros where it has no IFCE)."""
        stacks = decoded_stacks(grids)
        out = []
        for k, grid in enumerate(grids):
            h, w = grid.shape[-2:]
            if not self.inputs[k]:
                out.append(grid.new_zeros(h * w, self.n_features))
                continue
            stack = stacks[k]
            flat = stack[0].flatten(1).T  # [h' * w', C]
            feats = self.layers[str(k)](flat).T.reshape(1, self.n_features, *stack.shape[-2:])
            out.append(nearest_double(feats, (h, w))[0].flatten(1).T)
        return out


__all__ = ["Ifce", "decoded_stacks", "nearest_double", "push_grid"]
