# SPDX-License-Identifier: BSD-3-Clause
"""coolchic.heap: freed memory is reused inside kept_heap, given back after it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from coolchic.heap import available, kept_heap

from .helpers import small_encode

PROBE = Path(__file__).with_name("heap_probe.py")
needs_glibc = pytest.mark.skipif(not available(), reason="mallopt is glibc's")


def _probe(scenario: str) -> dict:
    """Run a heap_probe scenario in a fresh Python process; its JSON result."""
    done = subprocess.run([sys.executable, str(PROBE), scenario], check=False,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_glibc
def test_kept_heap_reuses_memory_and_gives_it_back_after():
    seen = _probe("single")
    assert seen["kept"] is True
    assert seen["outside"] > seen["big_pages"] / 2  # glibc's defaults: mapped again every time
    assert seen["inside"] < seen["iteration_pages"] / 50  # reused
    assert seen["after"] > seen["big_pages"] / 2  # the defaults are back


@needs_glibc
def test_nested_blocks_keep_memory_until_the_last_one_leaves():
    seen = _probe("nested")
    assert seen["kept"] is True
    assert seen["inside"] < seen["iteration_pages"] / 50  # still kept: the outer holds it
    assert seen["after"] > seen["big_pages"] / 2  # the defaults are back


def test_kept_heap_off_does_nothing():
    with kept_heap(False) as kept:
        assert kept is False


def test_keep_memory_option_leaves_the_file_unchanged(tmp_path):
    """On or off, an encode writes the same bytes, and its results say which it was."""
    for value in ("on", "off"):
        code, record = small_encode(tmp_path, value, "--keep_memory", value)
        assert code == 0 and record["memory_kept"] is (value == "on" and available())
    assert (tmp_path / "on.cool").read_bytes() == (tmp_path / "off.cool").read_bytes()
