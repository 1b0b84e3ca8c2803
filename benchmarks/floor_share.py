# SPDX-License-Identifier: BSD-3-Clause
"""How much of the latents' rate the 16-bit floor of the training rate hides, per file.

    python benchmarks/floor_share.py RUN_OUT/LABEL

Reads every ``bitstream.cool`` of an ``ab`` variant (``RUN_OUT/jobs/LABEL/``),
decodes it, and evaluates the decoded ARM on the decoded latents twice: with
the rate the encoder trained with (a latent costs at most 16 bits) and with
the range coder's floor (24 bits). Prints, per lambda, the extra share of
latent bits under the coder's floor and how many latents cost more than 16
bits, then the mean, median and maximum share over the files. The float ARM
stands for the coder's fixed-point one, which differs by rounding.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import torch

from coolchic.arm import CODER_FLOOR_BITS, RATE_FLOOR_BITS, laplace_rate_bits, mu_and_scale
from coolchic.bitstream.codec import integer_latents, read_bitstream
from coolchic.plugins import installed_providers


def hidden_share(data: bytes, registry) -> tuple[float, int]:
    """(extra latent bits under the coder's floor, in % of the trained rate; latents > 16 bits)."""
    model = read_bitstream(data, registry).model
    grids = [g.to(torch.float32).view(1, 1, *g.shape) for g in integer_latents(model)]
    with torch.no_grad():
        inputs = model.decoder_inputs(grids)
        mu, scale = mu_and_scale(model.arm(inputs.context))
        trained = laplace_rate_bits(inputs.flat, mu, scale, 2.0**-RATE_FLOOR_BITS)
        coded = laplace_rate_bits(inputs.flat, mu, scale, 2.0**-CODER_FLOOR_BITS)
    extra = float(coded.sum() - trained.sum())
    return 100.0 * extra / float(trained.sum()), int((coded > RATE_FLOOR_BITS).sum())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    side = Path(argv[0])
    files = sorted((side.parent / "jobs" / side.name).glob("*/lmbda*/bitstream.cool"))
    if not files:
        print(f"floor_share.py: {side}: no bitstreams", file=sys.stderr)
        return 2
    registry = installed_providers()
    by_lambda: dict[str, list[tuple[str, float, int]]] = {}
    for path in files:
        share, count = hidden_share(path.read_bytes(), registry)
        by_lambda.setdefault(path.parent.name, []).append((path.parent.parent.name, share, count))
    for name, rows in sorted(by_lambda.items()):
        print(f"{name}: " + ", ".join(f"{image} {share:.2f}% ({count})"
                                      for image, share, count in rows))
    shares = [share for rows in by_lambda.values() for _, share, _ in rows]
    print(f"extra latent bits under the coder's floor: mean {statistics.fmean(shares):.3f}%, "
          f"median {statistics.median(shares):.3f}%, max {max(shares):.3f}% over {len(shares)} "
          "files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
