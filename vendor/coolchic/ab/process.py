# SPDX-License-Identifier: BSD-3-Clause
"""Running one step of an A/B job (an encode, a decode) as a child process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from coolchic.errors import CoolChicError

#: Runs a step's command on Linux as a small supervising process: it asks to be killed when
#: the parent dies (prctl PR_SET_PDEATHSIG), gives up if the parent is already gone, starts
#: the command as its own child with the same request, and when it ends writes the command's
#: peak resident memory (``ru_maxrss``, KiB) to a file and exits with the command's status.
#: The command is not exec'ed from the parent directly because Linux carries the exec'ing
#: process's high-water mark into ``ru_maxrss``: the child of a large parent (an ``ab`` run
#: with torch loaded) would report the parent's memory. This process stays a few MiB.
_LAUNCHER = (
    "import ctypes, os, signal, subprocess, sys\n"
    "libc = ctypes.CDLL(None)\n"
    "def die_with(parent):\n"
    "    libc.prctl(1, signal.SIGKILL)\n"
    "    if os.getppid() != parent:\n"
    "        os._exit(1)\n"
    "die_with(int(sys.argv[1]))\n"
    "me = os.getpid()\n"
    "child = subprocess.Popen(sys.argv[3:], preexec_fn=lambda: die_with(me))\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "child.returncode = os.waitstatus_to_exitcode(status)\n"
    "with open(sys.argv[2], 'w') as peak:\n"
    "    peak.write(str(usage.ru_maxrss))\n"
    "sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)\n"
)


def supervised(command: Sequence[str], peak_file: Path) -> list[str]:
    """``command``, run so that it dies with the process running it and its peak memory is kept.

    A cluster worker killed mid-job must not leave its encode running, writing
    into a work directory that the job's next attempt has taken over. The
    command's peak resident memory (KiB) is written to ``peak_file`` when it ends.
    Linux only: elsewhere the command is returned unchanged and nothing is written.
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", _LAUNCHER, str(os.getpid()), str(peak_file), *command]


class JobError(CoolChicError):
    """A job's encode or decode failed, or its decoded image is not the encoder's."""


@dataclass(frozen=True)
class StepResult:
    stdout: str
    wall_s: float
    peak_rss_mib: float | None  # the command's largest resident memory, MiB (Linux only)


def run_step(
    command: Sequence[str],
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> StepResult:
    """Run ``command``; return its standard output, wall time and peak memory, or raise.

    The error names ``what`` and carries the last line the step printed, which is
    where Python tracebacks and our one-line errors put the reason. The peak
    memory is that of the command itself (:func:`supervised`); ``None`` off Linux.
    """
    with tempfile.TemporaryDirectory(prefix="coolchic-step-") as scratch:
        peak_file = Path(scratch) / "peak_kib"
        start = time.monotonic()
        done = subprocess.run(supervised(command, peak_file), check=False, capture_output=True,
                              text=True, cwd=cwd, env=None if env is None else dict(env))
        wall = time.monotonic() - start
        peak = int(peak_file.read_text()) / 1024 if peak_file.is_file() else None
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise JobError(f"{what} failed ({lines[-1] if lines else f'exit {done.returncode}'})")
    return StepResult(done.stdout, wall, peak)
