# SPDX-License-Identifier: BSD-3-Clause
"""A process-wide setting that stays on while any of several concurrent blocks needs it.

Some settings that speed an encode up belong to the whole process (glibc's
allocator, cuDNN's autotuner), while encodes can run side by side in threads
of one process. A :class:`SharedSwitch` turns its setting on when the first
block enters and back off when the last one leaves, whatever the order in
which the threads leave.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class SharedSwitch:
    """Calls ``switch_on`` when the first holder enters, ``switch_off`` when the last leaves."""

    def __init__(self, switch_on: Callable[[], None], switch_off: Callable[[], None]) -> None:
        self._switch_on = switch_on
        self._switch_off = switch_off
        self._lock = threading.Lock()
        self._holders = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._switch_on()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    self._switch_off()
