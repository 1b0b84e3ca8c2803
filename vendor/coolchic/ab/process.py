# SPDX-License-Identifier: BSD-3-Clause
"""Running one step of an A/B job (an encode, a decode) as a child process."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from coolchic.errors import CoolChicError


class JobError(CoolChicError):
    """A job's encode or decode failed, or its decoded image is not the encoder's."""


def run_step(
    command: Sequence[str],
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[str, float]:
    """Run ``command``; return its standard output and wall time, or raise naming ``what``.

    The error carries the last line the step printed, which is where Python
    tracebacks and our one-line errors put the reason.
    """
    start = time.monotonic()
    done = subprocess.run(list(command), capture_output=True, text=True, cwd=cwd,
                          env=None if env is None else dict(env))
    wall = time.monotonic() - start
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise JobError(f"{what} failed ({lines[-1] if lines else f'exit {done.returncode}'})")
    return done.stdout, wall
