# SPDX-License-Identifier: BSD-3-Clause
"""The MRC context tables (data/context_tables.json; see its "source" field)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

WINDOW = 9
RADIUS = 4
CENTER = 40
MAX_DEPTH = 6


@lru_cache(maxsize=1)
def context_tables() -> dict[int, dict[int, dict[int, tuple[int, ...]]]]:
    """``tables[N][depth][k]``: window indices, k = 0 causal, k >= 1 in the k-th coarser grid."""
    text = resources.files("mrc_plugin").joinpath("data/context_tables.json").read_text()
    raw = json.loads(text)["tables"]
    return {
        int(n): {
            int(depth): {int(k): tuple(v) for k, v in row.items()} for depth, row in by_depth.items()
        }
        for n, by_depth in raw.items()
    }


def table_sizes() -> list[int]:
    return sorted(context_tables())


def index_to_offset(index: int) -> tuple[int, int]:
    return index // WINDOW - RADIUS, index % WINDOW - RADIUS
