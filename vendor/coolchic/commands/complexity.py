# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic complexity``: decoder MAC/pixel per module, counted by fvcore.

With ``--compare-with P`` it also counts the same decoder with provider P and
exits with 1, naming the module, if any count differs: the check that a
context provider leaves the decoder's complexity unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from coolchic.architecture import architecture_for
from coolchic.commands.running import guarded
from coolchic.competition import candidates
from coolchic.complexity import Complexity, ComplexityMismatch, compare, count_macs
from coolchic.config import OneLineParser, resolve_shipped_configs
from coolchic.errors import ConfigError
from coolchic.hooks import ContextSizeError, ProviderRegistry, build_provider, collect_providers
from coolchic.model import NETWORKS, CoolChic, provider_setup
from coolchic.plugins import host_plugin_manager
from coolchic.settings import EncoderSettings, add_encoder_options, settings_from_args

PROG = "mrc-coolchic complexity"
MAX_SIDE = 8192


COMMAND_OPTIONS = ("height", "width", "compare_with", "json", "debug")


def build_parser(manager) -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_encoder_options(parser, manager)
    parser.add_argument("--height", type=int, default=512, help="image height (default 512)")
    parser.add_argument("--width", type=int, default=768, help="image width (default 768)")
    parser.add_argument("--compare-with", "--compare_with", dest="compare_with",
                        help="also count with this provider; exit 1 if any module differs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def decoder_complexity(
    settings: EncoderSettings, registry: ProviderRegistry, height: int, width: int,
    provider: str | None = None,
) -> Complexity:
    """MAC/pixel of the decoder the settings describe (with ``provider``, if given).

    ``provider`` is a ``context_provider`` value: a competition's candidates are
    each counted, and must all cost the same, as the decoder is one of them.
    """
    arch = architecture_for(settings.decoder, height, width)
    spec = provider or settings.context_provider
    counted = {}
    for candidate in candidates(spec):
        try:
            built = build_provider(registry, candidate.name, provider_setup(arch),
                                   options=candidate.provider_options(settings.options))
        except ContextSizeError as error:
            raise ComplexityMismatch(f"arm: provider {candidate.spec!r} changes the ARM input: "
                                     f"{error}") from None
        counted[candidate.spec] = count_macs(CoolChic(arch, built))
    (first, complexity), *others = counted.items()
    for name, other in others:
        differences = compare(first, complexity, name, other)
        if differences:
            raise ComplexityMismatch(f"the candidates of {spec} differ: " + "; ".join(differences))
    return complexity


def check_unchanged(
    settings: EncoderSettings, baseline: str, registry: ProviderRegistry, height: int, width: int
) -> tuple[Complexity, Complexity]:
    """Count with the settings' provider and with ``baseline``; raise if a module differs."""
    counted = decoder_complexity(settings, registry, height, width)
    reference = decoder_complexity(settings, registry, height, width, provider=baseline)
    differences = compare(settings.context_provider, counted, baseline, reference)
    if differences:
        raise ComplexityMismatch("; ".join(differences))
    return counted, reference


def main(argv: Sequence[str]) -> int:
    return guarded(lambda: run(argv), "--debug" in argv, PROG)


def run(argv: Sequence[str]) -> int:
    manager = host_plugin_manager()
    args = build_parser(manager).parse_args(resolve_shipped_configs(argv))
    if not (1 <= args.height <= MAX_SIDE and 1 <= args.width <= MAX_SIDE):
        raise ConfigError(f"--height and --width must be in 1..{MAX_SIDE}")
    registry = collect_providers(manager)
    settings = settings_from_args(args, ignore=COMMAND_OPTIONS)
    main_name = settings.context_provider
    try:
        if args.compare_with:
            counted, reference = check_unchanged(
                settings, args.compare_with, registry, args.height, args.width
            )
            columns = {main_name: counted, args.compare_with: reference}
        else:
            columns = {main_name: decoder_complexity(settings, registry, args.height, args.width)}
    except ComplexityMismatch as error:
        print(f"{PROG}: complexity differs: {error}")
        return 1
    if args.json:
        report = {
            name: {"total_mac_per_pixel": c.total_mac_per_pixel, "per_module": c.per_module,
                   "other": c.other}
            for name, c in columns.items()
        }
        print(json.dumps(report[main_name] | {
            "height": args.height, "width": args.width, "context_provider": main_name,
            "compared_with": {k: v for k, v in report.items() if k != main_name} or None,
        }, indent=2))
    else:
        print(f"decoder MAC/pixel at {args.width}x{args.height}")
        print(f"{'module':<12}" + "".join(f"{name:>14}" for name in columns))
        for module in NETWORKS:
            print(f"{module:<12}" + "".join(f"{c.per_module[module]:>14.2f}" for c in columns.values()))
        print(f"{'other':<12}" + "".join(f"{c.other:>14.2f}" for c in columns.values()))
        print(f"{'total':<12}" + "".join(f"{c.total_mac_per_pixel:>14.2f}" for c in columns.values()))
        if args.compare_with:
            print(f"identical: {' and '.join(columns)} cost the same in every module")
    return 0
