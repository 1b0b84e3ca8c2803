# SPDX-License-Identifier: BSD-3-Clause
"""coolchic.heap: freed memory is reused inside kept_heap, given back after it."""

from __future__ import annotations

import json
import resource
import statistics

import pytest
import torch

from coolchic.cli import main
from coolchic.heap import available, kept_heap
from coolchic.imageio import demo_image, save_png

needs_glibc = pytest.mark.skipif(not available(), reason="mallopt is glibc's")


def _iteration() -> None:
    """Allocate and free activations of a training step's kind (1 to 50 MiB)."""
    tensors = [torch.empty(n, dtype=torch.uint8).fill_(1)
               for n in (12 << 20, 12 << 20, 3 << 20, 50 << 20, 1 << 20)]
    summed = tensors[0][: 1 << 20] + 1
    del tensors, summed


def _faults_per_iteration(warm: int = 5, counted: int = 7) -> float:
    """The median of this thread's page faults over ``counted`` iterations, after ``warm``."""
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    for _ in range(warm):
        _iteration()
    faults = []
    for _ in range(counted):
        start = resource.getrusage(who).ru_minflt
        _iteration()
        faults.append(resource.getrusage(who).ru_minflt - start)
    return statistics.median(faults)


@needs_glibc
def test_kept_heap_reuses_memory_and_gives_it_back_after():
    pages = (78 << 20) // resource.getpagesize()  # what one iteration touches
    outside = _faults_per_iteration()
    with kept_heap() as kept:
        inside = _faults_per_iteration()
    after = _faults_per_iteration()
    assert kept is True
    assert outside > pages / 2  # glibc's defaults: mapped again on every iteration
    assert inside < pages / 50  # reused
    assert after > pages / 2  # the defaults are back


@needs_glibc
def test_nested_blocks_keep_memory_until_the_last_one_leaves():
    pages = (78 << 20) // resource.getpagesize()
    with kept_heap():
        with kept_heap():
            pass
        assert _faults_per_iteration() < pages / 50  # still kept: the outer block holds it
    assert _faults_per_iteration() > pages / 2


def test_kept_heap_off_does_nothing():
    with kept_heap(False) as kept:
        assert kept is False


def test_keep_memory_option_leaves_the_file_unchanged(tmp_path):
    """On or off, an encode writes the same bytes, and its results say which it was."""
    image = tmp_path / "x.png"
    save_png(demo_image(24, 32, seed=1), image)
    files = {}
    for value in ("on", "off"):
        out, results = tmp_path / f"{value}.cool", tmp_path / f"{value}.json"
        assert main(["encode", "-i", str(image), "-o", str(out), "--dec_cfg", "lop", "--preset",
                     "fast", "--n_itr", "40", "--device", "cpu", "--quiet", "--keep_memory", value,
                     "--results", str(results)]) == 0
        files[value] = out.read_bytes()
        assert json.loads(results.read_text())["memory_kept"] is (value == "on" and available())
    assert files["on"] == files["off"]
