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
from coolchic.threads import torch_threads

needs_glibc = pytest.mark.skipif(not available(), reason="mallopt is glibc's")


def _iteration() -> None:
    """Allocate and free activations of a training step's kind (1 to 50 MiB)."""
    tensors = [torch.empty(n, dtype=torch.uint8).fill_(1)
               for n in (12 << 20, 12 << 20, 3 << 20, 50 << 20, 1 << 20)]
    summed = tensors[0][: 1 << 20] + 1
    del tensors, summed


#: Pages one iteration touches.
ITERATION_PAGES = (78 << 20) // resource.getpagesize()
#: Larger than anything the heap holds here, and than glibc's largest mmap threshold (32 MiB):
#: with glibc's defaults a fresh mapping every time, whatever the heap's history.
BIG = 256 << 20
BIG_PAGES = BIG // resource.getpagesize()


def _median_faults(work, repeats: int) -> float:
    """This thread's page faults of ``work()``, median of ``repeats`` after one warm-up.

    One torch thread, so that ``fill_`` touches the pages here and not in a worker thread.
    """
    who = getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF)
    faults = []
    with torch_threads(1):
        work()
        for _ in range(repeats):
            start = resource.getrusage(who).ru_minflt
            work()
            faults.append(resource.getrusage(who).ru_minflt - start)
    return statistics.median(faults)


def _faults_per_iteration() -> float:
    """Faults of a training-like iteration: near zero once freed memory is kept."""
    return _median_faults(_iteration, 7)


def _faults_of_big_block() -> float:
    """Faults of a ``BIG`` block allocated again: all its pages while glibc's defaults hold.

    (Smaller blocks are not a reliable witness of the defaults: glibc may serve them from
    free heap memory that the kept block left behind.)
    """
    return _median_faults(lambda: torch.empty(BIG, dtype=torch.uint8).fill_(1), 3)


@needs_glibc
def test_kept_heap_reuses_memory_and_gives_it_back_after():
    outside = _faults_of_big_block()
    with kept_heap() as kept:
        inside = _faults_per_iteration()
    after = _faults_of_big_block()
    assert kept is True
    assert outside > BIG_PAGES / 2  # glibc's defaults: mapped again every time
    assert inside < ITERATION_PAGES / 50  # reused
    assert after > BIG_PAGES / 2  # the defaults are back


@needs_glibc
def test_nested_blocks_keep_memory_until_the_last_one_leaves():
    with kept_heap():
        with kept_heap():
            pass
        assert _faults_per_iteration() < ITERATION_PAGES / 50  # still kept: the outer holds it
    assert _faults_of_big_block() > BIG_PAGES / 2


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
