# SPDX-License-Identifier: BSD-3-Clause
"""Command-line and ``.cfg`` options, with Cool-chic's precedence.

Precedence is default < config file (``--dec_cfg``) < command line. A config
file holds ``key = value`` lines (``;`` or ``#`` comments) whose keys are long
option names without ``--``. Decoder keys exist with and without upstream's
``_residue`` suffix, so upstream's ``cfg/dec/intra/*.cfg`` files parse as they
are. Plugins add their own keys through the ``coolchic_add_options`` hook.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import NoReturn

import configargparse

from coolchic.errors import ConfigError

#: Shipped decoder configurations (``--dec_cfg hop`` finds ``cfg/hop.cfg``): Cool-chic
#: 5.0.1's four (its ``cfg/dec/intra`` files, unchanged), v4's three, and the MRC paper's.
SHIPPED_CONFIGS = ("lop", "mop", "hop", "vhop", "v4-lop", "v4-mop", "v4-hop", "paper")
#: The defaults of every decoder key are this configuration's (Cool-chic 5.0.1's default).
DEFAULT_CONFIG = "hop"


class OneLineParser(configargparse.ArgumentParser):
    """Reports bad options as a one-line :class:`ConfigError` (no usage dump).

    The command line prints it and exits with 2, as for any other bad setting;
    the Python API raises it. Abbreviated options are off: ``mrc_dept`` in a
    cfg file must be an error, not ``mrc_depth``.
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments:"):
            keys = [a.split("=")[0].lstrip("-") for a in message.split(":", 1)[1].split()
                    if a.startswith("--")]
            if keys:
                message = (f"unknown config key or option: {', '.join(keys)} "
                           f"(see {self.prog} --help for the accepted keys)")
        raise ConfigError(" ".join(message.split()))


def shipped_config(name: str) -> Path:
    """Path of a configuration shipped with the package."""
    path = resources.files("coolchic") / "cfg" / f"{name}.cfg"
    return Path(str(path))


def resolve_config_path(value: str) -> str:
    """A file path, or the name of a shipped configuration."""
    if value in SHIPPED_CONFIGS and not Path(value).exists():
        return str(shipped_config(value))
    return value


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


def add_decoder_options(parser: configargparse.ArgumentParser) -> None:
    """Keys describing the decoder (the ones in ``cfg/dec/intra/*.cfg``)."""
    group = parser.add_argument_group("decoder architecture (config-file keys)")

    def key(name: str, default: object, help_text: str, kind: type = str) -> None:
        group.add_argument(
            f"--{name}_residue", f"--{name}", dest=f"{name}_residue", type=kind,
            default=default, help=help_text,
        )

    key("arm", "14,2/stabiliser", "ARM: <contexts>,<hidden layers>[/stabiliser]")
    key(
        "layers_synthesis",
        "48-1-linear-relu,X-1-linear-none,X-3-residual-relu,X-3-residual-none/stabiliser",
        "synthesis layers <out>-<kernel>-<linear|residual>-<relu|none>,...[/stabiliser]",
    )
    key("latent_resolution", "auto", "latent grids 2^-first..2^-last as first-last, or auto")
    key("hyperlatent_resolution", "auto",
        "entropy-only grids 2^-first..2^-last as first-last, auto (4 to the coarsest latent), or no")
    key("ifce_resolution", "0-2", "grids whose context gets IFCE features, first-last, or no")
    key("output_feature_ifce", 6, "IFCE features per latent (ignored when ifce_resolution = no)",
        int)
    key("ups_k_size", 8, "upsampling (transposed conv) kernel size, even >= 4", int)
    key("ups_preconcat_k_size", 7, "pre-concatenation kernel size, odd", int)
    group.add_argument(
        "--context_provider", default="spatial",
        help="where the ARM context comes from: spatial (Cool-chic's own) or a plugin, e.g. mrc; "
        "several joined by + compete in the warm-up (spatial+mrc:depth=2), the best is kept",
    )


def on_off(value: str) -> bool:
    """An ``on``/``off`` option's value as a bool (an argparse ``type``)."""
    if value not in ("on", "off"):
        raise argparse.ArgumentTypeError(f"{value!r}: must be on or off")
    return value == "on"


def on_off_text(value: bool) -> str:
    """The command-line spelling of an ``on``/``off`` option's value."""
    return "on" if value else "off"


def check_positive(value: float, name: str) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be positive, not {value}")
