# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic complexity``: decoder MAC/pixel per module, counted by fvcore.

With ``--compare-with P`` it also counts the same decoder with provider P and
exits with 1, naming the module, if any count differs: the check that a
context provider leaves the decoder's complexity unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from coolchic.architecture import architecture_from_options
from coolchic.cli import guarded
from coolchic.commands.encode import resolve_shipped_configs
from coolchic.complexity import Complexity, ComplexityMismatch, compare, count_macs
from coolchic.config import SHIPPED_CONFIGS, OneLineParser, add_decoder_options
from coolchic.errors import ConfigError
from coolchic.hooks import ContextSizeError, ProviderRegistry, build_provider, collect_providers
from coolchic.model import NETWORKS, CoolChic, provider_setup
from coolchic.plugins import host_plugin_manager

PROG = "mrc-coolchic complexity"
MAX_SIDE = 8192


def build_parser(manager) -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dec_cfg", "--dec_cfg_residue", is_config_file=True,
        help=f"decoder config file, or a shipped one: {', '.join(SHIPPED_CONFIGS)}",
    )
    add_decoder_options(parser)
    parser.add_argument("--height", type=int, default=512, help="image height (default 512)")
    parser.add_argument("--width", type=int, default=768, help="image width (default 768)")
    parser.add_argument("--compare-with", "--compare_with", dest="compare_with",
                        help="also count with this provider; exit 1 if any module differs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    manager.hook.coolchic_add_options(parser=parser)
    return parser


def decoder_complexity(
    options: Mapping[str, Any], registry: ProviderRegistry, height: int, width: int
) -> Complexity:
    """MAC/pixel of the decoder described by ``options`` for an image of that size."""
    arch = architecture_from_options(options, height, width)
    name = options["context_provider"]
    try:
        provider = build_provider(registry, name, provider_setup(arch), options=options)
    except ContextSizeError as error:
        raise ComplexityMismatch(f"arm: provider {name!r} changes the ARM input: {error}") from None
    return count_macs(CoolChic(arch, provider))


def check_unchanged(
    options: Mapping[str, Any], baseline: str, registry: ProviderRegistry, height: int, width: int
) -> tuple[Complexity, Complexity]:
    """Count with ``options``' provider and with ``baseline``; raise if a module differs."""
    counted = decoder_complexity(options, registry, height, width)
    reference = decoder_complexity(
        dict(options) | {"context_provider": baseline}, registry, height, width
    )
    differences = compare(options["context_provider"], counted, baseline, reference)
    if differences:
        raise ComplexityMismatch("; ".join(differences))
    return counted, reference


def main(argv: Sequence[str]) -> int:
    manager = host_plugin_manager()
    args = build_parser(manager).parse_args(resolve_shipped_configs(argv))
    return guarded(lambda: run(args, manager), args.debug, PROG)


def run(args, manager) -> int:
    if not (1 <= args.height <= MAX_SIDE and 1 <= args.width <= MAX_SIDE):
        raise ConfigError(f"--height and --width must be in 1..{MAX_SIDE}")
    registry = collect_providers(manager)
    options = vars(args)
    if args.compare_with:
        try:
            counted, reference = check_unchanged(
                options, args.compare_with, registry, args.height, args.width
            )
        except ComplexityMismatch as error:
            print(f"{PROG}: complexity differs: {error}")
            return 1
        columns = {options["context_provider"]: counted, args.compare_with: reference}
    else:
        columns = {options["context_provider"]: decoder_complexity(
            options, registry, args.height, args.width
        )}
    if args.json:
        report = {
            name: {"total_mac_per_pixel": c.total_mac_per_pixel, "per_module": c.per_module}
            for name, c in columns.items()
        }
        main_name = options["context_provider"]
        print(json.dumps(report[main_name] | {
            "height": args.height, "width": args.width, "context_provider": main_name,
            "compared_with": {k: v for k, v in report.items() if k != main_name} or None,
        }, indent=2))
    else:
        print(f"decoder MAC/pixel at {args.width}x{args.height}")
        print(f"{'module':<12}" + "".join(f"{name:>14}" for name in columns))
        for module in NETWORKS:
            print(f"{module:<12}" + "".join(f"{c.per_module[module]:>14.2f}" for c in columns.values()))
        print(f"{'total':<12}" + "".join(f"{c.total_mac_per_pixel:>14.2f}" for c in columns.values()))
        if args.compare_with:
            print(f"identical: {' and '.join(columns)} cost the same in every module")
    return 0
