# SPDX-License-Identifier: BSD-3-Clause
"""Running genuine upstream Cool-chic 5.0.1 (from COOLCHIC_SRC) in the integration tests.

Upstream imports torchvision for one helper; where PyPI's torchvision does not
import, set UPSTREAM_SHIM to a folder with a stand-in (mrc-coolchic's shared
tools have one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coolchic.ab.upstream import launch_command, patch_file

SOURCE = os.environ.get("COOLCHIC_SRC")
needs_upstream = pytest.mark.skipif(
    not SOURCE, reason="COOLCHIC_SRC does not point to an upstream Cool-chic 5.0.1 checkout"
)

# Writes the bitstream of a saved frame encoder with the checkout it runs in.
_REWRITE = (
    "import sys\n"
    "from coolchic.component.frame import load_frame_encoder\n"
    "from coolchic.bitstream.encode import encode_frame\n"
    "from coolchic.utils.codingstructure import CodingStructure\n"
    "fe = load_frame_encoder(sys.argv[1])\n"
    "encode_frame(fe, sys.argv[2], CodingStructure(n_frames=1, intra_pos=[0], p_pos=[]))\n"
)


def upstream_env() -> dict:
    """The environment with the torchvision stand-in, if any, on PYTHONPATH."""
    env = dict(os.environ)
    paths = [p for p in (os.environ.get("UPSTREAM_SHIM"), env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def run_upstream(args: list[str], cwd: Path) -> str:
    """Run a script of the checkout ``cwd`` (seeded: upstream takes no seed), or ``-c`` code."""
    if args[0] == "-c":
        command = [sys.executable, *args]
    else:
        command = launch_command(sys.executable, cwd, args[0], args[1:], seed=0, threads=2)
    done = subprocess.run(command, cwd=cwd, env=upstream_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def copy_checkout(destination: Path, patched: bool) -> Path:
    """A copy of COOLCHIC_SRC (never modified), optionally with our patch applied."""
    shutil.copytree(SOURCE, destination, ignore=shutil.ignore_patterns(".git", "test-workdir"))
    if patched:
        subprocess.run(["patch", "-p1", "--forward", "-i", str(patch_file())], cwd=destination,
                       check=True, capture_output=True)
    return destination


def rewrite_bitstream(checkout: Path, frame_encoder: Path, output: Path) -> Path:
    """The bitstream that ``checkout``'s code writes for a trained frame encoder."""
    run_upstream(["-c", _REWRITE, str(frame_encoder), str(output)], checkout)
    return output
