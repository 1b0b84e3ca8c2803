# SPDX-License-Identifier: BSD-3-Clause
"""A third-party Cool-chic context provider, the whole contract in one file.

``colocated`` fills the ARM context of grid i with its nearest causal
neighbours in grid i, except for ``depth`` values: the co-located latent of
each of the next ``depth`` coarser grids, as upsampled by the decoder. Use it
with ``context_provider = colocated`` (and ``colocated_depth = 2``) in a
Cool-chic config file, or ``--context_provider colocated``.

The host asks a provider for two lists of positions per grid (see
coolchic/hooks.py, contract version 2): causal offsets in the grid itself, and
(k, dy, dx) positions in the coarser grids as upsampled by the decoder. They
always add up to the ARM's context size N; the host reads the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coolchic.hooks import ProviderError, ProviderSetup, hookimpl

MAX_DEPTH = 3


def nearest_causal_offsets(count: int) -> list[tuple[int, int]]:
    """The ``count`` causal positions of the 9x9 window nearest to the latent."""
    causal = [(dy, dx) for dy in range(-4, 1) for dx in range(-4, 5) if dy < 0 or dx < 0]
    causal.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, -o[0], o[1]))
    return causal[:count]


class ColocatedProvider:
    name = "colocated"

    def __init__(self, setup: ProviderSetup, depth: int) -> None:
        if not 1 <= depth <= MAX_DEPTH or depth >= setup.n_contexts:
            raise ProviderError(
                f"colocated_depth = {depth}: must be in 1..{MAX_DEPTH} and below the "
                f"{setup.n_contexts} ARM contexts"
            )
        self.setup, self.depth = setup, depth

    # --- building: from the encoder's options, or from a bitstream header
    @classmethod
    def from_options(cls, setup: ProviderSetup, options: Mapping[str, Any]) -> ColocatedProvider:
        return cls(setup, int(options.get("colocated_depth", 1)))

    @classmethod
    def from_header(cls, setup: ProviderSetup, fields: Mapping[str, int]) -> ColocatedProvider:
        return cls(setup, fields["depth"])

    def header_fields(self) -> dict[str, int]:
        return {"depth": self.depth}  # all the decoder needs to rebuild this provider

    # --- the context of grid i
    def coarse_positions(self, grid: int) -> list[tuple[int, int, int]]:
        # (k, dy, dx): the co-located value (0, 0) of grids i + 1 .. i + depth, as far
        # as they exist.
        coarser_grids = self.setup.n_grids - 1 - grid
        return [(k, 0, 0) for k in range(1, min(self.depth, coarser_grids) + 1)]

    def causal_offsets(self, grid: int) -> list[tuple[int, int]]:
        return nearest_causal_offsets(self.setup.n_contexts - len(self.coarse_positions(grid)))


@hookimpl
def coolchic_register_context_providers(register) -> None:
    register("colocated", ColocatedProvider)


@hookimpl
def coolchic_add_options(parser) -> None:
    parser.add_argument(
        "--colocated_depth", type=int, default=1,
        help=f"colocated provider: coarser grids giving their co-located value (1..{MAX_DEPTH})",
    )
