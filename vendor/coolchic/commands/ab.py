# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic ab``: does variant B beat variant A on my images, and by how much?

Encodes and decodes every (variant, image, lambda) in a fresh work directory,
in parallel worker processes, then writes the per-image table, one
CompressAI-style curve per variant, ``summary.json`` (BD-rates) and
``rd.png``. Rerunning skips finished jobs whose settings are unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from coolchic.cli import StatusLine, guarded
from coolchic.config import SHIPPED_CONFIGS, resolve_config_path
from coolchic.encoder import write_json
from coolchic.errors import ConfigError
from coolchic.presets import PRESETS
from coolchic.ab.jobs import Job, Variant, run_job
from coolchic.ab.report import compressai_json, plot_rd, summary, write_table

PROG = "mrc-coolchic ab"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", required=True, help="folder of PNG images")
    parser.add_argument("--names", help="comma-separated image names (stems) to use; default all")
    parser.add_argument("--lmbda", default="0.02,0.004,0.001,0.0004",
                        help="comma-separated rate constraints")
    parser.add_argument("--n_itr", type=int, default=10000, help="training iterations per encode")
    parser.add_argument("--preset", choices=PRESETS, default="intra")
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--a", default="spatial", help="reference variant (default spatial)")
    parser.add_argument("--b", default="mrc:depth=6", help="candidate variant, NAME:key=value")
    parser.add_argument("--dec_cfg", default="paper",
                        help=f"decoder config file or one of {', '.join(SHIPPED_CONFIGS)}")
    parser.add_argument("--workers", type=int, default=1, help="encodes running at once")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per job (0: cores / workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser


def collect_images(folder: str, names: str | None) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"--images {folder}: not a folder")
    images = sorted(root.glob("*.png"))
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        by_stem = {p.stem: p for p in images}
        missing = [n for n in wanted if n not in by_stem]
        if missing:
            raise ConfigError(f"--names: no {', '.join(missing)}.png in {folder}")
        images = [by_stem[n] for n in wanted]
    if not images:
        raise ConfigError(f"--images {folder}: no PNG images")
    return images


def parse_lambdas(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--lmbda {text}: expected comma-separated numbers") from None
    if not values or any(not v > 0 for v in values) or len(set(values)) != len(values):
        raise ConfigError(f"--lmbda {text}: need distinct positive values")
    return values


class Progress(StatusLine):
    """Jobs done / total with elapsed time and an ETA, on stderr."""

    def __init__(self, total: int, stream=None) -> None:
        super().__init__(100, stream)
        self.total, self.done = total, 0
        self.start = time.monotonic()

    def update(self, last: str) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        width = 24
        filled = round(width * self.done / max(self.total, 1))
        self.show(f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} jobs, "
                  f"{_clock(elapsed)} elapsed, ETA {_clock(eta)} | {last}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    return guarded(lambda: run(args), args.debug, PROG)


def run(args) -> int:
    variants = [Variant.parse(args.a), Variant.parse(args.b)]
    if variants[0].label == variants[1].label:
        raise ConfigError(f"--a and --b are the same variant ({variants[0].spec})")
    if args.workers < 1 or args.threads < 0:
        raise ConfigError("--workers must be >= 1 and --threads >= 0")
    if not Path(resolve_config_path(args.dec_cfg)).is_file():
        raise ConfigError(f"--dec_cfg {args.dec_cfg}: no such file")
    images = collect_images(args.images, args.names)
    lambdas = parse_lambdas(args.lmbda)
    out = Path(args.out)
    # Variants innermost: an interrupted run leaves complete A/B pairs behind.
    jobs = [
        Job(variant, image, lmbda, args.n_itr, args.preset, args.dec_cfg, args.seed, args.device,
            out / "jobs" / variant.label / image.stem / f"lmbda{lmbda}")
        for image in images for lmbda in lambdas for variant in variants
    ]
    records = {job: job.finished_record() for job in jobs}
    pending = [job for job, record in records.items() if record is None]
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.workers)
    print(f"{len(jobs)} jobs ({len(jobs) - len(pending)} finished earlier, {len(pending)} to run),"
          f" {args.workers} workers x {threads} threads", file=sys.stderr)
    progress = Progress(len(pending))
    pool = ThreadPoolExecutor(args.workers)
    running = {pool.submit(run_job, job, threads): job for job in pending}
    try:
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                records[job] = future.result()
                progress.update(f"{job.variant.label} {job.image.stem} {job.lmbda}")
    finally:
        # On an error or Ctrl-C, start nothing more; jobs without job.json rerun next time.
        pool.shutdown(wait=True, cancel_futures=True)
        progress.close()
    all_records = list(records.values())
    settings = {k: v for k, v in vars(args).items() if k != "debug"}
    for variant in variants:
        rows = [r for r in all_records if r["variant"] == variant.label]
        description = (f"mrc-coolchic {variant.spec}, {args.dec_cfg} config, {args.preset} preset, "
                       f"{args.n_itr} iterations, seed {args.seed}")
        write_json(out / f"{variant.label}.json", compressai_json(variant.label, description, rows))
    write_table(out, all_records)
    result = summary(variants[0].label, variants[1].label, all_records, settings)
    write_json(out / "summary.json", result)
    plot_rd(out / "rd.png", result)
    print(_describe(result))
    return 0


def _describe(result: dict) -> str:
    def pct(value):
        return "n/a" if value is None else f"{value:+.2f}%"

    spread = result["per_image_spread"]
    text = (f"{result['candidate']} vs {result['reference']} on {result['n_images']} images: "
            f"BD-rate {pct(result['bd_rate_percent'])} (pchip; cubic "
            f"{pct(result['bd_rate_cubic_percent'])}), latents only "
            f"{pct(result['bd_rate_latent_percent'])}, mean of per-image BD-rates "
            f"{pct(result['mean_per_image_bd_rate_percent'])}")
    if spread:
        text += f" (min {spread['min']:+.2f}%, max {spread['max']:+.2f}%)"
    return text
