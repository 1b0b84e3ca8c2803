# SPDX-License-Identifier: BSD-3-Clause
"""One A/B job: encode and decode one image at one lambda with one variant.

Each job runs its host's encoder, then its host's decoder in a fresh process,
in a fresh work directory; the rate is the size of the written file and the
PSNR that of the decoded PNG. ``job.json`` is written last: a job counts as
finished only when it exists and records the same settings key, so resuming
skips finished jobs and reruns any whose inputs, settings or host changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from coolchic import __version__
from coolchic.ab.process import JobError, run_step
from coolchic.ab.upstream import PRESET_OPTIONS, UpstreamHost, decode_time, read_results_tsv
from coolchic.ab.variants import Variant
from coolchic.config import on_off_text
from coolchic.files import write_json
from coolchic.imageio import load_image, psnr_8bit
from coolchic.machine import describe

#: Largest gap allowed between the PSNR upstream's own decoder reports for a file
#: (printed to 7 digits, on the float image) and that of the 8-bit PNG its
#: ``cc_decode.py`` writes; ours must match exactly.
UPSTREAM_PSNR_TOLERANCE_DB = 1e-4


@functools.lru_cache(maxsize=1)
def software_identity() -> str:
    """``VERSION+SOURCE``: the package version and a hash of every installed source file."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".cfg", ".patch", ".json"):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class Job:
    variant: Variant
    image: Path
    lmbda: float
    n_itr: int
    preset: str
    dec_cfg: Path  # resolved for the variant's host
    seed: int
    device: str
    workdir: Path
    upstream: UpstreamHost | None = None  # set for upstream variants
    cuda_graph: bool = True  # our host on a GPU: replay training steps from a CUDA graph
    cudnn_benchmark: bool = True  # our host on a GPU: let cuDNN time its algorithms

    def settings(self) -> dict:
        """Everything that changes the result; its hash is the job's key."""
        settings = {
            "host": self.variant.host,
            "variant": self.variant.spec,
            "image_sha256": hashlib.sha256(self.image.read_bytes()).hexdigest(),
            "lmbda": self.lmbda,
            "n_itr": self.n_itr,
            "preset": self.preset,
            "dec_cfg_text": self.dec_cfg.read_text(),
            "seed": self.seed,
            "device": self.device,
            "version": __version__,
        }
        if self.upstream is not None:
            settings |= self.upstream.identity()
        if self.variant.host == "ours":  # our encodes change with its code, not only its version
            settings["software"] = software_identity()
            for option in ("cuda_graph", "cudnn_benchmark"):  # only when off: earlier keys stay
                if not getattr(self, option):
                    settings[option] = False
        return settings

    def key(self) -> str:
        text = json.dumps(self.settings(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def record_path(self) -> Path:
        return self.workdir / "job.json"

    @property
    def name(self) -> str:
        return f"{self.image.name} ({self.variant.label}, lambda {self.lmbda})"

    def finished_record(self) -> dict | None:
        """The record of a finished job with the same settings, else None."""
        try:
            record = json.loads(self.record_path.read_text())
        except (OSError, ValueError):
            return None
        return record if record.get("key") == self.key() else None


def _encode_decode_ours(job: Job, threads: int, bitstream: Path, decoded: Path) -> dict:
    cli = [sys.executable, "-m", "coolchic.cli"]
    encode = run_step(
        [*cli, "encode", "-i", str(job.image), "-o", str(bitstream),
         "--results", str(job.workdir / "encode.json"), "--dec_cfg", str(job.dec_cfg),
         "--lmbda", repr(job.lmbda), "--n_itr", str(job.n_itr), "--preset", job.preset,
         "--seed", str(job.seed), "--device", job.device, "--threads", str(threads), "--quiet",
         "--cuda_graph", on_off_text(job.cuda_graph),
         "--cudnn_benchmark", on_off_text(job.cudnn_benchmark), *job.variant.encoder_arguments()],
        f"encode of {job.name}",
    )
    decode = run_step(
        [*cli, "decode", "-i", str(bitstream), "-o", str(decoded),
         "--results", str(job.workdir / "decode.json"), "--threads", str(threads)],
        f"decode of {job.name}",
    )
    encoded = json.loads((job.workdir / "encode.json").read_text())
    decoding = json.loads((job.workdir / "decode.json").read_text())
    return {
        "latent_bytes": encoded["latent_bytes"],
        "nn_bytes": encoded["nn_bytes"],
        "bpp_estimate": encoded["rate_bpp_estimate"],
        "encoder_psnr": encoded["psnr_db"],
        "encoding_time": encoded["encode_time_s"],
        "encode_wall_time": encode.wall_s,
        "encode_peak_rss_mib": encode.peak_rss_mib,
        "decoding_time": decoding["decode_time_s"],
        "decode_peak_rss_mib": decode.peak_rss_mib,
        "mac_per_pixel": encoded["mac_per_pixel"],
        "cpu_kernels": encoded["cpu_kernels"],
    }


def _encode_decode_upstream(job: Job, threads: int, bitstream: Path, decoded: Path) -> dict:
    host = job.upstream
    assert host is not None
    work = job.workdir / "upstream"  # upstream chdirs into --workdir: it must exist
    work.mkdir()
    env = host.environment(threads, job.device)
    encode = run_step(
        host.script("cc_encode.py", [
            "-i", str(job.image.resolve()), "-o", str(bitstream.resolve()),
            "--workdir", str(work.resolve()), "--dec_cfg_residue", str(job.dec_cfg),
            "--lmbda", repr(job.lmbda), "--n_itr", str(job.n_itr),
            *PRESET_OPTIONS[job.preset], *job.variant.encoder_arguments()], job.seed, threads),
        f"upstream encode of {job.name}", cwd=job.workdir, env=env,
    )
    (job.workdir / "encode.log").write_text(encode.stdout)
    decode = run_step(
        host.script("cc_decode.py", ["-i", str(bitstream.resolve()), "-o", str(decoded.resolve())],
                    job.seed, threads),
        f"upstream decode of {job.name}", cwd=job.workdir, env=env,
    )
    encoded = read_results_tsv(work / "0000-results_encoder.tsv")
    # cc_encode.py decodes its file on the CPU before it exits: that, not the
    # encoder's own figure (float, and on a GPU not the CPU decoder's arithmetic),
    # is what the file must decode to here.
    own_decode = read_results_tsv(work / "0000-results_decoder.tsv")
    return {
        "decoder_psnr": float(own_decode["psnr_db"]),
        **host.section_bytes(bitstream),
        "bpp_estimate": float(encoded["rate_bpp"]),
        "encoder_psnr": float(encoded["psnr_db"]),
        "encoding_time": float(encoded["time_sec"]),
        "encode_wall_time": encode.wall_s,
        "encode_peak_rss_mib": encode.peak_rss_mib,
        "decoding_time": decode_time(decode.stdout),
        "decode_peak_rss_mib": decode.peak_rss_mib,
        "mac_per_pixel": float(encoded["mac_decoded_pixel"]),
        **host.identity(),
    }


def check_decoded_psnr(name: str, record: dict) -> None:
    """Refuse a job whose decoded PNG is not what its host says the file decodes to.

    Ours: the encoder decodes its own file and reports that image's PSNR, so the
    figures must be equal. Upstream: its encoder's figure comes from the trained
    float model (on a GPU, with other arithmetic than the CPU decoder), so the
    reference is the decode ``cc_encode.py`` runs on its written file.
    """
    if record["host"] == "upstream":
        if "decoder_psnr" not in record:
            raise JobError(f"{name}: upstream's record has no decoder_psnr (its own decode's PSNR)")
        reference, whose, tolerance = record["decoder_psnr"], "upstream's own decode", (
            UPSTREAM_PSNR_TOLERANCE_DB)
    else:
        reference, whose, tolerance = record["encoder_psnr"], "the encoder's", 0.0
    if abs(record["psnr_rgb"] - reference) > tolerance:
        raise JobError(
            f"{name}: decoded PSNR {record['psnr_rgb']:.6f} dB differs from {whose} "
            f"{reference:.6f}"
        )


def run_job(job: Job, threads: int) -> dict:
    """Encode, decode and measure; returns (and stores) the job's record."""
    key = job.key()
    if job.workdir.exists():
        shutil.rmtree(job.workdir)  # never reuse a half-done or outdated job
    job.workdir.mkdir(parents=True)
    bitstream, decoded = job.workdir / "bitstream.cool", job.workdir / "decoded.png"
    encode_decode = _encode_decode_upstream if job.upstream else _encode_decode_ours
    figures = encode_decode(job, threads, bitstream, decoded)
    original, image = load_image(job.image), load_image(decoded)
    n_pixels = original.shape[-2] * original.shape[-1]
    n_bytes = bitstream.stat().st_size
    record = {
        "key": key,
        "host": job.variant.host,
        "variant": job.variant.label,
        "image": job.image.stem,
        "lmbda": job.lmbda,
        "n_pixels": n_pixels,
        "bitstream_bytes": n_bytes,
        "bpp": 8 * n_bytes / n_pixels,
        "latent_bpp": 8 * figures.pop("latent_bytes") / n_pixels,
        "nn_bpp": 8 * figures.pop("nn_bytes") / n_pixels,
        "psnr_rgb": psnr_8bit(image, original),
        **figures,
        "settings": {k: v for k, v in job.settings().items() if k != "dec_cfg_text"},
        "machine": describe(job.device),  # where the job ran: a Dask worker's, not the client's
        "finished_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    check_decoded_psnr(job.name, record)
    write_json(job.record_path, record)
    return record
