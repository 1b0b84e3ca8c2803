# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic demo``: encode a generated image, decode the file, compare.

Exits with 1 if the image decoded from the file does not have the PSNR the
encoder reported.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from coolchic.commands import decode, encode
from coolchic.imageio import demo_image, load_image, psnr_8bit, save_png

PROG = "mrc-coolchic demo"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Encode a generated 64x96 image (fast preset, lop config), decode the "
        "bitstream and check that both sides agree. Other options go to 'encode'.",
    )
    parser.add_argument("--out", default="mrc-coolchic-demo", help="directory for the outputs")
    parser.add_argument("--n_itr", type=int, default=400, help="training iterations")
    args, extra = parser.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    image_path, bitstream, decoded_path = out / "demo.png", out / "demo.cool", out / "decoded.png"
    results = out / "results.json"
    original = demo_image()
    save_png(original, image_path)
    print(f"generated {image_path} (64x96)")
    status = encode.main(
        ["-i", str(image_path), "-o", str(bitstream), "--dec_cfg", "lop", "--preset", "fast",
         "--n_itr", str(args.n_itr), "--results", str(results), *extra]
    )
    if status:
        return status
    status = decode.main(["-i", str(bitstream), "-o", str(decoded_path)])
    if status:
        return status
    encoder_psnr = json.loads(results.read_text())["psnr_db"]
    decoder_psnr = psnr_8bit(load_image(decoded_path), original)
    size = bitstream.stat().st_size
    print(
        f"encoder PSNR {encoder_psnr:.4f} dB, decoded PSNR {decoder_psnr:.4f} dB, "
        f"{size} bytes ({8 * size / (64 * 96):.4f} bpp)"
    )
    if decoder_psnr != encoder_psnr:
        print(f"{PROG}: error: the decoded image differs from the encoder's", flush=True)
        return 1
    print("OK: the decoder reproduces the encoder exactly")
    return 0
