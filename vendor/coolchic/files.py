# SPDX-License-Identifier: BSD-3-Clause
"""Writing output files whole or not at all: bitstreams, images, JSON records.

Every writer goes through :func:`write_atomically`, so an interrupted command
never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coolchic.errors import OutputError


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({error.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | os.PathLike, record: Mapping[str, Any]) -> None:
    """A JSON record, indented with sorted keys, written atomically."""
    write_atomically(path, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
