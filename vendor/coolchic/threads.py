# SPDX-License-Identifier: BSD-3-Clause
"""Running torch on a single CPU thread for a while."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_thread() -> Iterator[None]:
    """Use one CPU thread inside the block, restoring the previous count after.

    Two reasons to: float convolutions on the CPU may give different last bits
    with different thread counts, and a decoded image must not depend on them;
    and loops of tiny operations run faster without thread start-up costs and
    contention with other processes.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
