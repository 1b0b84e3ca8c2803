# SPDX-License-Identifier: BSD-3-Clause
"""MRC context tables: the paper's, and ours for Cool-chic v5's context sizes.

``table(N, depth)`` maps k to window indices: k = 0 lists causal positions in
the coded grid, k >= 1 positions in the k-th coarser grid upsampled to the
coded grid's resolution; N positions in all.

The paper's tables (N = 8, 16, 24, 32) are data (data/context_tables.json,
whose "source" field says where they come from). For upstream Cool-chic
5.0.1's sizes (N = 6, 10, 14, 20) we derive tables by the paper's own rule:

* the coarse part holds ``B = max(ceil(N / 4), D)`` positions, N/4 being the
  paper's share at N = 8 and 16; the causal part keeps at least the two
  nearest neighbours, so depth is capped at ``N - 2``;
* grids 2..D give their co-located position, the first coarser grid the
  rest, taken in the order the paper's tables keep them as depth grows
  (co-located, right, below, left, above, then the 3x3 corners, ...);
* the causal part keeps the highest-priority positions of v5's order.

At N = 8 and 16 this rule gives exactly the paper's coarse positions.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

WINDOW = 9
RADIUS = 4
CENTER = 40
MAX_DEPTH = 6
DESIGNED_SIZES = (6, 10, 14, 20)
MIN_CAUSAL = 2

Table = dict[int, tuple[int, ...]]


@lru_cache(maxsize=1)
def _data() -> dict:
    text = resources.files("mrc_plugin").joinpath("data/context_tables.json").read_text()
    return json.loads(text)


@lru_cache(maxsize=1)
def context_tables() -> dict[int, dict[int, Table]]:
    """The paper's ``tables[N][depth][k]``."""
    return {
        int(n): {
            int(depth): {int(k): tuple(v) for k, v in row.items()} for depth, row in by_depth.items()
        }
        for n, by_depth in _data()["tables"].items()
    }


def designed_table(n_contexts: int, depth: int, n_coarse: int | None = None,
                   colocated: bool = True) -> Table:
    """Our table for a context size the paper has none for (see the module docstring).

    ``n_coarse`` overrides the rule's count of coarse positions (``depth`` to
    ``N - 2``, at most the first coarser grid's 14 ranked positions plus one
    per deeper grid); it is ignored at depth 0. Without ``colocated`` the first
    coarser grid gives its ranked positions other than the co-located one (which
    an IFCE already feeds the ARM, nearest-upsampled).
    """
    depth = min(depth, n_contexts - MIN_CAUSAL)
    level1 = [i for i in _data()["level1_priority"]["order"] if colocated or i != CENTER]
    if depth == 0:
        n_coarse = 0
    elif n_coarse is None:
        n_coarse = max(math.ceil(n_contexts / 4), depth)
    else:
        ranked = len(level1)
        if not depth <= n_coarse <= min(n_contexts - MIN_CAUSAL, ranked + depth - 1):
            raise ValueError(f"{n_coarse} coarse positions at depth {depth} for N = "
                             f"{n_contexts}: must be {depth}.."
                             f"{min(n_contexts - MIN_CAUSAL, ranked + depth - 1)}")
    causal = _data()["v5_priority"]["order"][: n_contexts - n_coarse]
    row: Table = {0: tuple(causal)}  # priority order: depth 0 is v5's spatial context
    if depth:
        row[1] = tuple(level1[: n_coarse - (depth - 1)])
        for k in range(2, depth + 1):
            row[k] = (CENTER,)
    return row


def table_sizes() -> list[int]:
    return sorted([*context_tables(), *DESIGNED_SIZES])


def table(n_contexts: int, depth: int, n_coarse: int | None = None,
          colocated: bool = True) -> Table | None:
    """The table for N contexts at ``depth``, or None if there is none.

    ``n_coarse`` and ``colocated`` (designed sizes only) override the rule's
    coarse count and its use of the co-located position.
    """
    if n_contexts in context_tables():
        if n_coarse is not None or not colocated:
            raise ValueError(f"N = {n_contexts} uses the paper's tables, whose coarse "
                             "positions are fixed")
        return context_tables()[n_contexts][depth]
    if n_contexts in DESIGNED_SIZES:
        return designed_table(n_contexts, depth, n_coarse, colocated)
    return None


def index_to_offset(index: int) -> tuple[int, int]:
    return index // WINDOW - RADIUS, index % WINDOW - RADIUS
