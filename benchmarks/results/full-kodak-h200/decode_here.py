"""Decode, on this (CPU) machine, the bitstreams a device call brought back, and tabulate them.

    python decode_here.py JOBS_DIR IMAGES_DIR UPSTREAM_CHECKOUT OUT_DIR

JOBS_DIR is ab's ``jobs/`` folder (``<variant>/<image>/lmbda<L>/bitstream.cool``). Our files are
decoded with ``mrc-coolchic decode``, upstream's with upstream's own ``cc_decode.py``, launched
as ``ab`` launches it (``coolchic.ab.upstream.UpstreamHost``: the checkout copied and patched
in a temporary folder, one thread, on the CPU; the shim on PYTHONPATH); each through ``ab``'s
``run_step``, which names the file in its error. Rate is the file's size; PSNR is measured on
the decoded 8-bit PNG against the original. Writes OUT_DIR/decoded.json, {variant: {image:
[{lmbda, bytes, bpp, psnr}, ...]}}, and OUT_DIR/curve-<variant>-<image>.json ({bpp, psnr}
lists) for ``mrc-coolchic bdrate``.
"""
import json
import os
import sys
import tempfile
from pathlib import Path

from coolchic.ab.process import run_step
from coolchic.ab.upstream import UpstreamHost
from coolchic.imageio import load_image, psnr_8bit

SHIM = Path(__file__).resolve().parents[4] / "shared" / "tools" / "upstream-shim"


def decode(variant: str, bitstream: Path, decoded: Path, host: UpstreamHost) -> None:
    if variant.startswith("upstream"):
        run_step(host.script("cc_decode.py", ["-i", str(bitstream), "-o", str(decoded)],
                             seed=0, threads=1),
                 f"upstream decode of {bitstream}", cwd=decoded.parent,
                 env=host.environment(1, "cpu"))
    else:
        run_step(["mrc-coolchic", "decode", "-i", str(bitstream), "-o", str(decoded)],
                 f"decode of {bitstream}")


def main(jobs: Path, images: Path, upstream: Path, out: Path) -> None:
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM),
                                                             os.environ.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as cache:
        host = UpstreamHost.prepare(upstream, Path(cache), sys.executable, set(), "cpu")
        table = decode_all(jobs, images, host)
    write_tables(table, out)


def decode_all(jobs: Path, images: Path, host: UpstreamHost) -> dict:
    """{variant: {image: [{lmbda, bytes, bpp, psnr}, ...]}} from every file under ``jobs``."""
    table: dict = {}
    for bitstream in sorted(jobs.glob("*/*/lmbda*/bitstream.cool")):
        lmbda_dir = bitstream.parent
        variant, image = lmbda_dir.parent.parent.name, lmbda_dir.parent.name
        original = load_image(images / f"{image}.png")
        with tempfile.TemporaryDirectory() as tmp:
            decoded = Path(tmp) / "decoded.png"
            decode(variant, bitstream.resolve(), decoded, host)
            psnr = psnr_8bit(load_image(decoded), original)
        n_bytes = bitstream.stat().st_size
        n_pixels = original.shape[-2] * original.shape[-1]
        table.setdefault(variant, {}).setdefault(image, []).append({
            "lmbda": float(lmbda_dir.name.removeprefix("lmbda")), "bytes": n_bytes,
            "bpp": 8 * n_bytes / n_pixels, "psnr": psnr})
    return table


def write_tables(table: dict, out: Path) -> None:
    (out / "decoded.json").write_text(json.dumps(table, indent=1) + "\n")
    for variant, per_image in table.items():
        for image, rows in per_image.items():
            rows = sorted(rows, key=lambda row: row["bpp"])
            curve = {key: [row[key] for row in rows] for key in ("bpp", "psnr")}
            (out / f"curve-{variant}-{image}.json").write_text(json.dumps(curve) + "\n")


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:5]))
