# SPDX-License-Identifier: BSD-3-Clause
"""C kernels for the CPU training step, built on first use with the machine's C compiler.

A few parts of a training iteration run as many full-resolution torch
operators, each a pass over memory (``benchmarks/results/speed-cpu``). The C
sources next to this file do such a part in one pass over cache-sized tiles.
They are compiled once per source, compiler and CPU (``-O3 -march=native``),
into a cache folder (``$MRC_COOLCHIC_CACHE``, else ``$XDG_CACHE_HOME/mrc-coolchic``,
else ``~/.cache/mrc-coolchic``), and loaded with :mod:`ctypes`. The compiler is
``$CC`` or ``cc``.

:func:`library` raises :class:`NativeUnavailable` (a one-line reason) where no
compiler works; the encoder's ``--cpu_kernels`` decides what happens then.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from torch import Tensor

from coolchic.errors import ConfigError

SOURCES = ("arm.c", "pointwise.c", "upsample.c")
HEADERS = ("lanes.h",)
FLAGS = ("-O3", "-march=native", "-std=c11", "-shared", "-fPIC")
_HERE = Path(__file__).parent


class NativeUnavailable(ConfigError):
    """The C kernels cannot be built or loaded here; the message says why, in one line."""


def cache_folder() -> Path:
    explicit = os.environ.get("MRC_COOLCHIC_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mrc-coolchic"


def compiler() -> str:
    """The compiler's path; :class:`NativeUnavailable` if there is none."""
    name = os.environ.get("CC", "cc")
    found = shutil.which(name)
    if found is None:
        raise NativeUnavailable(f"no C compiler found ({name!r} is not on PATH; set CC)")
    return found


@functools.cache
def identity() -> str:
    """What the kernels' float results depend on: the compiler's version line and flags."""
    try:
        version = subprocess.run([compiler(), "--version"], capture_output=True, text=True,
                                 timeout=60, check=False).stdout.splitlines()
    except (NativeUnavailable, OSError, subprocess.SubprocessError):
        return "none"
    return f"{version[0] if version else 'unknown'} {' '.join(FLAGS)}"


def _key() -> str:
    from coolchic.machine import cpu_model  # machine imports the encoder, which imports this

    digest = hashlib.sha256()
    for name in (*SOURCES, *HEADERS):
        digest.update((_HERE / name).read_bytes())
    digest.update(f"{identity()}\n{cpu_model()}".encode())
    return digest.hexdigest()[:16]


def _build(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(handle)
    command = [compiler(), *FLAGS, "-o", temporary, *(str(_HERE / name) for name in SOURCES)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise NativeUnavailable(f"compiling the C kernels failed: {first}")
        os.replace(temporary, target)  # whole or not at all, even with builds side by side
    except OSError as error:
        raise NativeUnavailable(f"compiling the C kernels failed: {error}") from None
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


@functools.cache
def library() -> ctypes.CDLL:
    """The compiled kernels, built first if this source, compiler and CPU have none yet."""
    target = cache_folder() / f"kernels-{_key()}.so"
    if not target.exists():
        try:
            _build(target)
        except PermissionError as error:
            raise NativeUnavailable(f"cannot write the C kernels to {target.parent}: "
                                    f"{error.strerror} (set MRC_COOLCHIC_CACHE)") from None
    try:
        lib = ctypes.CDLL(str(target))
    except OSError as error:
        raise NativeUnavailable(f"cannot load the C kernels {target}: {error}") from None
    _declare(lib)
    return lib


def pointer(tensor: Tensor | None) -> ctypes.c_void_p:
    """A contiguous tensor's data as a C pointer (``None``: NULL)."""
    return ctypes.c_void_p(tensor.data_ptr() if tensor is not None else None)


def _declare(lib: ctypes.CDLL) -> None:
    address, count, size = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
    lib.pointwise_forward.argtypes = [address, count, size, size, size, *[address] * 5]
    lib.pointwise_forward.restype = None
    lib.pointwise_backward.argtypes = [address, address, count, size, size, size,
                                       *[address] * 8]
    lib.pointwise_backward.restype = ctypes.c_int
    lib.arm_forward.argtypes = [address, count, size, size, *[address] * 4, size, *[address] * 3]
    lib.arm_forward.restype = ctypes.c_int
    lib.arm_backward.argtypes = [address, address, count, size, size, *[address] * 4, size,
                                 *[address] * 9]
    lib.arm_backward.restype = ctypes.c_int
    lib.upsample_forward.argtypes = [address, count, count, count, address, size, address]
    lib.upsample_forward.restype = ctypes.c_int
    lib.upsample_backward.argtypes = [address, address, count, count, count, address, size,
                                      address, address]
    lib.upsample_backward.restype = ctypes.c_int
