# SPDX-License-Identifier: BSD-3-Clause
"""Page faults of a fresh process, with and without coolchic.heap.kept_heap.

Run as ``python heap_probe.py SCENARIO``; prints one JSON object. The tests run it in
a new process because glibc's heap in a long-lived pytest worker carries the history of
every earlier test (in CI one worker faulted a 12 MiB block on every iteration inside
kept_heap after hundreds of other tests); an encode runs in a process of its own.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys

import torch
from coolchic.heap import kept_heap
from coolchic.threads import torch_threads

#: Pages one iteration touches.
ITERATION_PAGES = (78 << 20) // resource.getpagesize()
#: Larger than anything the heap holds here, and than glibc's largest mmap threshold (32 MiB):
#: with glibc's defaults a fresh mapping every time, whatever the heap's history.
BIG = 256 << 20
BIG_PAGES = BIG // resource.getpagesize()


def _iteration() -> None:
    """Allocate and free activations of a training step's kind (1 to 50 MiB)."""
    tensors = [torch.empty(n, dtype=torch.uint8).fill_(1)
               for n in (12 << 20, 12 << 20, 3 << 20, 50 << 20, 1 << 20)]
    summed = tensors[0][: 1 << 20] + 1
    del tensors, summed


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


def faults_per_iteration() -> float:
    """Faults of a training-like iteration: near zero once freed memory is kept."""
    return _median_faults(_iteration, 7)


def faults_of_big_block() -> float:
    """Faults of a ``BIG`` block allocated again: all its pages while glibc's defaults hold.

    (Smaller blocks are not a reliable witness of the defaults: glibc may serve them from
    free heap memory that the kept block left behind.)
    """
    return _median_faults(lambda: torch.empty(BIG, dtype=torch.uint8).fill_(1), 3)


def single() -> dict:
    """Big-block faults before, iteration faults inside, big-block faults after one block."""
    outside = faults_of_big_block()
    with kept_heap() as kept:
        inside = faults_per_iteration()
    return {"kept": kept, "outside": outside, "inside": inside, "after": faults_of_big_block()}


def nested() -> dict:
    """Iteration faults after an inner block left while the outer holds; big block after.

    It starts as ``single`` does, with a big block under glibc's defaults: in two full test
    runs on the dev box (2026-11-28) ``single`` passed and ``nested``, without that start,
    faulted its 50 MiB block on every iteration; both pass alone. Why is not known.
    """
    faults_of_big_block()
    with kept_heap() as kept:
        with kept_heap():
            pass
        inside = faults_per_iteration()
    return {"kept": kept, "inside": inside, "after": faults_of_big_block()}


SCENARIOS = {"single": single, "nested": nested}

if __name__ == "__main__":
    result = SCENARIOS[sys.argv[1]]()
    result.update(iteration_pages=ITERATION_PAGES, big_pages=BIG_PAGES)
    print(json.dumps(result))
