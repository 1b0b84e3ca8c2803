# SPDX-License-Identifier: BSD-3-Clause
"""The built-in ``spatial`` context provider: Cool-chic's own causal context.

It goes through the same hook contract as any plugin; the host registers this
module as a built-in plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coolchic.context import spatial_offsets
from coolchic.hooks import CoarsePosition, Offset, ProviderSetup, RegisterProvider, hookimpl


class SpatialProvider:
    """All ``N`` context values are causal neighbours in the grid itself."""

    name = "spatial"

    def __init__(self, setup: ProviderSetup) -> None:
        self._offsets = spatial_offsets(setup.n_contexts)

    @classmethod
    def from_options(cls, setup: ProviderSetup, options: Mapping[str, Any]) -> SpatialProvider:
        return cls(setup)

    @classmethod
    def from_header(cls, setup: ProviderSetup, fields: Mapping[str, int]) -> SpatialProvider:
        return cls(setup)

    def causal_offsets(self, grid: int) -> list[Offset]:
        return list(self._offsets)

    def coarse_positions(self, grid: int) -> list[CoarsePosition]:
        return []

    def header_fields(self) -> dict[str, int]:
        return {}


@hookimpl(trylast=True)
def coolchic_register_context_providers(register: RegisterProvider) -> None:
    register("spatial", SpatialProvider)
