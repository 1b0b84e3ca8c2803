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
    parser.add_argument(
        "--mrc_coarse",
        type=int,
        default=0,
        help="MRC: how many of the N context positions go to coarser grids (0: the tables' "
        "rule, N/4 rounded up but at least the depth; only for N = 6, 10, 14, 20, whose "
        "tables are derived). Written in the header when not 0.",
    )
    parser.add_argument(
        "--mrc_colocated",
        type=int,
        default=1,
        choices=(0, 1),
        help="MRC: 1 (default) lets the first coarser grid give its co-located value; 0 "
        "takes its next ranked positions instead (an IFCE already feeds the ARM co-located "
        "coarse values). Only for N = 6, 10, 14, 20. Written in the header when 0.",
    )
