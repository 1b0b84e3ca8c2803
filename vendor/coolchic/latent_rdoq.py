# SPDX-License-Identifier: BSD-3-Clause
"""Rate-distortion optimised quantization (RDOQ) of the latents.

Training ends with the latents rounded; the networks' RDOQ (:mod:`coolchic.rdoq`)
then refines the networks for those latents. This pass refines the latents for
the final networks: it moves coded values by one step and keeps each move that
lowers the RD cost ``D + lmbda * R / pixels`` as the decoder computes it (the
8-bit image's MSE, the latents' bits under the ARM's Laplace). The decoder, the
file format and the MAC/pixel are unchanged: only which integers are coded.
Cool-chic 5.0.1 has no such pass.

Trying one value at a time would cost a decode per trial. Instead, grid by grid:

* the *reach* of one value (how far, in the grid's own units, moving it changes
  a pixel or another coded value's rate) is measured by moving a few values;
* values on a lattice spaced ``S = 2 * reach + 3`` apart move together, each in
  the direction in which the RD cost falls (minus the sign of its gradient), so
  that their effects do not overlap: every pixel's and every value's change in
  cost is charged to the nearest moved value, and each move is kept if its own
  change is negative. ``S * S`` lattice phases cover the grid, one decode each;
* after the grid, one decode checks the cost: if it rose (the effects did
  overlap after all), the grid's moves are undone. So the cost never rises.

Grids too small to put ``MIN_MOVES_PER_DECODE`` values on a lattice are left
as they are (a decode per few values costs more than it wins). On six 256x256
Kodak crops (hop.cfg, 2000 iterations, 4 lambdas) one sweep refined the three
finest grids, moved 15 to 1168 values per file, and took 0.75% off the BD-rate
of the same training without it, on every crop, for about 16 s per encode on
one CPU thread (``benchmarks/results/latent-rdoq-cpu``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from coolchic.model import LATENT_BOUND, CoolChic, to_8bit

#: A grid is refined only if each lattice phase moves at least this many values.
MIN_MOVES_PER_DECODE = 16
#: Lattice spacing beyond twice the reach: room for effects the probes did not see.
SPACING_MARGIN = 3
#: Positions whose move measures the reach of a grid's values, as fractions of its size.
PROBES = ((0.5, 0.5), (0.3, 0.25), (0.7, 0.75))


@dataclass(frozen=True)
class LatentRdoqReport:
    sweeps: int
    moves: int  # values changed, all sweeps
    grids_refined: int  # grids large enough to refine (per sweep)
    grids_undone: int  # grids whose moves, taken together, raised the cost (all sweeps)
    decodes: int
    loss_before: float  # D + lmbda * latent bits / pixels, as the decoder computes it
    loss_after: float
    seconds: float


class _Costs:
    """Per-position RD cost of a decode: one map per pixel, one per coded grid."""

    def __init__(self, model: CoolChic, target: Tensor, lmbda: float) -> None:
        self.model, self.target, self.lmbda = model, target, lmbda
        self.n_pixels = target.shape[-2] * target.shape[-1]
        self.decodes = 0

    @torch.no_grad()
    def maps(self, grids: list[Tensor]) -> list[Tensor]:
        self.decodes += 1
        out = self.model.decode(grids)
        error = (to_8bit(out.image) - self.target) ** 2
        maps = [error.sum(dim=1)[0] / error.numel()]
        rate = out.rate_bits * (self.lmbda / self.n_pixels)
        start = 0
        for grid in grids:
            maps.append(rate[start:start + grid.numel()].view(grid.shape[-2:]))
            start += grid.numel()
        return maps

    def gradient(self, grids: list[Tensor], k: int) -> Tensor:
        """d cost / d grid k, with the image unrounded (rounding has no gradient)."""
        leaves = [g.clone().requires_grad_(i == k) for i, g in enumerate(grids)]
        with torch.enable_grad():
            out = self.model.decode(leaves)
            loss = (torch.mean((out.image.clamp(0.0, 1.0) - self.target) ** 2)
                    + self.lmbda * out.rate_bits.sum() / self.n_pixels)
            return torch.autograd.grad(loss, leaves[k])[0][0, 0]


def _total(maps: list[Tensor]) -> float:
    return sum(float(m.sum()) for m in maps)


def _reach(costs: _Costs, grids: list[Tensor], k: int, base: list[Tensor]) -> float:
    """How far a value of grid k acts, in grid-k units, over a few probed positions."""
    h, w = grids[k].shape[-2:]
    reach = 0.0
    for fy, fx in PROBES:
        r, c = min(int(fy * h), h - 1), min(int(fx * w), w - 1)
        for sign in (-1.0, 1.0):
            moved = grids[k].clone()
            moved[0, 0, r, c] = (moved[0, 0, r, c] + sign).clamp(-LATENT_BOUND, LATENT_BOUND - 1)
            trial = grids[:k] + [moved] + grids[k + 1:]
            for before, after in zip(base, costs.maps(trial)):
                ys, xs = torch.nonzero(after != before, as_tuple=True)
                if len(ys):
                    sy, sx = before.shape[0] / h, before.shape[1] / w
                    reach = max(reach, float(((ys + 0.5) / sy - (r + 0.5)).abs().max()),
                                float(((xs + 0.5) / sx - (c + 0.5)).abs().max()))
    return reach


def _owners(shape: torch.Size, h: int, w: int, spacing: int, row: int, col: int,
            device: torch.device) -> Tensor:
    """Flat index, in an ``h x w`` grid, of the lattice member nearest each position of a map."""
    def nearest(size: int, grid_size: int, first: int) -> Tensor:
        centre = (torch.arange(size, device=device) + 0.5) * (grid_size / size) - 0.5
        last = first + (grid_size - 1 - first) // spacing * spacing
        return (first + torch.round((centre - first) / spacing) * spacing).long().clamp(first, last)

    return (nearest(shape[0], h, row)[:, None] * w + nearest(shape[1], w, col)[None, :]).reshape(-1)


@torch.no_grad()
def rdoq_latents(model: CoolChic, target: Tensor, lmbda: float, sweeps: int = 1) -> LatentRdoqReport:
    """Refine the coded latents of ``model`` in place (see the module's docstring)."""
    start = time.monotonic()
    model.eval()
    costs = _Costs(model, target, lmbda)
    grids = [g.detach().clone() for g in model.quantized_latents()]
    base = costs.maps(grids)
    loss_before = loss = _total(base)
    reaches: dict[int, float] = {}
    moves = refined = undone = 0
    for _ in range(sweeps):
        refined = 0
        for k, grid in enumerate(grids):
            h, w = grid.shape[-2:]
            if h * w < MIN_MOVES_PER_DECODE * SPACING_MARGIN**2:
                continue  # too small at any reach: not worth probing
            if k not in reaches:
                reaches[k] = _reach(costs, grids, k, base)
            spacing = int(2 * reaches[k]) + SPACING_MARGIN
            if h * w < MIN_MOVES_PER_DECODE * spacing * spacing:
                continue
            refined += 1
            downhill = -torch.sign(costs.gradient(grids, k))
            loss_start, grid_start, base_start, moved_here = loss, grids[k], base, 0
            for row in range(spacing):
                for col in range(spacing):
                    step = torch.zeros_like(downhill)
                    step[row::spacing, col::spacing] = downhill[row::spacing, col::spacing]
                    if not step.any():
                        continue
                    candidate = (grids[k] + step).clamp(-LATENT_BOUND, LATENT_BOUND - 1)
                    tried = costs.maps(grids[:k] + [candidate] + grids[k + 1:])
                    owners = [_owners(m.shape, h, w, spacing, row, col, m.device) for m in base]
                    change = torch.zeros(h * w, device=grid.device)
                    for before, after, owner in zip(base, tried, owners):
                        change.index_add_(0, owner, (after - before).reshape(-1))
                    keep = (change < 0) & (step.reshape(-1) != 0)
                    if not keep.any():
                        continue
                    grids[k] = torch.where(keep.view_as(candidate), candidate, grids[k])
                    base = [torch.where(keep[owner].view_as(before), after, before)
                            for before, after, owner in zip(base, tried, owners)]
                    moved_here += int(keep.sum())
            base = costs.maps(grids)  # the exact costs, moves' overlaps included
            loss = _total(base)
            if loss >= loss_start:  # the charges were wrong somewhere: undo the grid
                grids[k], base, loss = grid_start, base_start, loss_start
                undone += 1
            else:
                moves += moved_here
    gain = model.encoder_gain
    for param, grid in zip(model.latents, grids):
        param.copy_(grid / gain)
    if not all(torch.equal(a, b) for a, b in zip(model.quantized_latents(), grids)):
        raise RuntimeError("refined latents do not survive the encoder gain's round trip")
    return LatentRdoqReport(sweeps, moves, refined, undone, costs.decodes, loss_before, loss,
                            time.monotonic() - start)
