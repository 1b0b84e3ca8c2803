# SPDX-License-Identifier: BSD-3-Clause
"""Learned upsampling of the latent pyramid into a dense synthesis input.

Starting from the coarsest grid, each stage doubles the resolution of the
current state with a separable, symmetric transposed convolution, crops it to
the next finer grid, and puts that grid (filtered by a "pre-concatenation"
convolution) in front of it::

    state_{L-1} = y_{L-1}
    up_i        = crop(tconv_i(state_{i+1}))            # coarser grids at res. i
    state_i     = cat(preconcat_i(y_i), up_i)

Channel 0 of ``state_i`` is grid i, channel k >= 1 the k-th coarser grid.
``up_i`` depends only on grids coarser than i: it is what a context provider
receives as the coarse state of grid i.

Both filters are symmetric and separable: a 1-D kernel of size k is
parameterised by its first ceil(k/2) taps, and applied along rows then
columns. Transposed convolutions start as a bicubic (k >= 8) or bilinear
interpolator with replicate padding; pre-concatenation convolutions start as a
Dirac with a residual connection and zero padding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coolchic.native.upsample import supported, upsample_x2


def symmetric_kernel(half: Tensor, size: int) -> Tensor:
    """``a b c`` -> ``a b c b a`` (odd size) or ``a b c c b a`` (even size)."""
    mirrored = torch.flip(half, dims=(0,))
    return torch.cat([half, mirrored[size % 2 :]])


def _keys_cubic(distance: float, a: float = -0.75) -> float:
    d = abs(distance)
    if d <= 1:
        return (a + 2) * d**3 - (a + 3) * d**2 + 1
    if d < 2:
        return a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return 0.0


def interpolation_half_kernel(size: int) -> Tensor:
    """First half of a x2 interpolation kernel, zero-padded to ``size // 2`` taps.

    Taps sit at distances 1.75, 1.25, 0.75, 0.25 (bicubic, size >= 8) or
    0.75, 0.25 (bilinear) from the output sample.
    """
    if size >= 8:
        core = [_keys_cubic(d) for d in (1.75, 1.25, 0.75, 0.25)]
    else:
        core = [0.25, 0.75]
    half = torch.zeros(size // 2)
    half[-len(core) :] = torch.tensor(core)
    return half


class UpsamplingTConv(nn.Module):
    """x2 upsampling of ``[B, 1, H, W]`` to ``[B, 1, 2H, 2W]``; even kernel >= 4."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 4 or kernel_size % 2:
            raise ValueError(f"upsampling kernel size must be even and >= 4, not {kernel_size}")
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty(kernel_size // 2))
        # Whether training on the CPU runs this stage with the C kernel
        # (coolchic.native.upsample); the encoder sets it from --cpu_kernels.
        self.native = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.copy_(interpolation_half_kernel(self.kernel_size))

    def uses_native(self, x: Tensor) -> bool:
        """Whether this call runs the C kernel: asked for, and a training step on the CPU."""
        return self.native and torch.is_grad_enabled() and supported(x, self.kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        kernel = symmetric_kernel(self.weight, k)
        if self.uses_native(x):
            return upsample_x2(x, kernel)
        pad = k // 2
        crop = 2 * pad - 1 + k // 2
        y = F.pad(x, (pad, pad, 0, 0), mode="replicate")
        y = F.conv_transpose2d(y, kernel.view(1, 1, 1, k), stride=(1, 2))
        y = y[..., crop : y.shape[-1] - crop]
        y = F.pad(y, (0, 0, pad, pad), mode="replicate")
        y = F.conv_transpose2d(y, kernel.view(1, 1, k, 1), stride=(2, 1))
        return y[..., crop : y.shape[-2] - crop, :]


class PreconcatConv(nn.Module):
    """``x + conv(x)`` with a separable symmetric odd kernel, zero padding."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"pre-concatenation kernel size must be odd, not {kernel_size}")
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.empty((kernel_size + 1) // 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.weight.zero_()
            self.weight[-1] = 1.0

    def forward(self, x: Tensor) -> Tensor:
        k = self.kernel_size
        kernel = symmetric_kernel(self.weight, k)
        y = F.conv2d(x, kernel.view(1, 1, 1, k), padding=(0, k // 2))
        y = F.conv2d(y, kernel.view(1, 1, k, 1), padding=(k // 2, 0))
        return y + x


class Upsampling(nn.Module):
    """One transposed conv and one pre-concatenation conv per stage.

    ``tconvs[s]`` and ``preconcats[s]`` serve stage ``s``, which brings the
    state from grid ``L - 1 - s`` to grid ``L - 2 - s`` (stage 0 starts at the
    coarsest grid).
    """

    def __init__(self, n_grids: int, kernel_size: int, preconcat_kernel_size: int) -> None:
        super().__init__()
        self.n_grids = n_grids
        self.tconvs = nn.ModuleList(UpsamplingTConv(kernel_size) for _ in range(n_grids - 1))
        self.preconcats = nn.ModuleList(
            PreconcatConv(preconcat_kernel_size) for _ in range(n_grids - 1)
        )

    def reset_parameters(self) -> None:
        for module in [*self.tconvs, *self.preconcats]:
            module.reset_parameters()

    def upsample_state(self, state: Tensor, grid: int, shape: tuple[int, int]) -> Tensor:
        """``up_grid``: the state of grid ``grid + 1`` brought to ``shape``."""
        tconv = self.tconvs[self.n_grids - 2 - grid]
        channels = state.shape[1]
        up = tconv(state.reshape(channels, 1, *state.shape[-2:]))
        return up[..., : shape[0], : shape[1]].reshape(1, channels, *shape)

    def merge(self, grid_values: Tensor, grid: int, upsampled: Tensor) -> Tensor:
        """``state_grid`` from grid ``grid`` itself and ``up_grid``."""
        preconcat = self.preconcats[self.n_grids - 2 - grid]
        return torch.cat([preconcat(grid_values), upsampled], dim=1)

    def forward(self, grids: list[Tensor]) -> tuple[Tensor, list[Tensor | None]]:
        """Dense ``[1, L, H_0, W_0]`` state and every coarse state ``up_i``.

        ``coarse[i]`` is ``up_i`` (``None`` for the coarsest grid).
        """
        state = grids[-1]
        coarse: list[Tensor | None] = [None] * len(grids)
        for grid in range(len(grids) - 2, -1, -1):
            up = self.upsample_state(state, grid, tuple(grids[grid].shape[-2:]))
            coarse[grid] = up
            state = self.merge(grids[grid], grid, up)
        return state, coarse
