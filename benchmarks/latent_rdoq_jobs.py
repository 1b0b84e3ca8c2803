# SPDX-License-Identifier: BSD-3-Clause
"""What the latents' RDOQ did in each job of one ``ab`` run's variant.

    python benchmarks/latent_rdoq_jobs.py OUT/LABEL

Reads ``OUT/jobs/<LABEL>/<image>/lmbda*/encode.json`` of the finished jobs
and prints, per job, the cost the pass lowers, before and after it (the
decoder's 8-bit MSE + lambda x the latents' bits per pixel; the networks' bits,
which the pass does not change, are left out, so the change in a file's whole
RD cost is somewhat smaller), the values moved, the
grids refined, the decodes and seconds it took and its share of the encode;
then the means. Jobs encoded with ``--latent_rdoq 0`` have no such record and
are counted apart.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def rows(side: Path) -> tuple[list[dict], int]:
    found, without = [], 0
    for path in sorted((side.parent / "jobs" / side.name).glob("*/lmbda*/encode.json")):
        if not (path.parent / "job.json").is_file():
            continue
        record = json.loads(path.read_text())
        stats = record.get("latent_rdoq")
        if not stats:
            without += 1
            continue
        found.append({
            "job": f"{path.parent.parent.name}/{path.parent.name}",
            "change": 100 * (stats["loss_after"] / stats["loss_before"] - 1),
            "moves": stats["moves"], "grids": stats["grids_refined"],
            "decodes": stats["decodes"], "seconds": stats["seconds"],
            "share": 100 * stats["seconds"] / record["encode_time_s"],
        })
    return found, without


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: latent_rdoq_jobs.py OUT/LABEL", file=sys.stderr)
        return 2
    found, without = rows(Path(argv[0]))
    if not found:
        print(f"latent_rdoq_jobs.py: {argv[0]}: no finished job with a latent RDOQ record",
              file=sys.stderr)
        return 2
    print(f"{'job':<22} {'J %':>7} {'moves':>6} {'grids':>5} {'decodes':>7} {'s':>6} {'% enc':>6}")
    for row in found:
        print(f"{row['job']:<22} {row['change']:+7.3f} {row['moves']:6d} {row['grids']:5d} "
              f"{row['decodes']:7d} {row['seconds']:6.1f} {row['share']:6.1f}")
    changes = [row["change"] for row in found]
    print(f"{len(found)} jobs ({without} without the pass): J {statistics.mean(changes):+.3f}% mean "
          f"(min {min(changes):+.3f}, max {max(changes):+.3f}); "
          f"{statistics.mean(row['seconds'] for row in found):.1f} s mean, "
          f"{statistics.mean(row['share'] for row in found):.1f}% of the encode")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
