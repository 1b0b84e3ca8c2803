# SPDX-License-Identifier: BSD-3-Clause
"""Spatial context tables, gathering, and causality."""

from __future__ import annotations

import pytest
import torch

from coolchic.context import (
    V5_PRIORITY,
    index_to_offset,
    offset_to_index,
    spatial_indices,
    spatial_offsets,
)
from coolchic.hooks import ProviderError, ProviderSetup, check_provider, gather, gather_coarse
from coolchic.spatial import SpatialProvider


@pytest.mark.parametrize("n", [8, 16, 24, 32])
def test_v4_shapes_are_causal_and_sized(n):
    indices = spatial_indices(n)
    assert len(indices) == len(set(indices)) == n
    assert all(0 <= i < 40 for i in indices)
    assert 39 in indices and 31 in indices  # left and top neighbours always present


def test_v5_priority_order_for_other_sizes():
    assert sorted(V5_PRIORITY) == list(range(40))
    assert spatial_indices(1) == (39,)  # priority 0: the left neighbour
    assert spatial_indices(2) == (39, 31)
    six = spatial_indices(6)
    assert [V5_PRIORITY[i] for i in six] == list(range(6))
    assert len(spatial_indices(14)) == 14 and len(spatial_indices(40)) == 40


def test_offsets_round_trip():
    for index in range(81):
        assert offset_to_index(index_to_offset(index)) == index
    assert index_to_offset(40) == (0, 0) and index_to_offset(39) == (0, -1)
    assert index_to_offset(0) == (-4, -4) and index_to_offset(8) == (-4, 4)


def gather_offsets(grid, offsets):
    return gather(grid, [(0, dy, dx) for dy, dx in offsets])


def test_gather_reads_neighbours_with_zero_outside():
    grid = torch.arange(1, 21, dtype=torch.float32).view(1, 1, 4, 5)
    ctx = gather_offsets(grid, [(0, -1), (-1, 0), (-1, 2)])
    assert ctx.shape == (20, 3)
    row = ctx[1 * 5 + 2]  # position (1, 2), value 8
    assert row.tolist() == [7.0, 3.0, 5.0]
    assert ctx[0].tolist() == [0.0, 0.0, 0.0]
    assert ctx[1 * 5 + 3].tolist() == [8.0, 4.0, 0.0]  # (0, 5) is outside


def test_gather_takes_positions_in_the_order_given():
    grid = torch.stack([torch.ones(3, 3), 2 * torch.ones(3, 3)]).unsqueeze(0)
    ctx = gather(grid, [(1, 0, 0), (0, 0, 1), (1, 0, 1)])
    assert ctx.shape == (9, 3)
    assert ctx[0].tolist() == [2.0, 1.0, 2.0]
    assert ctx[2].tolist() == [2.0, 0.0, 0.0]  # x + 1 is outside


def test_gather_is_the_same_selection_in_float_and_fixed_point():
    torch.manual_seed(0)
    state = torch.randint(-500, 500, (1, 3, 5, 6), dtype=torch.int64)
    positions = [(1, 0, 0), (3, -1, 2), (2, 4, -4), (1, 1, 1)]
    fixed = gather_coarse(state, positions)
    assert fixed.dtype == torch.int64
    assert torch.equal(gather_coarse(state.double(), positions), fixed.double())
    # Coarse position k reads channel k - 1 of the state.
    assert fixed[2 * 6 + 3, 0] == state[0, 0, 2, 3] and fixed[2 * 6 + 3, 1] == state[0, 2, 1, 5]


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (40, 9), (130, 129)])
def test_gather_by_index_and_by_slices_agree_in_values_and_gradients(shape, monkeypatch):
    """Small grids (and any grid on CUDA) take one indexing op, large CPU grids one slice per
    position: the same values, float or int64, and the same gradient."""
    import coolchic.hooks as hooks

    torch.manual_seed(1)
    positions = [(c, dy, dx) for c in range(2) for dy in range(-4, 5) for dx in range(-4, 5)]
    # Integer-valued float64: sums of gradients are exact whatever their order.
    planes = torch.randint(-9, 10, (1, 2, *shape)).double().requires_grad_()
    weights = torch.randint(-3, 4, (shape[0] * shape[1], len(positions))).double()
    results = []
    for limit in (0, 10**9):  # slices only, then indexing only
        monkeypatch.setattr(hooks, "INDEXED_GATHER_MAX_CPU", limit)
        values = gather(planes, positions)
        (values * weights).sum().backward()
        fixed = gather(planes.detach().long(), positions)
        results.append((values.detach(), planes.grad.clone(), fixed))
        planes.grad = None
    assert all(torch.equal(a, b) for a, b in zip(*results))
    assert results[0][2].dtype == torch.int64


@pytest.mark.parametrize("n", [6, 8, 14, 16, 32])
def test_spatial_context_is_causal(n):
    """Changing a latent at or after the current pixel never changes its context."""
    torch.manual_seed(n)
    height, width = 9, 11
    offsets = spatial_offsets(n)
    grid = torch.randn(1, 1, height, width)
    base = gather_offsets(grid, offsets)
    for y in range(height):
        for x in range(width):
            perturbed = grid.clone()
            perturbed[0, 0, y, x] += 10.0
            changed = (gather_offsets(perturbed, offsets) != base).any(dim=1).view(height, width)
            positions = changed.nonzero().tolist()
            # Only positions coming after (y, x) in raster order may see the change.
            assert all((py, px) > (y, x) for py, px in positions), (y, x, positions)


class _BadProvider:
    name = "bad"

    def __init__(self, offsets, coarse=(), fields=None):
        self.offsets, self.coarse, self.fields = offsets, list(coarse), fields or {}

    def causal_offsets(self, grid):
        return self.offsets

    def coarse_positions(self, grid):
        return self.coarse if grid < 1 else []

    def header_fields(self):
        return self.fields


@pytest.mark.parametrize(
    "offsets, coarse, message",
    [
        ([(0, -1), (0, 0)], [], "not causal"),
        ([(0, -1), (1, -3)], [], "not causal"),
        ([(0, -1), (-5, 0)], [], "outside"),
        ([(0, -1), (0, -1)], [], "repeated causal"),
        ([(0, -1)], [], "!= the ARM's 2 contexts"),
        ([(0, -1), (-1, 0)], [(1, 0, 0)], "!= the ARM's 2 contexts"),
        ([(0, -1)], [(2, 0, 0)], r"reads grid 0\+2, which does not exist \(1 coarser grids\)"),
        ([(0, -1)], [(0, 0, 0)], "reads grid 0\\+0"),
        ([(0, -1)], [(1, 5, 0)], "coarse position .* is outside"),
        ([], [(1, 1, 1), (1, 1, 1)], "repeated coarse"),
    ],
)
def test_check_provider_rejects_broken_providers(offsets, coarse, message):
    setup = ProviderSetup(2, ((4, 4), (2, 2)))
    with pytest.raises(ProviderError, match=message):
        check_provider(_BadProvider(offsets, coarse), setup)


@pytest.mark.parametrize("fields, message", [
    ({f"f{i}": 1 for i in range(17)}, "17 header fields, a bitstream header holds at most 16"),
    ({"Bad": 1}, "header field Bad=1"),
    ({"big": 2**16}, "integer in \\[0, 65535\\]"),
    ({"flag": True}, "header field flag=True"),
])
def test_check_provider_rejects_header_fields_a_header_cannot_hold(fields, message):
    setup = ProviderSetup(1, ((4, 4),))
    with pytest.raises(ProviderError, match=message):
        check_provider(_BadProvider([(0, -1)], fields=fields), setup)


def test_spatial_provider_keeps_the_contract():
    setup = ProviderSetup(14, ((8, 8), (4, 4), (2, 2)))
    provider = SpatialProvider.from_options(setup, {})
    check_provider(provider, setup)
    assert provider.header_fields() == {}
    assert [len(provider.causal_offsets(i)) for i in range(3)] == [14, 14, 14]
