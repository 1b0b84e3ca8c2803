# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic encode``: overfit a Cool-chic decoder to one image."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from coolchic.cli import StatusLine, guarded
from coolchic.config import (
    DEFAULT_CONFIG,
    SHIPPED_CONFIGS,
    OneLineParser,
    add_decoder_options,
    resolve_config_path,
)
from coolchic.encoder import (
    make_bitstream,
    resolve_device,
    results_record,
    train_model,
    write_json,
)
from coolchic.errors import ConfigError
from coolchic.hooks import collect_providers
from coolchic.imageio import load_image, write_atomically
from coolchic.plugins import host_plugin_manager
from coolchic.presets import PRESETS
from coolchic.training import ProgressEvent

PROG = "mrc-coolchic encode"


def build_parser(manager) -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        description="Overfit a Cool-chic decoder to an image. Precedence of settings: "
        "default < --dec_cfg file < command line.",
    )
    parser.add_argument("-i", "--input", required=True, help="8-bit RGB PNG image to code")
    parser.add_argument("-o", "--output", help="bitstream to write (.cool)")
    parser.add_argument(
        "--dec_cfg", "--dec_cfg_residue", is_config_file=True,
        help=f"decoder config file, or a shipped one: {', '.join(SHIPPED_CONFIGS)} "
        f"(defaults are those of {DEFAULT_CONFIG})",
    )
    add_decoder_options(parser)
    enc = parser.add_argument_group("training")
    enc.add_argument("--lmbda", type=float, default=1e-3, help="rate constraint (D + lmbda R)")
    enc.add_argument("--n_itr", type=int, default=10000, help="training iterations, all phases")
    enc.add_argument("--start_lr", type=float, default=1e-2, help="initial learning rate")
    enc.add_argument("--preset", choices=PRESETS, default="intra", help="training schedule")
    enc.add_argument("--seed", type=int, default=0, help="random seed")
    enc.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    enc.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: default)")
    out = parser.add_argument_group("outputs")
    out.add_argument("--workdir", help="directory for the trained model and logs")
    out.add_argument("--results", help="write a JSON summary of the encode here")
    out.add_argument("--quiet", action="store_true", help="no progress line")
    out.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    manager.hook.coolchic_add_options(parser=parser)
    return parser


def resolve_shipped_configs(argv: Sequence[str]) -> list[str]:
    """Let ``--dec_cfg hop`` name a configuration shipped with the package."""
    resolved = list(argv)
    for index, arg in enumerate(resolved):
        for flag in ("--dec_cfg", "--dec_cfg_residue"):
            if arg == flag and index + 1 < len(resolved):
                resolved[index + 1] = resolve_config_path(resolved[index + 1])
            elif arg.startswith(flag + "="):
                resolved[index] = f"{flag}={resolve_config_path(arg.split('=', 1)[1])}"
    return resolved


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
    manager = host_plugin_manager()
    parser = build_parser(manager)
    args = parser.parse_args(resolve_shipped_configs(argv))
    return guarded(lambda: run(args, manager), args.debug, PROG)


def run(args, manager) -> int:
    if args.threads < 0:
        raise ConfigError(f"threads = {args.threads}: must be 0 (default) or positive")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    target = load_image(args.input)
    registry = collect_providers(manager)
    options = vars(args)
    progress = None if args.quiet else ProgressLine()
    try:
        encoded = train_model(target, options, registry, device, progress)
    finally:
        if progress is not None:
            progress.close()
    bitstream = make_bitstream(encoded, target, registry) if args.output else None
    if bitstream is not None:
        write_atomically(args.output, bitstream.data)
    record = results_record(encoded, options, str(args.input), bitstream)
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
