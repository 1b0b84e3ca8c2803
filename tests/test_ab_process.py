# SPDX-License-Identifier: BSD-3-Clause
"""One step of an A/B job as a child process: output, wall time, peak memory, failure."""

from __future__ import annotations

import sys

import pytest

from coolchic.ab.process import JobError, run_step


def allocate(mib: int) -> list[str]:
    """A child that touches ``mib`` MiB (a bytearray is zero-filled, so resident) and prints."""
    return [sys.executable, "-c", f"b = bytearray({mib} * 2**20); print('held', len(b) >> 20)"]


def test_run_step_measures_the_childs_own_peak_memory():
    small = run_step(allocate(1), "small")
    large = run_step(allocate(300), "large")
    assert small.stdout.strip() == "held 1" and large.stdout.strip() == "held 300"
    assert small.wall_s > 0 and large.wall_s > 0
    # An interpreter alone takes a few MiB, far less than this test's process (torch is
    # loaded), whose memory must not count; the large child holds 300 MiB more.
    assert 1 < small.peak_rss_mib < 60
    assert 290 < large.peak_rss_mib - small.peak_rss_mib < 320
    # Measured per step: a later small step does not inherit the large one's peak.
    assert run_step(allocate(1), "small again").peak_rss_mib < 60


def test_run_step_failure_names_the_step_and_its_last_line(tmp_path):
    script = "import sys; print('working'); sys.exit('no such image: x.png')"
    with pytest.raises(JobError, match=r"^encode of x failed \(no such image: x.png\)$"):
        run_step([sys.executable, "-c", script], "encode of x", cwd=tmp_path)
    with pytest.raises(JobError, match=r"failed \(exit 3\)$"):
        run_step([sys.executable, "-c", "raise SystemExit(3)"], "silent step")
