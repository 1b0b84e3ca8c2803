# SPDX-License-Identifier: BSD-3-Clause
"""Encode time and peak memory of our host: against image size, and beside a busy process.

    python benchmarks/speed.py sizes IMAGE OUT.json [--sizes 256,512,1024,2048] [--n_itr 40]
    python benchmarks/speed.py load IMAGE OUT.json [--size 256|WxH] [--n_itr 200] [--threads 0,1]
                               [--repeats 1]
    python benchmarks/speed.py memory IMAGE OUT.json [--sizes 256,768] [--n_itr 200] [--repeats 2]
    python benchmarks/speed.py crop IMAGE OUT.png [--size 256|WxH]

``sizes`` encodes IMAGE resized and centre-cropped to each size (square), with
the fast preset, and prints wall time, time per pixel and peak resident
memory. ``load`` encodes a crop (``--size``: a square side or WxH) with
``spatial`` and ``mrc``, alone and beside one busy process (a Python loop), for
each thread count (``--threads`` as the encoder takes it: 0 is every core), and
prints the slowdowns under load and MRC over spatial: medians of ``--repeats``
rounds, each round every setting alone then loaded.
Each encode runs in its own process (``coolchic.ab.process.run_step``), so
its wall time covers the whole encode and its peak memory is its own.
``memory`` encodes a square crop of each size with ``--keep_memory on`` and
``off`` (``coolchic.heap``), alternating, ``--repeats`` times each, and prints
the time ratio, both peaks, and whether the two files are the same bytes.
``crop`` writes the crop ``load`` encodes. All use upstream's ``hop.cfg`` unless
``--dec_cfg`` says otherwise. Our host against upstream's: ``benchmarks/speed.sh``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coolchic.ab.process import run_step
from coolchic.machine import describe
from PIL import Image

BUSY_LOOP = "while True:\n    pass\n"


def centre_crop(source: Path, size: tuple[int, int], out: Path) -> Path:
    """``source`` scaled (bicubic) to cover ``size`` (width, height), centre-cropped, as PNG."""
    width, height = size
    image = Image.open(source).convert("RGB")
    scale = max(width / image.width, height / image.height)
    if scale != 1:
        image = image.resize((max(width, round(image.width * scale)),
                              max(height, round(image.height * scale))), Image.BICUBIC)
    left, top = (image.width - width) // 2, (image.height - height) // 2
    image.crop((left, top, left + width, top + height)).save(out)
    return out


def crop_size(text: str) -> tuple[int, int]:
    """``S`` (a square) or ``WxH``, in pixels."""
    match = re.fullmatch(r"([1-9][0-9]*)(?:x([1-9][0-9]*))?", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected S or WxH, positive pixels")
    return int(match[1]), int(match[2] or match[1])


def encode(image: Path, workdir: Path, args: argparse.Namespace, *extra: str,
           name: str = "out") -> dict:
    """One encode in a fresh process: wall time (s) and peak resident memory (MiB)."""
    bitstream = workdir / f"{name}.cool"
    step = run_step(
        [sys.executable, "-m", "coolchic.cli", "encode", "-i", str(image), "-o", str(bitstream),
         "--dec_cfg", args.dec_cfg, "--preset", "fast", "--n_itr", str(args.n_itr),
         "--lmbda", "0.004", "--seed", "0", "--device", "cpu", "--quiet", *extra],
        f"encode of {image.name}",
    )
    return {"wall_s": step.wall_s, "peak_rss_mib": step.peak_rss_mib,
            "bytes": bitstream.stat().st_size}


def sizes(args: argparse.Namespace, scratch: Path) -> dict:
    rows = []
    print(f"{'size':>9} {'wall s':>8} {'us/pixel/itr':>13} {'peak MiB':>9}")
    for size in args.sizes:
        image = centre_crop(args.image, (size, size), scratch / f"{size}.png")
        row = {"size": size, **encode(image, scratch, args)}
        row["us_per_pixel_iteration"] = 1e6 * row["wall_s"] / (size * size * args.n_itr)
        rows.append(row)
        print(f"{size:>4}x{size:<4} {row['wall_s']:8.1f} {row['us_per_pixel_iteration']:13.3f} "
              f"{row['peak_rss_mib']:9.0f}", flush=True)
    return {"rows": rows}


def load(args: argparse.Namespace, scratch: Path) -> dict:
    image = centre_crop(args.image, args.size, scratch / "load.png")
    times = {(t, p): {"alone": [], "loaded": []} for t in args.threads
             for p in ("spatial", "mrc")}
    for _ in range(args.repeats):
        for (threads, provider), runs in times.items():
            extra = ["--context_provider", provider, "--threads", str(threads)]
            runs["alone"].append(encode(image, scratch, args, *extra)["wall_s"])
            busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
            try:
                runs["loaded"].append(encode(image, scratch, args, *extra)["wall_s"])
            finally:
                busy.kill()
                busy.wait()
    rows = []
    for (threads, provider), runs in times.items():
        alone, loaded = statistics.median(runs["alone"]), statistics.median(runs["loaded"])
        rows.append({"threads": threads, "provider": provider, "alone_s": alone,
                     "loaded_s": loaded, "loaded_over_alone": loaded / alone,
                     "alone_runs_s": runs["alone"], "loaded_runs_s": runs["loaded"]})
    print(f"{'threads':>8} {'provider':>9} {'alone s':>8} {'loaded s':>9} {'loaded/alone':>13} "
          f"{'mrc/spatial alone':>18} {'loaded':>7}")
    for row in rows:
        spatial = next(r for r in rows if r["threads"] == row["threads"]
                       and r["provider"] == "spatial")
        row["over_spatial_alone"] = row["alone_s"] / spatial["alone_s"]
        row["over_spatial_loaded"] = row["loaded_s"] / spatial["loaded_s"]
        print(f"{row['threads'] or 'all':>8} {row['provider']:>9} {row['alone_s']:8.1f} "
              f"{row['loaded_s']:9.1f} {row['loaded_over_alone']:13.2f} "
              f"{row['over_spatial_alone']:18.3f} {row['over_spatial_loaded']:7.3f}")
    return {"rows": rows, "repeats": args.repeats,
            "busy_process": "one Python busy loop (one core)"}


def memory(args: argparse.Namespace, scratch: Path) -> dict:
    rows = []
    print(f"{'size':>9} {'kept s':>8} {'freed s':>8} {'kept/freed':>10} {'kept MiB':>9} "
          f"{'freed MiB':>9}  same file")
    for size in args.sizes:
        image = centre_crop(args.image, (size, size), scratch / f"{size}.png")
        runs = {"on": [], "off": []}
        for repeat in range(args.repeats):
            for value in ("on", "off") if repeat % 2 == 0 else ("off", "on"):
                runs[value].append(encode(image, scratch, args, "--keep_memory", value,
                                          name=f"{size}-{value}"))
        same = (scratch / f"{size}-on.cool").read_bytes() == (scratch / f"{size}-off.cool").read_bytes()
        kept = sum(r["wall_s"] for r in runs["on"]) / args.repeats
        freed = sum(r["wall_s"] for r in runs["off"]) / args.repeats
        row = {"size": size, "kept_s": [r["wall_s"] for r in runs["on"]],
               "freed_s": [r["wall_s"] for r in runs["off"]], "kept_over_freed": kept / freed,
               "kept_peak_mib": max(r["peak_rss_mib"] for r in runs["on"]),
               "freed_peak_mib": max(r["peak_rss_mib"] for r in runs["off"]), "same_file": same}
        rows.append(row)
        print(f"{size:>4}x{size:<4} {kept:8.1f} {freed:8.1f} {row['kept_over_freed']:10.3f} "
              f"{row['kept_peak_mib']:9.0f} {row['freed_peak_mib']:9.0f}  {same}", flush=True)
    return {"rows": rows, "repeats": args.repeats, "threads": 1}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("what", choices=("sizes", "load", "memory", "crop"))
    parser.add_argument("image", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--dec_cfg", default="hop")
    parser.add_argument("--n_itr", type=int)
    parser.add_argument("--sizes", help="sizes: default 256,512,1024,2048; memory: 256,768")
    parser.add_argument("--threads", default="0,1")
    parser.add_argument("--size", type=crop_size, default=(256, 256),
                        help="load and crop: the crop, S (a square) or WxH")
    parser.add_argument("--repeats", type=int,
                        help="memory: encodes per setting (default 2); load: rounds, medians "
                             "reported (default 1)")
    args = parser.parse_args(argv)
    if not args.image.is_file():
        print(f"speed.py: {args.image}: no such image", file=sys.stderr)
        return 2
    if args.what == "crop":
        centre_crop(args.image, args.size, args.out)
        return 0
    args.n_itr = args.n_itr or (40 if args.what == "sizes" else 200)
    args.repeats = args.repeats or (2 if args.what == "memory" else 1)
    args.sizes = args.sizes or ("256,768" if args.what == "memory" else "256,512,1024,2048")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.threads = [int(t) for t in args.threads.split(",")]
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="speed-") as scratch:
        result = {"sizes": sizes, "load": load, "memory": memory}[args.what](args, Path(scratch))
    result |= {"what": args.what, "image": args.image.name, "dec_cfg": args.dec_cfg,
               **({"size": "x".join(map(str, args.size))} if args.what == "load" else {}),
               "preset": "fast", "n_itr": args.n_itr, "started": started,
               "machine": describe()}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
