# SPDX-License-Identifier: BSD-3-Clause
"""Spatial context tables, gathering, and causality."""

from __future__ import annotations

import pytest
import torch

from coolchic.context import (
    V5_PRIORITY,
    gather_offsets,
    index_to_offset,
    offset_to_index,
    spatial_indices,
    spatial_offsets,
)
from coolchic.hooks import ProviderError, ProviderSetup, check_provider
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


def test_gather_reads_neighbours_with_zero_outside():
    grid = torch.arange(1, 21, dtype=torch.float32).view(1, 1, 4, 5)
    ctx = gather_offsets(grid, [(0, -1), (-1, 0), (-1, 2)])
    assert ctx.shape == (20, 3)
    row = ctx[1 * 5 + 2]  # position (1, 2), value 8
    assert row.tolist() == [7.0, 3.0, 5.0]
    assert ctx[0].tolist() == [0.0, 0.0, 0.0]
    assert ctx[1 * 5 + 3].tolist() == [8.0, 4.0, 0.0]  # (0, 5) is outside


def test_gather_two_channels_is_channel_major():
    grid = torch.stack([torch.ones(3, 3), 2 * torch.ones(3, 3)]).unsqueeze(0)
    ctx = gather_offsets(grid, [(0, 0), (0, 1)])
    assert ctx.shape == (9, 4)
    assert ctx[0].tolist() == [1.0, 1.0, 2.0, 2.0]


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

    def __init__(self, offsets, coarse=0):
        self.offsets, self.coarse = offsets, coarse

    def causal_offsets(self, grid):
        return self.offsets

    def coarse_size(self, grid):
        return self.coarse if grid < 1 else 0

    def coarse_context(self, grid, state):
        raise AssertionError

    def header_fields(self):
        return {}


@pytest.mark.parametrize(
    "offsets, coarse, message",
    [
        ([(0, -1), (0, 0)], 0, "not causal"),
        ([(0, -1), (1, -3)], 0, "not causal"),
        ([(0, -1), (-5, 0)], 0, "outside"),
        ([(0, -1), (0, -1)], 0, "repeated"),
        ([(0, -1)], 0, "!= the ARM's 2 contexts"),
        ([(0, -1), (-1, 0)], 1, "!= the ARM's 2 contexts"),
    ],
)
def test_check_provider_rejects_broken_providers(offsets, coarse, message):
    setup = ProviderSetup(2, ((4, 4), (2, 2)))
    with pytest.raises(ProviderError, match=message):
        check_provider(_BadProvider(offsets, coarse), setup)


def test_spatial_provider_keeps_the_contract():
    setup = ProviderSetup(14, ((8, 8), (4, 4), (2, 2)))
    provider = SpatialProvider.from_options(setup, {})
    check_provider(provider, setup)
    assert provider.header_fields() == {}
    assert [len(provider.causal_offsets(i)) for i in range(3)] == [14, 14, 14]
