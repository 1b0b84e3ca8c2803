# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic <command> ...``: dispatch to the command modules.

Errors a user can cause are printed as one line and give exit status 2;
``--debug`` shows the Python traceback instead.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable, Sequence

from coolchic.errors import CoolChicError
from coolchic.hooks import ProviderError

COMMANDS = {
    "encode": ("coolchic.commands.encode", "train a model on an image and write it"),
    "decode": ("coolchic.commands.decode", "rebuild an image from a .cool file"),
    "complexity": ("coolchic.commands.complexity", "count the decoder's MAC per pixel (fvcore)"),
    "demo": ("coolchic.commands.demo", "encode a generated image with a fast setting"),
    "ab": ("coolchic.commands.ab", "compare two variants (host and context provider) on images"),
    "bdrate": ("coolchic.commands.bdrate", "BD-rate between two rate-distortion curves"),
}
PROG = "mrc-coolchic"


def usage() -> str:
    lines = [f"usage: {PROG} <command> [options]", "", "commands:"]
    lines += [f"  {name:<12}{help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", f"'{PROG} <command> --help' describes a command's options."]
    return "\n".join(lines)


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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"{PROG}: error: unknown command {command!r}; commands: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    try:
        return module.main(rest)
    except SystemExit as exit_:  # argparse: --help, or a bad option (already reported)
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)


if __name__ == "__main__":
    sys.exit(main())
