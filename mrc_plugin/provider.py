# SPDX-License-Identifier: BSD-3-Clause
"""The ``mrc`` context provider: multiresolution contexts for the ARM.

Implements H. B. Dogaroglu, C. E. Wiedemann, E. Steinbach, "Multiresolution
Contexts for Implicit Neural Codecs", Picture Coding Symposium (PCS) 2025.

Cool-chic's ARM predicts a latent of grid i from N causal neighbours in grid
i. MRC keeps N (hence the ARM and its MAC/pixel) but spends part of it on the
coarser grids i+1 .. i+D, brought to the resolution of grid i by Cool-chic's
own learned upsampling, which the decoder has already run on them: positions
around the co-located latent, past and future alike, since those grids are
fully decoded. Rate gradients flow into the upsampling filters during
training. The paper's window for N = 32 at depth 6 (``x`` read, ``*`` the
latent being coded, ``o`` co-located)::

      grid i: 18 causal        grid i+1, upsampled: 9     grids i+2..i+6: 1 each
      . . . . . . . . .        . . . . . . . . .          . . . . . . . . .
      . . . x x x . . .        . . . . . . . . .          . . . . . . . . .
      . . x x x x x . .        . . . . . . . . .          . . . . . . . . .
      . x x x x x x x .        . . . x x x . . .          . . . . . . . . .
      . x x x * . . . .        . . . x o x . . .          . . . . o . . . .
                               . . . x x x . . .

Depth is capped, grid by grid, by the number of coarser grids: the coarsest
grid uses the depth-0 table, Cool-chic's own context. The paper's tables
cover N = 8, 16, 24 and 32; for upstream Cool-chic 5.0.1's sizes (6, 10, 14,
20) ``mrc_plugin.tables`` derives tables by the paper's rule. The provider
only names positions; the host gathers them (hook contract version 2). This
module imports only the hook contract, so it runs in any host that ships
``coolchic/hooks.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coolchic.hooks import CoarsePosition, Offset, ProviderError, ProviderSetup
from mrc_plugin.tables import MAX_DEPTH, index_to_offset, table, table_sizes

DEFAULT_DEPTH = 6


class MRCProvider:
    """Context of grid i: causal positions plus positions in the upsampled coarser grids."""

    name = "mrc"

    def __init__(self, setup: ProviderSetup, depth: int, coarse: int = 0,
                 colocated: int = 1) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
            raise ProviderError(f"mrc_depth = {depth}: must be an integer in 0..{MAX_DEPTH}")
        if isinstance(coarse, bool) or not isinstance(coarse, int) or coarse < 0:
            raise ProviderError(f"mrc_coarse = {coarse}: must be 0 (the tables' rule) or a "
                                "positive integer")
        if colocated not in (0, 1) or isinstance(colocated, bool):
            raise ProviderError(f"mrc_colocated = {colocated}: must be 1 (the first coarser "
                                "grid gives its co-located value) or 0 (it does not)")
        if table(setup.n_contexts, 0) is None:
            sizes = ", ".join(str(n) for n in table_sizes())
            raise ProviderError(
                f"mrc has no context table for an ARM with {setup.n_contexts} contexts; "
                f"tables exist for {sizes}"
            )
        self.depth = depth
        self.coarse = coarse
        self.colocated = colocated
        self._causal: list[list[Offset]] = []
        self._coarse: list[list[CoarsePosition]] = []
        for grid in range(setup.n_grids):
            try:
                row = table(setup.n_contexts, min(depth, setup.n_grids - 1 - grid),
                            coarse or None, bool(colocated))
            except ValueError as error:
                what = f"mrc_coarse = {coarse}" if colocated else "mrc_colocated = 0"
                raise ProviderError(f"{what}: {error}") from None
            self._causal.append([index_to_offset(i) for i in row[0]])
            self._coarse.append([(k, *index_to_offset(i)) for k in sorted(row) if k >= 1
                                 for i in row[k]])

    @classmethod
    def from_options(cls, setup: ProviderSetup, options: Mapping[str, Any]) -> MRCProvider:
        return cls(setup, options.get("mrc_depth", DEFAULT_DEPTH), options.get("mrc_coarse", 0),
                   options.get("mrc_colocated", 1))

    @classmethod
    def from_header(cls, setup: ProviderSetup, fields: Mapping[str, int]) -> MRCProvider:
        if "depth" not in fields or not set(fields) <= {"depth", "coarse", "colocated"}:
            raise ProviderError(f"mrc expects the header fields depth (and coarse, colocated); "
                                f"found {sorted(fields)}")
        return cls(setup, fields["depth"], fields.get("coarse", 0), fields.get("colocated", 1))

    def causal_offsets(self, grid: int) -> list[Offset]:
        return list(self._causal[grid])

    def coarse_positions(self, grid: int) -> list[CoarsePosition]:
        return list(self._coarse[grid])

    def header_fields(self) -> dict[str, int]:
        return {"depth": self.depth, **({"coarse": self.coarse} if self.coarse else {}),
                **({} if self.colocated else {"colocated": 0})}
