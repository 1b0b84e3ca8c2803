# SPDX-License-Identifier: BSD-3-Clause
"""One A/B job: encode and decode one image at one lambda with one variant.

Each job runs ``mrc-coolchic encode`` then ``decode`` in fresh processes and
a fresh work directory, measures the PSNR of the decoded PNG and the size of
the bitstream, and writes ``job.json`` last. A job counts as finished only
when ``job.json`` exists and records the same settings key: resuming skips
finished jobs and reruns any whose inputs or settings changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coolchic import __version__
from coolchic.config import resolve_config_path
from coolchic.encoder import write_json
from coolchic.errors import ConfigError, CoolChicError
from coolchic.imageio import load_image, psnr_8bit

_SPEC = re.compile(r"^([a-z][a-z0-9_]*)((?::[a-z][a-z0-9_]*=[^:,=]+)*)$")


@dataclass(frozen=True)
class Variant:
    """A provider and its options, written ``name`` or ``name:key=value:key=value``."""

    provider: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Variant:
        match = _SPEC.match(spec)
        if not match:
            raise ConfigError(f"variant {spec!r}: expected NAME or NAME:key=value, e.g. mrc:depth=6")
        pairs = [item.split("=", 1) for item in match.group(2).split(":") if item]
        return cls(match.group(1), tuple((k, v) for k, v in pairs))

    @property
    def label(self) -> str:
        return self.provider + "".join(f"-{key}{value}" for key, value in self.options)

    @property
    def spec(self) -> str:
        return self.provider + "".join(f":{key}={value}" for key, value in self.options)

    def encoder_arguments(self) -> list[str]:
        args = ["--context_provider", self.provider]
        for key, value in self.options:
            args += [f"--{self.provider}_{key}", value]
        return args


@dataclass(frozen=True)
class Job:
    variant: Variant
    image: Path
    lmbda: float
    n_itr: int
    preset: str
    dec_cfg: str
    seed: int
    device: str
    workdir: Path

    def settings(self) -> dict:
        """Everything that changes the result; its hash is the job's key."""
        config = Path(resolve_config_path(self.dec_cfg))
        return {
            "variant": self.variant.spec,
            "image_sha256": hashlib.sha256(self.image.read_bytes()).hexdigest(),
            "lmbda": self.lmbda,
            "n_itr": self.n_itr,
            "preset": self.preset,
            "dec_cfg_text": config.read_text(),
            "seed": self.seed,
            "device": self.device,
            "version": __version__,
        }

    def key(self) -> str:
        text = json.dumps(self.settings(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def record_path(self) -> Path:
        return self.workdir / "job.json"

    def finished_record(self) -> dict | None:
        """The record of a finished job with the same settings, else None."""
        try:
            record = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None
        return record if record.get("key") == self.key() else None


class JobError(CoolChicError):
    """A job's encode or decode failed."""


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise JobError(f"{what} failed ({lines[-1] if lines else f'exit {done.returncode}'})")


def run_job(job: Job, threads: int) -> dict:
    """Encode, decode and measure; returns (and stores) the job's record."""
    key = job.key()
    if job.workdir.exists():
        shutil.rmtree(job.workdir)  # never reuse a half-done or outdated job
    job.workdir.mkdir(parents=True)
    bitstream, decoded = job.workdir / "bitstream.cool", job.workdir / "decoded.png"
    cli = [sys.executable, "-m", "coolchic.cli"]
    start = time.monotonic()
    _run(
        [*cli, "encode", "-i", str(job.image), "-o", str(bitstream),
         "--results", str(job.workdir / "encode.json"), "--dec_cfg", job.dec_cfg,
         "--lmbda", repr(job.lmbda), "--n_itr", str(job.n_itr), "--preset", job.preset,
         "--seed", str(job.seed), "--device", job.device, "--threads", str(threads), "--quiet",
         *job.variant.encoder_arguments()],
        f"encode of {job.image.name} ({job.variant.label}, lambda {job.lmbda})",
    )
    wall = time.monotonic() - start
    _run(
        [*cli, "decode", "-i", str(bitstream), "-o", str(decoded),
         "--results", str(job.workdir / "decode.json"), "--threads", str(threads)],
        f"decode of {job.image.name} ({job.variant.label}, lambda {job.lmbda})",
    )
    encoded = json.loads((job.workdir / "encode.json").read_text())
    decoding = json.loads((job.workdir / "decode.json").read_text())
    n_pixels = encoded["n_pixels"]
    record = {
        "key": key,
        "variant": job.variant.label,
        "image": job.image.stem,
        "lmbda": job.lmbda,
        "n_pixels": n_pixels,
        "bitstream_bytes": bitstream.stat().st_size,
        "bpp": 8 * bitstream.stat().st_size / n_pixels,
        "latent_bpp": 8 * encoded["latent_bytes"] / n_pixels,
        "nn_bpp": 8 * encoded["nn_bytes"] / n_pixels,
        "bpp_estimate": encoded["rate_bpp_estimate"],
        "psnr_rgb": psnr_8bit(load_image(decoded), load_image(job.image)),
        "encoder_psnr": encoded["psnr_db"],
        "encoding_time": encoded["encode_time_s"],
        "encode_wall_time": wall,
        "decoding_time": decoding["decode_time_s"],
        "mac_per_pixel": encoded["mac_per_pixel"],
        "settings": {k: v for k, v in job.settings().items() if k != "dec_cfg_text"},
    }
    if record["psnr_rgb"] != record["encoder_psnr"]:
        raise JobError(
            f"{job.image.name} ({job.variant.label}, lambda {job.lmbda}): decoded PSNR "
            f"{record['psnr_rgb']:.4f} dB differs from the encoder's {record['encoder_psnr']:.4f}"
        )
    write_json(job.record_path, record)
    return record
