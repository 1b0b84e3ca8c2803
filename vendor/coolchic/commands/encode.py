# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic encode``: overfit a Cool-chic decoder to one image.

Parses the command line (the files, and the settings through
:mod:`coolchic.settings`), calls :func:`coolchic.api.encode`, and writes what
it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from coolchic import api
from coolchic.commands.running import StatusLine, guarded
from coolchic.config import OneLineParser, resolve_shipped_configs
from coolchic.files import write_atomically, write_json
from coolchic.hooks import collect_providers
from coolchic.plugins import host_plugin_manager
from coolchic.settings import add_encoder_options, settings_from_args
from coolchic.training import ProgressEvent

PROG = "mrc-coolchic encode"
#: Options of this command that are not encoder settings.
FILE_OPTIONS = ("input", "output", "workdir", "results", "quiet", "debug")


def build_parser(manager) -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        description="Overfit a Cool-chic decoder to an image. Precedence of settings: "
        "default < --dec_cfg file < command line.",
    )
    parser.add_argument("-i", "--input", required=True, help="8-bit RGB PNG image to code")
    parser.add_argument("-o", "--output", help="bitstream to write (.cool)")
    add_encoder_options(parser, manager)
    out = parser.add_argument_group("outputs")
    out.add_argument("--workdir", help="directory for the trained model and logs")
    out.add_argument("--results", help="write a JSON summary of the encode here")
    out.add_argument("--quiet", action="store_true", help="no progress line")
    out.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


class ProgressLine(StatusLine):
    """The encoder's training progress, one line per evaluation."""

    def __init__(self, stream=None) -> None:
        super().__init__(110, stream)

    def __call__(self, event: ProgressEvent) -> None:
        e = event.evaluation
        self.show(
            f"itr {event.iteration:>6}/{event.total_iterations} | loss {e.loss:.4e} | "
            f"PSNR {e.psnr_db:6.2f} dB | {e.rate_bpp:6.4f} bpp | "
            f"{event.elapsed_s:7.1f} s | {event.stage}"
        )


def main(argv: Sequence[str]) -> int:
    return guarded(lambda: run(argv), "--debug" in argv, PROG)


def run(argv: Sequence[str]) -> int:
    manager = host_plugin_manager()
    args = build_parser(manager).parse_args(resolve_shipped_configs(argv))
    settings = settings_from_args(args, ignore=FILE_OPTIONS)
    progress = None if args.quiet else ProgressLine()
    try:
        encoded = api.encode(args.input, settings, write=bool(args.output),
                             registry=collect_providers(manager), progress=progress)
    finally:
        if progress is not None:
            progress.close()
    if encoded.bitstream is not None:
        write_atomically(args.output, encoded.bitstream)
    record = encoded.results
    if args.workdir:
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        torch.save(
            {"state": encoded.model.state_dict(), "architecture": encoded.model.arch},
            workdir / "model.pt",
        )
        write_json(workdir / "results.json", record)
    if args.results:
        write_json(args.results, record)
    print(
        f"{Path(args.input).name}: {record['psnr_db']:.3f} dB, {record['rate_bpp']:.4f} bpp "
        f"({record['rate_source']}), {record['mac_per_pixel']:.0f} MAC/pixel, "
        f"{record['encode_time_s']:.1f} s"
    )
    return 0
