# SPDX-License-Identifier: BSD-3-Clause
"""Range coding of the latent grids with the fixed-point ARM.

Grids are coded coarsest first into one range coder (``constriction``'s
``QuantizedLaplace`` over [-64, 63]). Inside a grid the order is a wavefront:
latent (y, x) belongs to step ``t = x + s * y``, where the slope ``s`` is the
smallest one that puts every causal offset of the grid in an earlier step.
All latents of a step are independent, so the decoder evaluates the ARM for a
whole step (or any slice of it) at once; the encoder, knowing every latent,
evaluates it for the whole grid. Integer arithmetic makes both identical::

    s = 5 (offsets reach dx = +4 one row up)
    y=0:  0  1  2  3  4  5  6 ...
    y=1:  5  6  7  8  9 10 11 ...
    y=2: 10 11 12 13 14 15 16 ...

Before a grid is coded, the coarse positions its provider names are gathered
from the fixed-point upsampling of the latent grids already coded, and its
IFCE features are computed from all grids already coded; the decoder carries
that upsampling down to the finest grid, and its last state is the synthesis
input, so a provider reading coarse grids costs no extra upsampling.
Hyperlatent grids are coded like the others but never upsampled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import Tensor

from coolchic.bitstream.fixedpoint import (
    FRAC_BITS,
    LOG_SCALE_MIN_FP,
    MU_MIN,
    FixedPointArm,
    FixedPointIfce,
    FixedPointUpsampling,
    mu_scale_tables,
)
from coolchic.errors import BitstreamError
from coolchic.hooks import WINDOW_RADIUS, Offset, gather, gather_coarse
from coolchic.model import LATENT_BOUND, CoolChic
from coolchic.threads import single_thread


def wavefront_slope(offsets: list[Offset]) -> int:
    """Smallest s >= 1 with ``s * dy + dx < 0`` for every causal offset."""
    slope = 1
    for dy, dx in offsets:
        if dy < 0:
            slope = max(slope, dx // (-dy) + 1)
    return slope


@dataclass(frozen=True)
class CodingOrder:
    positions: Tensor  # flat indices y * W + x, in coding order
    step_starts: list[int]  # positions[step_starts[j]:step_starts[j+1]] form step j


def coding_order(height: int, width: int, slope: int) -> CodingOrder:
    y, x = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    step = (x + slope * y).reshape(-1)
    key = step * height + y.reshape(-1)
    positions = torch.argsort(key)
    counts = torch.bincount(step, minlength=int(step.max()) + 1)
    starts = [0] + torch.cumsum(counts, 0).tolist()
    starts = [s for i, s in enumerate(starts) if i == 0 or counts[i - 1] > 0]
    return CodingOrder(positions, starts)


class _GridCoding:
    """Per-model state shared by the latent encoder and decoder."""

    family = constriction.stream.model.QuantizedLaplace(-LATENT_BOUND, LATENT_BOUND - 1)

    def __init__(self, model: CoolChic, keep_dense: bool) -> None:
        self.model = model
        self.arm = FixedPointArm(model.arm)
        self.mu_table, self.scale_table = mu_scale_tables()
        needed = keep_dense or any(model.coarse_positions)
        self.upsampling = FixedPointUpsampling(model.upsampling) if needed else None
        self.ifce = FixedPointIfce(model.ifce) if model.ifce is not None else None

    def extra_context(self, grid: int) -> Tensor | None:
        """``[H * W, E]`` values after the causal ones (raster order): coarse, then IFCE."""
        parts = []
        positions = self.model.coarse_positions[grid]
        if positions:
            level = self.model.levels[grid]
            state = self.upsampling.coarse_state(level, self.model.arch.grid_shapes[level])
            parts.append(gather_coarse(state, positions))
        if self.ifce is not None:
            parts.append(self.ifce.features(grid, self.model.arch.coded_shapes[grid]))
        return torch.cat(parts, dim=1) if parts else None

    def grid_done(self, grid: int, values: Tensor) -> None:
        level = self.model.levels[grid]
        if self.upsampling is not None and level is not None:
            self.upsampling.add_grid(level, values)
        if self.ifce is not None:
            self.ifce.add_grid(values)

    def probabilities(self, context: Tensor) -> tuple[np.ndarray, np.ndarray]:
        mu, log_scale = self.arm(context)
        mu_f = self.mu_table[(mu - MU_MIN).numpy()]
        scale_f = self.scale_table[(log_scale - LOG_SCALE_MIN_FP).numpy()]
        return mu_f, scale_f


def fixed_point_contexts(
    model: CoolChic, grids: list[Tensor], coding: _GridCoding | None = None
) -> Iterator[tuple[int, Tensor]]:
    """``(grid, context)`` coarsest grid first: the encoder's fixed-point ARM inputs.

    ``context`` is ``[H_i * W_i, N]`` int64 with ``FRAC_BITS`` fractional bits,
    in raster order: the causal positions, then the coarse positions read from
    the fixed-point upsampling of the grids already yielded, then the IFCE
    features. ``grids`` are the coded grids, in coded order.
    """
    coding = coding or _GridCoding(model, keep_dense=False)
    for grid in range(len(grids) - 1, -1, -1):
        values = grids[grid].to(torch.int64)
        height, width = values.shape
        causal = gather(values.view(1, 1, height, width) << FRAC_BITS,
                        [(0, dy, dx) for dy, dx in model.causal_offsets[grid]])
        extra = coding.extra_context(grid)
        yield grid, causal if extra is None else torch.cat([causal, extra], dim=1)
        coding.grid_done(grid, values)


def encode_latents(model: CoolChic, grids: list[Tensor], encoder) -> None:
    """Range code the integer coded grids ``[H_i, W_i]`` (coded order) into ``encoder`` (a
    ``constriction`` queue ``RangeEncoder``)."""
    coding = _GridCoding(model, keep_dense=False)
    for grid, context in fixed_point_contexts(model, grids, coding):
        height, width = grids[grid].shape
        order = coding_order(height, width, wavefront_slope(model.causal_offsets[grid])).positions
        mu, scale = coding.probabilities(context[order])
        symbols = grids[grid].to(torch.int64).reshape(-1)[order].numpy().astype(np.int32)
        encoder.encode(symbols, _GridCoding.family, mu, scale)


def decode_latents(
    model: CoolChic, decoder, max_batch: int = 0
) -> tuple[list[Tensor], Tensor]:
    """Inverse of :func:`encode_latents` from a ``RangeDecoder`` placed where the latents
    start; ``max_batch`` > 0 slices the wavefront steps.

    Returns the integer grids and the fixed-point dense state of the
    upsampling (the synthesis input), computed along the way. Raises
    :class:`BitstreamError` if the range coder rejects the data.
    """
    with single_thread():  # thousands of tiny operations
        return _decode_latents(model, decoder, max_batch)


def _decode_latents(model: CoolChic, decoder, max_batch: int) -> tuple[list[Tensor], Tensor]:
    coding = _GridCoding(model, keep_dense=True)
    shapes = model.arch.coded_shapes
    grids: list[Tensor | None] = [None] * len(shapes)
    r = WINDOW_RADIUS
    for grid in range(len(shapes) - 1, -1, -1):
        height, width = shapes[grid]
        padded_width = width + 2 * r
        offsets = model.causal_offsets[grid]
        deltas = torch.tensor([dy * padded_width + dx for dy, dx in offsets], dtype=torch.int64)
        buffer = torch.zeros((height + 2 * r) * padded_width, dtype=torch.int64)
        extra = coding.extra_context(grid)
        order = coding_order(height, width, wavefront_slope(offsets))
        rows, cols = order.positions // width, order.positions % width
        padded_positions = (rows + r) * padded_width + cols + r
        bounds = order.step_starts
        for start, end in zip(bounds[:-1], bounds[1:]):
            step = max_batch or end - start
            for lo in range(start, end, step):
                hi = min(lo + step, end)
                where = padded_positions[lo:hi]
                context = buffer[where.unsqueeze(1) + deltas.unsqueeze(0)] << FRAC_BITS
                if extra is not None:
                    context = torch.cat([context, extra[order.positions[lo:hi]]], dim=1)
                mu, scale = coding.probabilities(context)
                try:
                    symbols = decoder.decode(_GridCoding.family, mu, scale)
                except Exception as error:
                    raise BitstreamError(f"corrupt latent section ({error})") from None
                buffer[where] = torch.from_numpy(symbols.astype(np.int64))
        values = buffer.view(height + 2 * r, padded_width)[r : r + height, r : r + width]
        grids[grid] = values.clone()
        coding.grid_done(grid, grids[grid])
    return grids, coding.upsampling.dense()
