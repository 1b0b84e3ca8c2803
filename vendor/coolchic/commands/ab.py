# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic ab``: does variant B beat variant A on my images, and by how much?

A variant is a host (ours, or genuine upstream Cool-chic 5.0.1 patched with
our hook contract) and a context provider. Encodes and decodes every
(variant, image, lambda) in a fresh work directory, in parallel (worker
threads here or a Dask cluster, ``coolchic.ab.executors``), then writes the
per-image table, one CompressAI-style curve per variant, ``summary.json``
(BD-rates) and ``rd.png``. Rerunning skips finished jobs whose settings are
unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from coolchic.ab import upstream as upstream_host
from coolchic.ab.executors import EXECUTORS, describe_failures, run_dask, run_local
from coolchic.ab.jobs import Job
from coolchic.ab.process import JobError
from coolchic.ab.report import compressai_json, plot_rd, summary, write_table
from coolchic.ab.upstream import UpstreamHost
from coolchic.ab.variants import Variant
from coolchic.commands.running import StatusLine, guarded
from coolchic.config import SHIPPED_CONFIGS, on_off, resolve_config_path
from coolchic.files import write_json
from coolchic.errors import ConfigError
from coolchic.plugins import host_plugin_manager
from coolchic.presets import MIN_ITERATIONS, PRESETS
from coolchic.settings import parse_settings

PROG = "mrc-coolchic ab"
HOST_PRESETS = {"ours": PRESETS, "upstream": tuple(upstream_host.PRESET_OPTIONS)}
HOST_MIN_ITERATIONS = {"ours": MIN_ITERATIONS, "upstream": upstream_host.MIN_ITERATIONS}
DEFAULT_CONFIG = {"ours": "hop", "upstream": upstream_host.DEFAULT_CONFIG}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", required=True, help="folder of PNG images")
    parser.add_argument("--names", help="comma-separated image names (stems) to use; default all")
    parser.add_argument("--lmbda", default="0.02,0.004,0.001,0.0004",
                        help="comma-separated rate constraints")
    parser.add_argument("--n_itr", type=int, default=10000, help="training iterations per encode")
    parser.add_argument("--preset", choices=sorted({*PRESETS, *upstream_host.PRESET_OPTIONS}),
                        default="intra", help="training schedule: intra (both hosts), fast (ours, "
                        "scaled down for quick looks), debug (upstream's --debug smoke test)")
    parser.add_argument("--out", required=True, help="output folder (resumable)")
    parser.add_argument("--a", default="spatial",
                        help="reference variant, [HOST/]NAME[:key=value,...] (default spatial); "
                        "HOST is ours (default) or upstream")
    parser.add_argument("--b", default="mrc:depth=6",
                        help="candidate variant, e.g. mrc:depth=6 or upstream/mrc:depth=6")
    parser.add_argument("--dec_cfg",
                        help=f"decoder config file, or a name: ours {', '.join(SHIPPED_CONFIGS)}; "
                        f"upstream {', '.join(upstream_host.CONFIG_NAMES)} (its cfg/dec/intra, "
                        f"the same as ours); default {DEFAULT_CONFIG['ours']}")
    parser.add_argument("--upstream", metavar="PATH",
                        help="unpatched upstream Cool-chic 5.0.1 checkout, only read "
                        "(default: $COOLCHIC_SRC)")
    parser.add_argument("--upstream-python", dest="upstream_python", metavar="PY",
                        default=sys.executable,
                        help="interpreter that runs upstream (default: this one)")
    parser.add_argument("--workers", type=int, default=1,
                        help="encodes running at once (local executor; dask: the workers of the "
                        "local cluster started when no --scheduler is given)")
    parser.add_argument("--executor", choices=EXECUTORS, default="local",
                        help="local: worker threads here (default); dask: a Dask distributed "
                        "cluster (OUT must be on a filesystem every worker sees)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="with --executor dask: the scheduler of a running cluster, e.g. "
                        "tcp://host:8786 (default: start a local cluster of --workers workers)")
    parser.add_argument("--jobs-per-gpu", dest="jobs_per_gpu", type=int, default=1,
                        help="with --executor dask and --device cuda: jobs sharing one GPU")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads per job (0: cores / workers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--cuda_graph", type=on_off, metavar="on|off", default=True,
                        help="our host on a GPU: replay training steps from a CUDA graph "
                        "(default on; off is part of the jobs' key)")
    parser.add_argument("--cudnn_benchmark", type=on_off, metavar="on|off", default=True,
                        help="our host on a GPU: let cuDNN time its convolution algorithms (default "
                        "on; off, faster for short encodes, is part of the jobs' key)")
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
    for variant in variants:
        if variant.host == "ours":  # unknown options fail here, not in every job
            try:
                parse_settings(variant.encoder_arguments(), host_plugin_manager())
            except ConfigError as error:
                raise ConfigError(f"variant {variant.spec!r}: {error}") from None
    if args.workers < 1 or args.threads < 0 or args.jobs_per_gpu < 1:
        raise ConfigError("--workers and --jobs-per-gpu must be >= 1 and --threads >= 0")
    if args.scheduler and args.executor != "dask":
        raise ConfigError("--scheduler needs --executor dask")
    hosts = sorted({variant.host for variant in variants})
    check_preset(args.preset, args.n_itr, hosts)
    images = collect_images(args.images, args.names)
    lambdas = parse_lambdas(args.lmbda)
    out = Path(args.out)
    upstream = None
    if "upstream" in hosts:
        source = args.upstream or os.environ.get("COOLCHIC_SRC")
        if not source:
            raise ConfigError(f"an upstream variant needs --upstream PATH (or COOLCHIC_SRC): an "
                              f"unpatched Cool-chic {upstream_host.VERSION} checkout")
        providers = {v.provider for v in variants if v.host == "upstream" and v.encoder_arguments()}
        upstream = UpstreamHost.prepare(source, out / "upstream", args.upstream_python, providers,
                                        args.device)
    configs = resolve_configs(args.dec_cfg, hosts, upstream)
    # Variants innermost: an interrupted run leaves complete A/B pairs behind.
    jobs = [
        Job(variant, image, lmbda, args.n_itr, args.preset, configs[variant.host], args.seed,
            args.device, out / "jobs" / variant.label / image.stem / f"lmbda{lmbda}",
            upstream if variant.host == "upstream" else None, args.cuda_graph,
            args.cudnn_benchmark)
        for image in images for lmbda in lambdas for variant in variants
    ]
    records = {job: job.finished_record() for job in jobs}
    pending = [job for job, record in records.items() if record is None]
    where = (f"{args.workers} workers" if args.executor == "local" else
             f"Dask cluster {args.scheduler}" if args.scheduler else
             f"local Dask cluster of {args.workers} workers")
    # On a cluster of other machines, 0: each job takes its worker's share of that machine.
    threads = args.threads or (0 if args.scheduler else
                               max(1, (os.cpu_count() or 1) // args.workers))
    print(f"{len(jobs)} jobs ({len(jobs) - len(pending)} finished earlier, {len(pending)} to run),"
          f" {where} x {threads or 'auto'} threads", file=sys.stderr)
    progress = Progress(len(pending))

    def done(job: Job, record: dict) -> None:
        records[job] = record
        progress.update(f"{job.variant.label} {job.image.stem} {job.lmbda}")

    failures, interrupted = [], False
    try:
        if args.executor == "local":
            failures = run_local(pending, args.workers, threads, done)
        else:
            failures = run_dask(pending, args.scheduler, args.workers, threads, args.device,
                                args.jobs_per_gpu, done)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()
    if interrupted:
        kept = sum(record is not None for record in records.values())
        print(f"{PROG}: interrupted; {kept} finished jobs are kept in {out} (the same command "
              "resumes)", file=sys.stderr)
        return 130
    if failures:
        raise JobError(describe_failures(failures))
    all_records = list(records.values())
    settings = {k: v for k, v in vars(args).items() if k != "debug"}
    settings["dec_cfg_files"] = {host: str(path) for host, path in configs.items()}
    if upstream is not None:
        settings["upstream"] = {"checkout": str(upstream.source), "copy": str(upstream.root),
                                "python": upstream.python, **upstream.identity()}
    for variant in variants:
        rows = [r for r in all_records if r["variant"] == variant.label]
        description = (f"{_host_description(variant, upstream)}, {configs[variant.host].name}, "
                       f"{args.preset} preset, {args.n_itr} iterations, seed {args.seed}")
        write_json(out / f"{variant.label}.json", compressai_json(variant.label, description, rows))
    write_table(out, all_records)
    result = summary(variants[0].label, variants[1].label, all_records, settings)
    write_json(out / "summary.json", result)
    plot_rd(out / "rd.png", result)
    print(_describe(result))
    return 0


def check_preset(preset: str, n_itr: int, hosts: Sequence[str]) -> None:
    for host in hosts:
        if preset not in HOST_PRESETS[host]:
            whose = "our host's" if host == "ours" else "upstream's"
            raise ConfigError(f"--preset {preset}: {whose} presets are "
                              f"{', '.join(HOST_PRESETS[host])}")
        least = HOST_MIN_ITERATIONS[host].get(preset, 1)
        if n_itr < least:
            raise ConfigError(f"--n_itr {n_itr}: the {preset} preset needs at least {least}")


def _config_settings(path: Path) -> dict[str, str]:
    """A config file's ``key = value`` pairs, with upstream's ``_residue`` suffix dropped."""
    settings = {}
    for line in path.read_text().splitlines():
        line = line.split(";", 1)[0].split("#", 1)[0].strip()
        if "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            settings[key.removesuffix("_residue")] = value
    return settings


def resolve_configs(value: str | None, hosts: Sequence[str],
                    upstream: UpstreamHost | None) -> dict[str, Path]:
    """The config file each host reads for ``--dec_cfg``; one architecture for both hosts."""
    name = value or DEFAULT_CONFIG["upstream" if upstream is not None else "ours"]
    paths = {}
    for host in hosts:
        path = upstream.config_path(name) if host == "upstream" else Path(resolve_config_path(name))
        if not path.is_file():
            raise ConfigError(f"--dec_cfg {name}: no such file")
        paths[host] = path.resolve()
    if len(paths) == 2 and _config_settings(paths["ours"]) != _config_settings(paths["upstream"]):
        raise ConfigError(f"--dec_cfg {name}: the two hosts' configs of that name differ "
                          f"({paths['ours']} vs {paths['upstream']}); give one config file for both")
    return paths


def _host_description(variant: Variant, upstream: UpstreamHost | None) -> str:
    if upstream is None or variant.host != "upstream":
        return f"mrc-coolchic {variant.spec}"
    provider = variant.spec if variant.encoder_arguments() else "no context provider"
    return (f"Cool-chic {upstream_host.VERSION} with patches/{upstream_host.PATCH_NAME} "
            f"(sha256 {upstream.patch_sha256[:12]}), {provider}")


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
