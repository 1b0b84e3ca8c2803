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


class BitWriter:
    """Most-significant-bit-first bit packer."""

    def __init__(self) -> None:
        self._bits: list[str] = []

    def write(self, value: int, n_bits: int) -> None:
        if n_bits:
            self._bits.append(format(value, f"0{n_bits}b"))

    def to_bytes(self) -> bytes:
        text = "".join(self._bits)
        text += "0" * (-len(text) % 8)
        return int(text, 2).to_bytes(len(text) // 8, "big") if text else b""


class BitReader:
    """Reads what :class:`BitWriter` wrote; raises ``EOFError`` past the end."""

    def __init__(self, data: bytes) -> None:
        self._text = "".join(format(byte, "08b") for byte in data)
        self._pos = 0

    @property
    def bits_read(self) -> int:
        return self._pos

    @property
    def bits_left(self) -> int:
        return len(self._text) - self._pos

    def read(self, n_bits: int) -> int:
        if self._pos + n_bits > len(self._text):
            raise EOFError("bit stream ended early")
        chunk = self._text[self._pos : self._pos + n_bits]
        self._pos += n_bits
        return int(chunk, 2) if chunk else 0

    def count_zeros(self, limit: int) -> int:
        """Zeros before the next one-bit (which is consumed), at most ``limit``."""
        one = self._text.find("1", self._pos, self._pos + limit + 1)
        if one < 0:
            if self._pos + limit + 1 > len(self._text):
                raise EOFError("bit stream ended early")
            raise ValueError(f"more than {limit} leading zeros")
        zeros = one - self._pos
        self._pos = one + 1
        return zeros


def write_signed(writer: BitWriter, values: np.ndarray, order: int) -> None:
    """Append the signed exp-Golomb codes of ``values`` (see the module docstring)."""
    for value in np.asarray(values, dtype=np.int64).tolist():
        magnitude = abs(value)
        shifted = magnitude + (1 << order)
        n = shifted.bit_length() - 1
        writer.write(0, n - order)
        writer.write(shifted, n + 1)
        if magnitude:
            writer.write(1 if value < 0 else 0, 1)


def read_signed(reader: BitReader, count: int, order: int, max_magnitude: int) -> np.ndarray:
    """Read ``count`` values written by :func:`write_signed`.

    Raises ``EOFError`` if the stream ends early and ``ValueError`` if a code
    would exceed ``max_magnitude``: a corrupt stream cannot make it loop long.
    """
    limit = max(max_magnitude + (1 << order), 1).bit_length()
    values = np.empty(count, dtype=np.int64)
    for index in range(count):
        extra = reader.count_zeros(limit)
        n = extra + order
        shifted = (1 << n) | reader.read(n)
        magnitude = shifted - (1 << order)
        if magnitude > max_magnitude:
            raise ValueError(f"parameter magnitude {magnitude} exceeds {max_magnitude}")
        negative = reader.read(1) if magnitude else 0
        values[index] = -magnitude if negative else magnitude
    return values

