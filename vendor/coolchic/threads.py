# SPDX-License-Identifier: BSD-3-Clause
"""Running torch with a given number of CPU threads for a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Use ``count`` CPU threads inside the block (0: leave as is), restoring after."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def single_thread() -> Iterator[None]:
    """Use one CPU thread inside the block.

    Two reasons to: float convolutions on the CPU may give different last bits
    with different thread counts, and a decoded image must not depend on them;
    and loops of tiny operations run faster without thread start-up costs and
    contention with other processes.
    """
    with torch_threads(1):
        yield
