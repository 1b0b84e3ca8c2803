# SPDX-License-Identifier: BSD-3-Clause
"""Integer versions of the networks whose outputs steer the entropy coder.

Encoder and decoder must derive the very same probabilities for every latent,
on any machine and whatever the batch shape, so everything feeding the range
coder is computed with int64 arithmetic on fixed-point values:

* values (latents, upsampled states, activations) carry ``FRAC_BITS`` = 16
  fractional bits; products of a value and a weight carry 32 and are brought
  back with a floor shift (``>>``);
* network parameters are ``int * 2^e`` with ``e >= -16``, so they are exact
  integers at 16 (weights) or 32 (biases) fractional bits;
* IFCE features are floored to ``IFCE_FRAC_BITS`` = 8 fractional bits, as
  in Cool-chic 5, and enter the ARM as 16-bit values whose low 8 bits are 0;
* the ARM outputs mu and log-scale with ``OUT_FRAC_BITS`` = 8 fractional bits,
  i.e. on a fixed grid; the coder's (mu, scale) come from tables indexed by
  those integers (:func:`mu_scale_tables`), never from a float ``exp``.
"""

from __future__ import annotations

from decimal import Decimal, getcontext
from functools import lru_cache

import numpy as np
import torch
from torch import Tensor

from coolchic.arm import LOG_SCALE_MAX, LOG_SCALE_MIN, LOG_SCALE_SHIFT, Arm, ArmLinear
from coolchic.ifce import Ifce, nearest_double, push_grid
from coolchic.model import LATENT_BOUND
from coolchic.upsampling import PreconcatConv, Upsampling, UpsamplingTConv

FRAC_BITS = 16
OUT_FRAC_BITS = 8
IFCE_FRAC_BITS = 8
MU_MIN = -LATENT_BOUND << OUT_FRAC_BITS
MU_MAX = (LATENT_BOUND << OUT_FRAC_BITS) - 1
LOG_SCALE_MIN_FP = int(LOG_SCALE_MIN) << OUT_FRAC_BITS
LOG_SCALE_MAX_FP = int(LOG_SCALE_MAX) << OUT_FRAC_BITS


def to_fixed(param: Tensor, frac_bits: int) -> Tensor:
    """Exact fixed-point integers of a quantized (power-of-two step) parameter."""
    scaled = param.detach().double() * 2.0**frac_bits
    fixed = torch.round(scaled)
    if not torch.equal(fixed, scaled):
        raise ValueError("parameter is not on a grid of 2^-%d" % frac_bits)
    return fixed.to(torch.int64)


class FixedPointArm:
    """The ARM in int64: context (16 fractional bits) -> (mu, log-scale) in 1/256."""

    def __init__(self, arm: Arm) -> None:
        layers = [m for m in arm.mlp if isinstance(m, ArmLinear)]
        self.hidden: list[tuple[Tensor, Tensor]] = []
        for layer in layers[:-1]:
            weight = to_fixed(layer.weight, FRAC_BITS)
            if layer.residual:
                weight = weight + (torch.eye(weight.shape[0], dtype=torch.int64) << FRAC_BITS)
            self.hidden.append((weight.T.contiguous(), to_fixed(layer.bias, 2 * FRAC_BITS)))
        out_weight = to_fixed(layers[-1].weight, FRAC_BITS)
        out_bias = to_fixed(layers[-1].bias, 2 * FRAC_BITS)
        if arm.stabiliser is not None:
            # The stabiliser sees the input, the output layer the last hidden
            # state: keep both and add their results.
            self.stabiliser = (
                to_fixed(arm.stabiliser.weight, FRAC_BITS).T.contiguous(),
                to_fixed(arm.stabiliser.bias, 2 * FRAC_BITS),
            )
        else:
            self.stabiliser = None
        shift = torch.tensor([0, int(LOG_SCALE_SHIFT) << (2 * FRAC_BITS)], dtype=torch.int64)
        self.output = (out_weight.T.contiguous(), out_bias + shift)

    def __call__(self, context: Tensor) -> tuple[Tensor, Tensor]:
        """``[B, N]`` int64 context -> int64 ``mu`` and ``log_scale`` (1/256 units, clamped)."""
        x = context
        for weight, bias in self.hidden:
            x = torch.clamp_min(torch.addmm(bias, x, weight), 0) >> FRAC_BITS
        acc = torch.addmm(self.output[1], x, self.output[0])
        if self.stabiliser is not None:
            acc = acc + torch.addmm(self.stabiliser[1], context, self.stabiliser[0])
        out = acc >> (2 * FRAC_BITS - OUT_FRAC_BITS)
        mu = torch.clamp(out[:, 0], MU_MIN, MU_MAX)
        log_scale = torch.clamp(out[:, 1], LOG_SCALE_MIN_FP, LOG_SCALE_MAX_FP)
        return mu, log_scale


class FixedPointIfce:
    """The IFCE in int64, fed the coded grids one at a time, last coded first."""

    def __init__(self, ifce: Ifce) -> None:
        self.n_features = ifce.n_features
        self.inputs = ifce.inputs
        self.layers = {
            int(k): (to_fixed(layer.weight, FRAC_BITS).T.contiguous(),
                     to_fixed(layer.bias, 2 * FRAC_BITS))
            for k, layer in ifce.layers.items()
        }
        self.state: Tensor | None = None  # [1, C, h, w] integer grids coded so far

    def features(self, grid: int, shape: tuple[int, int]) -> Tensor:
        """``[H * W, C_f]`` features of ``grid`` (16 fractional bits, the low 8 zero)."""
        height, width = shape
        if not self.inputs[grid]:
            return torch.zeros(height * width, self.n_features, dtype=torch.int64)
        stack = self.state if self.state is not None else torch.zeros(
            1, 1, height, width, dtype=torch.int64)
        weight, bias = self.layers[grid]
        flat = stack[0].flatten(1).T << FRAC_BITS
        out = torch.addmm(bias, flat, weight) >> (2 * FRAC_BITS - IFCE_FRAC_BITS)
        out = out << (FRAC_BITS - IFCE_FRAC_BITS)
        maps = out.T.reshape(1, self.n_features, *stack.shape[-2:])
        return nearest_double(maps, shape)[0].flatten(1).T

    def add_grid(self, values: Tensor) -> None:
        """Feed the integer values ``[H, W]`` of the grid just coded."""
        self.state = push_grid(self.state, values.to(torch.int64).view(1, 1, *values.shape))


@lru_cache(maxsize=1)
def mu_scale_tables() -> tuple[np.ndarray, np.ndarray]:
    """float32 ``mu`` for every fixed-point mean, ``scale`` for every log-scale.

    The exponentials are computed with :mod:`decimal` (software arithmetic,
    correctly rounded), so the table is the same on every machine.
    """
    mu = (np.arange(MU_MIN, MU_MAX + 1, dtype=np.float64) / 2**OUT_FRAC_BITS).astype(np.float32)
    getcontext().prec = 40
    scale = np.array(
        [float((Decimal(v) / 2**OUT_FRAC_BITS).exp())
         for v in range(LOG_SCALE_MIN_FP, LOG_SCALE_MAX_FP + 1)],
        dtype=np.float32,
    )
    return mu, scale


def _round_shift(acc: Tensor, bits: int) -> Tensor:
    return (acc + (1 << (bits - 1))) >> bits


def _symmetric_fixed(half: Tensor, size: int) -> Tensor:
    fixed = to_fixed(half, FRAC_BITS)
    return torch.cat([fixed, torch.flip(fixed, dims=(0,))[size % 2 :]])


def _conv1d_same(x: Tensor, kernel: Tensor, dim: int) -> Tensor:
    """Zero-padded odd 1-D correlation of ``x`` along ``dim`` (exact integers)."""
    k = kernel.numel()
    pad = k // 2
    length = x.shape[dim]
    widths = [0, 0] * (x.dim() - 1 - dim % x.dim()) + [pad, pad]
    padded = torch.nn.functional.pad(x, widths)
    acc = torch.zeros_like(x)
    for tap in range(k):
        acc += kernel[tap] * padded.narrow(dim, tap, length)
    return _round_shift(acc, FRAC_BITS)


def _tconv1d(x: Tensor, kernel: Tensor, dim: int) -> Tensor:
    """x2 transposed 1-D convolution with replicate padding, cropped to 2n samples."""
    k = kernel.numel()
    pad = k // 2
    crop = 2 * pad - 1 + k // 2
    length = x.shape[dim]
    index = torch.clamp(torch.arange(-pad, length + pad), 0, length - 1)
    padded = x.index_select(dim, index)
    n_in = padded.shape[dim]
    shape = list(x.shape)
    shape[dim] = 2 * n_in + k
    acc = torch.zeros(shape, dtype=torch.int64)
    for tap in range(k):
        acc.narrow(dim, tap, 2 * n_in).unflatten(dim, (n_in, 2)).select(dim + 1, 0).add_(
            kernel[tap] * padded
        )
    return _round_shift(acc.narrow(dim, crop, 2 * length), FRAC_BITS)


def fixed_tconv(module: UpsamplingTConv, state: Tensor) -> Tensor:
    """``[C, H, W]`` int64 -> ``[C, 2H, 2W]``; the integer twin of ``UpsamplingTConv``."""
    kernel = _symmetric_fixed(module.weight, module.kernel_size)
    return _tconv1d(_tconv1d(state, kernel, dim=2), kernel, dim=1)


def fixed_preconcat(module: PreconcatConv, grid: Tensor) -> Tensor:
    """``[C, H, W]`` int64 -> same shape; the integer twin of ``PreconcatConv``."""
    kernel = _symmetric_fixed(module.weight, module.kernel_size)
    return _conv1d_same(_conv1d_same(grid, kernel, dim=2), kernel, dim=1) + grid


class FixedPointUpsampling:
    """Coarse states ``up_i`` in fixed point, one grid at a time (coarsest first)."""

    def __init__(self, upsampling: Upsampling) -> None:
        self.upsampling = upsampling
        self.n_grids = upsampling.n_grids
        self.state: Tensor | None = None  # [C, H, W] state of the last grid added
        self._up: tuple[int, Tensor] | None = None  # cached coarse state

    def coarse_state(self, grid: int, shape: tuple[int, int]) -> Tensor:
        """``up_grid`` as ``[1, C, H, W]`` int64 (state of grid + 1 brought to ``shape``)."""
        if self._up is not None and self._up[0] == grid:
            return self._up[1]
        if self.state is None or self.state.shape[0] != self.n_grids - 1 - grid:
            raise ValueError(f"grid {grid + 1} must be added before asking for up_{grid}")
        stage = self.n_grids - 2 - grid
        up = fixed_tconv(self.upsampling.tconvs[stage], self.state)
        up = up[:, : shape[0], : shape[1]].unsqueeze(0)
        self._up = (grid, up)
        return up

    def add_grid(self, grid: int, values: Tensor) -> None:
        """Feed the integer latents ``[H, W]`` of ``grid``, coarsest grid first."""
        fixed = values.to(torch.int64).unsqueeze(0) << FRAC_BITS
        if grid == self.n_grids - 1:
            self.state = fixed
        else:
            stage = self.n_grids - 2 - grid
            up = self.coarse_state(grid, tuple(values.shape))
            preconcat = fixed_preconcat(self.upsampling.preconcats[stage], fixed)
            self.state = torch.cat([preconcat, up[0]])
        self._up = None

    def dense(self) -> Tensor:
        """The synthesis input ``[1, L, H_0, W_0]`` (int64) once grid 0 was added."""
        if self.state is None or self.state.shape[0] != self.n_grids:
            raise ValueError("every grid must be added before the dense state exists")
        return self.state.unsqueeze(0)
