# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic <command> ...``: dispatch to the command modules.

Each command module has ``main(argv)``; :mod:`coolchic.commands.running`
turns the errors a user can cause into one line and exit status 2
(``--debug`` shows the Python traceback instead).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

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
