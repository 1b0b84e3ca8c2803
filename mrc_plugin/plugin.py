# SPDX-License-Identifier: BSD-3-Clause
"""Hook implementations of ``mrc_plugin`` (entry point ``mrc`` of group ``coolchic``)."""

from __future__ import annotations

from coolchic.hooks import hookimpl
from mrc_plugin.provider import DEFAULT_DEPTH, MRCProvider
from mrc_plugin.tables import MAX_DEPTH


@hookimpl
def coolchic_register_context_providers(register) -> None:
    register("mrc", MRCProvider)


@hookimpl
def coolchic_add_options(parser) -> None:
    parser.add_argument(
        "--mrc_depth",
        type=int,
        default=DEFAULT_DEPTH,
        help=f"MRC: how many coarser grids feed the ARM context (0..{MAX_DEPTH}; 0 is "
        "Cool-chic's own context). Used with context_provider = mrc.",
    )
