# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic bdrate A B``: BD-rate of curve B against curve A."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence

from coolchic.commands.running import guarded
from coolchic.ab.curves import load_curve
from coolchic.ab.bdrate import INTERPOLATIONS, CurveError, bd_rate

PROG = "mrc-coolchic bdrate"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="BD-rate of B against A (negative: B needs less rate). Files: CompressAI "
        "JSON, {psnr, bpp} JSON, or Cool-chic results TSV (averaged per lambda).",
    )
    parser.add_argument("reference", help="curve A")
    parser.add_argument("candidate", help="curve B")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    return guarded(lambda: run(args), args.debug, PROG)


def run(args) -> int:
    try:
        a, b = load_curve(args.reference), load_curve(args.candidate)
        result = {"reference": a.name, "candidate": b.name}
        for method in INTERPOLATIONS:
            try:
                result[f"bd_rate_{method}_percent"] = bd_rate(a.bpp, a.psnr, b.bpp, b.psnr, method)
            except CurveError as error:
                if method == "pchip":
                    raise
                result[f"bd_rate_{method}_percent"] = None
                result[f"{method}_note"] = str(error)
        common = sorted(set(a.per_image) & set(b.per_image))
        if common:
            per_image = {i: bd_rate(*a.per_image[i], *b.per_image[i]) for i in common}
            result["per_image_bd_rate_percent"] = per_image
            result["mean_per_image_bd_rate_percent"] = statistics.fmean(per_image.values())
    except CurveError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    cubic = result["bd_rate_cubic_percent"]
    line = (f"BD-rate of {b.name} vs {a.name}: {result['bd_rate_pchip_percent']:+.2f}% "
            f"(pchip on log-rate over mean curves; cubic: "
            f"{'n/a' if cubic is None else f'{cubic:+.2f}%'})")
    if "mean_per_image_bd_rate_percent" in result:
        line += (f"; mean of {len(result['per_image_bd_rate_percent'])} per-image BD-rates: "
                 f"{result['mean_per_image_bd_rate_percent']:+.2f}%")
    print(line)
    return 0
