# SPDX-License-Identifier: BSD-3-Clause
"""BD-rate of several ``ab`` runs of the same comparison taken together (e.g. two seeds).

    python benchmarks/pool_runs.py REFERENCE CANDIDATE RUN_1 RUN_2 ... [--names A,B] [--json OUT]

REFERENCE and CANDIDATE are variant labels as in ``per_image.csv`` (e.g.
``upstream-spatial`` and ``spatial``). A RUN is an ``ab`` output folder, or
several joined by ``+`` when one seed's images were run in several calls
(``out02+out06``); its rows come from ``per_image.json``, else
``per_image.csv``. ``--names`` keeps only those images. Every run must then
hold the same images and lambdas. Printed: each run's BD-rate on its mean
curves; the BD-rate of the mean curves over every run's images (each image of
each run weighs the same, so with one run per seed it is the seeds' average
curve); each image's BD-rate on its curves averaged over the runs; their mean
and spread.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

from coolchic.ab.report import curves_bd_rate, mean_curve


def bd(reference_rows: list[dict], candidate_rows: list[dict], key: str = "bpp") -> float | None:
    """pchip BD-rate between the mean curves of two sets of rows (None if they do not overlap)."""
    return curves_bd_rate(mean_curve(reference_rows, key), mean_curve(candidate_rows, key))


#: ``per_image.csv`` columns that hold text; every other one is a number (or empty).
TEXT_COLUMNS = {"host", "variant", "image", "upstream_version", "patch_sha256"}


class RunError(Exception):
    """A run that cannot be read or pooled; its message is the one-line error."""


def folder_rows(folder: Path) -> list[dict]:
    """The rows ``ab`` wrote in ``folder``, with the numbers as floats (the CSV's are exact)."""
    if (folder / "per_image.json").is_file():
        return json.loads((folder / "per_image.json").read_text())["rows"]
    if not (folder / "per_image.csv").is_file():
        raise RunError(f"{folder}: no per_image.json or per_image.csv (not a finished ab run?)")
    with (folder / "per_image.csv").open(newline="") as handle:
        return [{k: v if k in TEXT_COLUMNS or v == "" else float(v) for k, v in row.items()}
                for row in csv.DictReader(handle)]


def run_rows(run: str, names: list[str] | None) -> list[dict]:
    """The rows of one run: its folders' rows together, only ``names``' images if given."""
    rows, seen = [], {}
    for folder in map(Path, run.split("+")):
        for row in folder_rows(folder):
            if names is not None and row["image"] not in names:
                continue
            key = (row["variant"], row["image"], row["lmbda"])
            if key in seen:
                raise RunError(f"{run}: {key[1]} at lambda {key[2]} ({key[0]}) is in both "
                               f"{seen[key]} and {folder}")
            seen[key] = folder
            rows.append(row)
    missing = sorted(set(names or ()) - {r["image"] for r in rows})
    if missing:
        raise RunError(f"{run}: no rows for {', '.join(missing)}")
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("reference")
    parser.add_argument("candidate")
    parser.add_argument("runs", nargs="+", help="ab output folders, a run's joined by +")
    parser.add_argument("--names", help="comma-separated images to keep (default: all)")
    parser.add_argument("--json", type=Path, help="write the pooled figures here")
    args = parser.parse_args(argv)
    names = args.names.split(",") if args.names else None
    runs = []
    for run in args.runs:
        try:
            rows = run_rows(run, names)
        except RunError as error:
            print(f"pool_runs.py: {error}", file=sys.stderr)
            return 2
        runs.append({v: [r for r in rows if r["variant"] == v]
                     for v in (args.reference, args.candidate)})
    keys = {tuple(sorted((r["image"], r["lmbda"]) for r in run[v])) for run in runs for v in run}
    if len(keys) != 1 or not next(iter(keys)):
        print("pool_runs.py: the runs do not hold the same images and lambdas for both variants",
              file=sys.stderr)
        return 2
    per_run = [bd(run[args.reference], run[args.candidate]) for run in runs]
    pooled_ref = [r for run in runs for r in run[args.reference]]
    pooled_cand = [r for run in runs for r in run[args.candidate]]
    images = sorted({r["image"] for r in pooled_ref})
    per_image = {image: bd([r for r in pooled_ref if r["image"] == image],
                           [r for r in pooled_cand if r["image"] == image]) for image in images}
    values = [v for v in per_image.values() if v is not None]
    result = {
        "reference": args.reference, "candidate": args.candidate,
        "runs": args.runs,
        "names": names,
        "bd_rate_percent_per_run": per_run,
        "bd_rate_percent": bd(pooled_ref, pooled_cand),
        "bd_rate_latent_percent": bd(pooled_ref, pooled_cand, "latent_bpp"),
        "per_image_bd_rate_percent": per_image,
        "mean_per_image_bd_rate_percent": statistics.fmean(values) if values else None,
        "per_image_stdev": statistics.stdev(values) if len(values) > 1 else None,
        "aggregation": "per lambda, the mean PSNR and mean bpp over every image of every run; "
                       "per image, the same over its runs; pchip BD-rate",
    }
    print(f"{args.candidate} vs {args.reference}, {len(runs)} runs x {len(images)} images")
    print("per run: " + ", ".join(f"{v:+.2f}%" if v is not None else "n/a" for v in per_run))
    print(f"pooled: BD-rate {result['bd_rate_percent']:+.2f}% (latents "
          f"{result['bd_rate_latent_percent']:+.2f}%)")
    print("per image: " + ", ".join(f"{k} {v:+.2f}%" for k, v in per_image.items()
                                    if v is not None))
    if values:
        print(f"mean of per-image BD-rates {result['mean_per_image_bd_rate_percent']:+.2f}% "
              f"(stdev {result['per_image_stdev'] or 0:.2f})")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
