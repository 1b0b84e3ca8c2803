# SPDX-License-Identifier: BSD-3-Clause
"""Spatial ARM context: window positions and Cool-chic's choice of them.

Positions are flat indices in the 9x9 window centred on the current latent,
``index = (dy + 4) * 9 + (dx + 4)``; 40 is the latent itself, 0..39 precede it
in raster order::

     0  1  2  3  4  5  6  7  8
     9 10 11 12 13 14 15 16 17
    18 19 20 21 22 23 24 25 26
    27 28 29 30 31 32 33 34 35
    36 37 38 39  *  .  .  .  .

Cool-chic v4 used fixed shapes for 8, 16, 24 and 32 contexts; v5 takes the
first N positions of a priority order. We use the v4 shape where one exists
and v5's order otherwise.
"""

from __future__ import annotations

from coolchic.hooks import WINDOW_RADIUS, Offset

WINDOW = 2 * WINDOW_RADIUS + 1
CENTER_INDEX = WINDOW * WINDOW // 2
MAX_CONTEXTS = CENTER_INDEX

# Cool-chic v4 context shapes (flat window indices).
V4_SHAPES: dict[int, tuple[int, ...]] = {
    8: (13, 22, 30, 31, 32, 37, 38, 39),
    16: (13, 14, 20, 21, 22, 23, 24, 28, 29, 30, 31, 32, 33, 37, 38, 39),
    24: (4, 11, 12, 13, 14, 15, 19, 20, 21, 22, 23, 24, 25,
         28, 29, 30, 31, 32, 33, 34, 36, 37, 38, 39),
    32: (2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 24, 25, 26,
         27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39),
}  # fmt: skip

# Cool-chic v5 priority of each causal window index (0 = used first).
V5_PRIORITY: tuple[int, ...] = (
    38, 35, 30, 25, 23, 31, 36, 37, 39,
    33, 28, 21, 20,  6, 15, 22, 29, 34,
    32, 18, 12, 10,  5,  9, 14, 19, 27,
    24, 13,  8,  2,  1,  3, 11, 17, 26,
    16,  7,  4,  0,
)  # fmt: skip


def index_to_offset(index: int) -> Offset:
    """Flat window index -> (dy, dx)."""
    return index // WINDOW - WINDOW_RADIUS, index % WINDOW - WINDOW_RADIUS


def offset_to_index(offset: Offset) -> int:
    dy, dx = offset
    return (dy + WINDOW_RADIUS) * WINDOW + dx + WINDOW_RADIUS


def spatial_indices(n_contexts: int) -> tuple[int, ...]:
    """Window indices of the spatial context of size ``n_contexts``."""
    if not 0 <= n_contexts <= MAX_CONTEXTS:
        raise ValueError(f"the spatial context holds 0 to {MAX_CONTEXTS} values, not {n_contexts}")
    if n_contexts in V4_SHAPES:
        return V4_SHAPES[n_contexts]
    by_priority = sorted(range(MAX_CONTEXTS), key=lambda i: V5_PRIORITY[i])
    return tuple(by_priority[:n_contexts])


def spatial_offsets(n_contexts: int) -> list[Offset]:
    return [index_to_offset(i) for i in spatial_indices(n_contexts)]
