# SPDX-License-Identifier: BSD-3-Clause
"""How every command runs: one-line errors, exit statuses, a status line on stderr."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from coolchic.errors import CoolChicError
from coolchic.hooks import ProviderError


class StatusLine:
    """One status line on stderr: rewritten in place on a terminal, else one line per update."""

    def __init__(self, width: int, stream=None) -> None:
        self.width = width
        self.stream = stream or sys.stderr  # looked up now: tests swap sys.stderr
        self.inplace = self.stream.isatty()

    def show(self, text: str) -> None:
        self.stream.write(("\r" + text.ljust(self.width)) if self.inplace else text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.inplace:
            self.stream.write("\n")


def guarded(run: Callable[[], int], debug: bool, prog: str) -> int:
    """Run a command body, turning expected failures into one-line messages."""
    try:
        return run()
    except (CoolChicError, ProviderError) as error:
        if debug:
            raise
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{prog}: interrupted; no output was written", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - last resort, keeps tracebacks off users
        if debug:
            raise
        where = traceback.extract_tb(error.__traceback__)[-1]
        print(
            f"{prog}: internal error: {type(error).__name__}: {error} "
            f"(at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}; --debug shows the traceback)",
            file=sys.stderr,
        )
        return 1
