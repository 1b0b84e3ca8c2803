# SPDX-License-Identifier: BSD-3-Clause
"""Running one step of an A/B job (an encode, a decode) as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from coolchic.errors import CoolChicError


#: Run before a step's command on Linux: ask to be killed when the parent dies (prctl
#: PR_SET_PDEATHSIG; it survives exec), give up if the parent is already gone, then exec.
_LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def dies_with_parent(command: Sequence[str]) -> list[str]:
    """``command``, started so that it is killed if the process running it dies (Linux).

    A cluster worker killed mid-job must not leave its encode running, writing
    into a work directory that the job's next attempt has taken over.
    Elsewhere the command is returned unchanged.
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *command]


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
    done = subprocess.run(dies_with_parent(command), capture_output=True, text=True, cwd=cwd,
                          env=None if env is None else dict(env))
    wall = time.monotonic() - start
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise JobError(f"{what} failed ({lines[-1] if lines else f'exit {done.returncode}'})")
    return done.stdout, wall
