# SPDX-License-Identifier: BSD-3-Clause
"""BD-rate of one variant of one ``ab`` run against a variant of another run.

    python benchmarks/compare_runs.py REF_OUT/REF_LABEL CAND_OUT/CAND_LABEL [...] [--json OUT.json]

Each side is an ``ab`` output folder and a variant label in it
(``OUT/jobs/<label>/``). Useful when the two were encoded by different code
of ours (a new variant beside an old baseline whose code did the same maths)
or in different runs. Reads the finished jobs' records, so a run still going
is compared on the (image, lambda) pairs both sides have finished; images with
fewer than two common lambdas are left out. Several candidates may follow the
reference. Printed per candidate: pairs and images compared, the BD-rate of
the mean curves (pchip), each image's BD-rate, their mean and spread, how many
images improved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from coolchic.ab.report import curves_bd_rate, mean_curve


def records(side: str) -> dict[tuple[str, float], dict]:
    """``(image, lambda) -> job record`` of a ``RUN/LABEL`` side."""
    folder = Path(side)
    found = {}
    for path in sorted((folder.parent / "jobs" / folder.name).glob("*/lmbda*/job.json")):
        record = json.loads(path.read_text())
        found[(path.parent.parent.name, record["lmbda"])] = record
    return found


def compare(reference: dict, candidate: dict) -> dict:
    common = sorted(set(reference) & set(candidate))
    images = sorted({image for image, _ in common})
    per_image = {}
    for image in images:
        keys = [k for k in common if k[0] == image]
        if len(keys) >= 2:
            per_image[image] = curves_bd_rate(mean_curve([reference[k] for k in keys]),
                                              mean_curve([candidate[k] for k in keys]))
    kept = [k for k in common if k[0] in per_image]
    lambdas = {k[1] for k in kept}
    full = [image for image in per_image if sum(k[0] == image for k in kept) == len(lambdas)]
    pooled = None
    if len(full) and len(lambdas) >= 2:
        keys = [k for k in kept if k[0] in full]
        pooled = curves_bd_rate(mean_curve([reference[k] for k in keys]),
                                mean_curve([candidate[k] for k in keys]))
    values = [v for v in per_image.values() if v is not None]
    return {"pairs": len(kept), "images": len(per_image), "images_on_mean_curves": full,
            "bd_rate_mean_curves": pooled, "per_image": per_image,
            "per_image_mean": statistics.fmean(values) if values else None,
            "per_image_stdev": statistics.stdev(values) if len(values) > 1 else None,
            "improved": sum(v < 0 for v in values)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("reference", help="RUN_OUT/LABEL")
    parser.add_argument("candidates", nargs="+", help="RUN_OUT/LABEL")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    reference = records(args.reference)
    if not reference:
        print(f"compare_runs.py: {args.reference}: no finished jobs", file=sys.stderr)
        return 2
    results = {}
    for side in args.candidates:
        candidate = records(side)
        if not candidate:
            print(f"compare_runs.py: {side}: no finished jobs", file=sys.stderr)
            return 2
        result = results[side] = compare(reference, candidate)
        pooled = result["bd_rate_mean_curves"]
        print(f"{side} vs {args.reference}: {result['pairs']} pairs, {result['images']} images")
        print(f"  BD-rate of the mean curves ({len(result['images_on_mean_curves'])} images "
              f"with every lambda): " + ("n/a" if pooled is None else f"{pooled:+.2f}%"))
        for image, value in result["per_image"].items():
            print(f"  {image}: " + ("n/a" if value is None else f"{value:+.2f}%"))
        if result["per_image_mean"] is not None:
            spread = result["per_image_stdev"]
            print(f"  per image: mean {result['per_image_mean']:+.2f}%"
                  + ("" if spread is None else f", stdev {spread:.2f}")
                  + f", {result['improved']} of {result['images']} improved")
    if args.json:
        args.json.write_text(json.dumps({"reference": args.reference, "results": results},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
