# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic demo``: encode a generated image with a fast setting."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from coolchic.commands import encode
from coolchic.imageio import demo_image, save_png

PROG = "mrc-coolchic demo"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Encode a generated 64x96 image (fast preset, lop config) as a smoke test.",
    )
    parser.add_argument("--out", default="mrc-coolchic-demo", help="directory for the outputs")
    parser.add_argument("--n_itr", type=int, default=400, help="training iterations")
    parser.add_argument("--context_provider", default="spatial", help="e.g. spatial or mrc")
    args, extra = parser.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    image_path = out / "demo.png"
    save_png(demo_image(), image_path)
    print(f"generated {image_path} (64x96)")
    return encode.main(
        [
            "-i", str(image_path),
            "--dec_cfg", "lop",
            "--preset", "fast",
            "--n_itr", str(args.n_itr),
            "--context_provider", args.context_provider,
            "--results", str(out / "results.json"),
            *extra,
        ]
    )
