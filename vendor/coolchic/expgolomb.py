# SPDX-License-Identifier: BSD-3-Clause
"""Signed exponential-Golomb codes for the quantized network parameters.

A signed integer ``s`` of order ``k`` is written as the order-k Exp-Golomb
code of ``|s|`` followed by a sign bit when ``s != 0``. The order-k code of
``v`` writes ``w = v + 2^k`` in binary, preceded by ``n - k`` zeros where
``n = floor(log2 w)``: ``2n - k + 1`` bits in all.
"""

from __future__ import annotations

import numpy as np

MAX_ORDER = 12


def signed_expgolomb_bits(values: np.ndarray, order: int) -> int:
    """Exact number of bits of ``values`` (integers) coded with ``order``."""
    magnitude = np.abs(np.asarray(values, dtype=np.int64))
    shifted = magnitude + (1 << order)
    n = np.floor(np.log2(shifted.astype(np.float64))).astype(np.int64)
    return int(np.sum(2 * n - order + 1 + (magnitude != 0)))


def best_order(values: np.ndarray) -> tuple[int, int]:
    """The order in 0..MAX_ORDER that codes ``values`` in the fewest bits, and those bits."""
    costs = [(signed_expgolomb_bits(values, k), k) for k in range(MAX_ORDER + 1)]
    bits, order = min(costs)
    return order, bits
