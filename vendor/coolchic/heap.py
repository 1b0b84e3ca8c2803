# SPDX-License-Identifier: BSD-3-Clause
"""Keeping freed memory in the process during an encode (glibc only).

A CPU training iteration allocates and frees the same large activations
every time. glibc serves a block above its mmap threshold (at most 32 MiB)
with a fresh ``mmap`` and gives it back on free, and gives the top of its heap
back to the system beyond its trim threshold, so each iteration faults its
activations in again, page by page, zeroed by the kernel: on a 768x512 image
about 270 000 page faults per iteration, nearly half its time.

Inside :func:`kept_heap` every block comes from the heap (``M_MMAP_MAX = 0``)
and freed memory stays there (``M_TRIM_THRESHOLD = -1``: never trimmed), so
later iterations reuse it. The arithmetic is untouched: files are the same
bytes. The cost is memory held until the block ends: the heap fragments, as
torch asks for aligned blocks, and the peak grows (36% at 768x512, 63% at
2048x2048, ``benchmarks/results/speed-cpu``); on leaving, glibc's defaults come back and
``malloc_trim`` returns what is free (when the last of several encodes
running in threads of one process leaves). Elsewhere than glibc it does
nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from contextlib import contextmanager

from coolchic.switch import SharedSwitch

# mallopt parameters and glibc's defaults for them (malloc.h, mallopt(3)).
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
DEFAULT_TRIM_THRESHOLD = 128 * 1024
DEFAULT_MMAP_MAX = 65536
_NEVER = -1  # M_TRIM_THRESHOLD = -1: no trimming at all (mallopt(3))


@functools.lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``mallopt`` and ``malloc_trim``), else None."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # only glibc has it
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def available() -> bool:
    """Whether :func:`kept_heap` can act here (a glibc system)."""
    return _glibc() is not None


def _set(libc: ctypes.CDLL, parameter: int, value: int) -> None:
    if libc.mallopt(parameter, value) != 1:
        raise OSError(f"mallopt({parameter}, {value}) failed")


def _keep() -> None:
    libc = _glibc()
    _set(libc, M_MMAP_MAX, 0)
    _set(libc, M_TRIM_THRESHOLD, _NEVER)


def _release() -> None:
    libc = _glibc()
    _set(libc, M_MMAP_MAX, DEFAULT_MMAP_MAX)
    _set(libc, M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
    libc.malloc_trim(0)


#: Held by every encode inside kept_heap, in any thread: the last one out restores.
_switch = SharedSwitch(_keep, _release)


@contextmanager
def kept_heap(enabled: bool = True) -> Iterator[bool]:
    """Keep freed memory for reuse inside the block; yields whether it does."""
    if not enabled or _glibc() is None:
        yield False
        return
    with _switch.held():
        yield True
