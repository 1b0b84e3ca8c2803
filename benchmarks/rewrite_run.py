# SPDX-License-Identifier: BSD-3-Clause
"""Rewrite the files of one ``ab`` run's variant as the current bitstream version.

    python benchmarks/rewrite_run.py RUN VARIANT OUT

For every job of ``RUN/jobs/VARIANT`` this decodes ``bitstream.cool`` (an
older version), writes the same model again as the current version into
``OUT/jobs/VARIANT/<image>/lmbda*/bitstream.cool``, decodes that file and
checks that it gives the same image, bit for bit, as the old one. Nothing is
trained again: the networks' integers and the latents are the old ones, only
their coding changes. Then ``OUT`` gets the run's ``per_image.csv`` with the
new rates for VARIANT (the other variants' rows as they were), and
``summary.json``: the BD-rate of the rewritten VARIANT against the run's other
variant, with the same report code as ``ab``. A file that does not decode to
the same image stops the script (exit 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from coolchic.ab.report import summary, write_table
from coolchic.bitstream.codec import read_bitstream, write_bitstream
from coolchic.hooks import ProviderRegistry
from coolchic.nnquant import network_bits
from coolchic.plugins import installed_providers


def rewrite(old_path: Path, new_path: Path,
            registry: ProviderRegistry) -> tuple[int, int, int, int]:
    """Old and new file bytes, and the new file's network and latent shares (bytes)."""
    old = old_path.read_bytes()
    decoded = read_bitstream(old, registry)
    new = write_bitstream(decoded.model, decoded.header.codes)
    again = read_bitstream(new, registry)
    if not torch.equal(again.image, decoded.image):
        raise SystemExit(f"{new_path}: the rewritten file decodes to another image")
    new_path.parent.mkdir(parents=True, exist_ok=True)
    new_path.write_bytes(new)
    header = again.header
    nn_bytes = round(network_bits(header.codes) / 8)
    return len(old), len(new), nn_bytes, header.latent_bytes - nn_bytes


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    run, variant, out = Path(argv[0]), argv[1], Path(argv[2])
    table = run / "per_image.json"  # ab's per-image table, typed
    if not table.is_file():
        print(f"error: {table} does not exist (not a finished ab run?)", file=sys.stderr)
        return 2
    rows = json.loads(table.read_text())["rows"]
    variants = sorted({r["variant"] for r in rows})
    if variant not in variants or len(variants) != 2:
        print(f"error: {run} has variants {variants}; need {variant!r} and one other",
              file=sys.stderr)
        return 2
    reference = next(v for v in variants if v != variant)
    registry = installed_providers()
    rewritten, lines = [], []
    for row in rows:
        if row["variant"] != variant:
            rewritten.append(row)
            continue
        job = Path("jobs") / variant / row["image"] / f"lmbda{row['lmbda']:g}" / "bitstream.cool"
        old_bytes, new_bytes, nn_bytes, latent_bytes = rewrite(run / job, out / job, registry)
        pixels = 8 * old_bytes / row["bpp"]
        new = dict(row, bpp=8 * new_bytes / pixels, nn_bpp=8 * nn_bytes / pixels,
                   latent_bpp=8 * latent_bytes / pixels)
        rewritten.append(new)
        lines.append(f"{row['image']:>9} {row['lmbda']:>7g} {old_bytes:>7} {new_bytes:>7} "
                     f"{100 * (new_bytes / old_bytes - 1):+7.2f}%")
    out.mkdir(parents=True, exist_ok=True)
    write_table(out, rewritten)
    before = summary(reference, variant, rows, {})
    after = summary(reference, variant, rewritten, {"rewritten_from": str(run)})
    (out / "summary.json").write_text(json.dumps(after, indent=2, sort_keys=True) + "\n")
    print("    image  lambda  before   after  change")
    print("\n".join(lines))
    changes = [float(line.split()[-1].rstrip("%")) for line in lines]
    print(f"mean change of a file's size: {sum(changes) / len(changes):+.2f}%")
    print(f"BD-rate of {variant} against {reference}: {before['bd_rate_percent']:+.2f}% as "
          f"encoded, {after['bd_rate_percent']:+.2f}% rewritten")
    for image, value in after["per_image_bd_rate_percent"].items():
        print(f"  {image}: {before['per_image_bd_rate_percent'][image]:+.2f}% -> {value:+.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
