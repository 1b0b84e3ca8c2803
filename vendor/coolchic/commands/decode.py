# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic decode``: rebuild an image from a ``.cool`` file alone."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from coolchic import api
from coolchic.commands.running import guarded
from coolchic.errors import BitstreamError
from coolchic.files import write_json
from coolchic.imageio import save_png
from coolchic.plugins import installed_providers
from coolchic.threads import torch_threads

PROG = "mrc-coolchic decode"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Decode a .cool bitstream to PNG.")
    parser.add_argument("-i", "--input", required=True, help="bitstream (.cool)")
    parser.add_argument("-o", "--output", required=True, help="decoded image (.png)")
    parser.add_argument(
        "--batch", type=int, default=0,
        help="at most this many latents per ARM call (0: a whole wavefront step)",
    )
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: default)")
    parser.add_argument("--results", help="write a JSON summary (size, rate, decode time) here")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args), args.debug, PROG)


def run(args) -> int:
    if args.batch < 0 or args.threads < 0:
        raise BitstreamError("--batch and --threads must be 0 or positive")
    path = Path(args.input)
    if not path.is_file():
        raise BitstreamError(f"{path}: no such file")
    data = path.read_bytes()
    registry = installed_providers()
    with torch_threads(args.threads):
        start = time.monotonic()
        decoded = api.decode(data, batch=args.batch, registry=registry)
        elapsed = time.monotonic() - start
    save_png(decoded.image, args.output)
    arch = decoded.header.arch
    if args.results:
        write_json(args.results, {
            "bitstream": str(path), "output": str(args.output), "height": arch.height,
            "width": arch.width, "bitstream_bytes": decoded.n_bytes, "rate_bpp": decoded.rate_bpp,
            "context_provider": decoded.header.provider_name,
            "provider_fields": decoded.header.provider_fields, "decode_time_s": elapsed,
        })
    print(
        f"{path.name}: {arch.width}x{arch.height}, {decoded.n_bytes} bytes "
        f"({decoded.rate_bpp:.4f} bpp), provider {decoded.header.provider_name}, "
        f"decoded in {elapsed:.2f} s -> {args.output}"
    )
    return 0
