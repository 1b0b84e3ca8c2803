# SPDX-License-Identifier: BSD-3-Clause
"""``mrc-coolchic ab`` with genuine upstream Cool-chic 5.0.1 as the host (COOLCHIC_SRC).

Upstream vs upstream + MRC on two tiny images and two lambdas with upstream's
``lop.cfg`` and its ``--debug`` schedule: every output, rows that name the
host, a checkout left exactly as it was, and an ``upstream/spatial`` file that
unpatched upstream writes byte for byte from the same trained model.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from coolchic.ab.upstream import patch_file

from .upstream import SOURCE, copy_checkout, needs_upstream, rewrite_bitstream, upstream_env

pytestmark = needs_upstream


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_ab(args: list[str]) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "coolchic.cli", "ab", *args], env=upstream_env(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("upstream-ab")
    images = root / "images"
    images.mkdir()
    with Image.open(Path(SOURCE) / "test" / "data" / "192x128_kodim15.png") as image:
        rgb = image.convert("RGB")
        rgb.crop((64, 32, 96, 56)).save(images / "a.png")   # 32x24
        rgb.crop((0, 0, 24, 16)).save(images / "b.png")     # 24x16
    before = tree_digest(Path(SOURCE))
    out = root / "out"
    args = ["--images", str(images), "--lmbda", "0.004,0.001", "--out", str(out),
            "--a", "upstream/spatial", "--b", "upstream/mrc:depth=2", "--dec_cfg", "lop",
            "--preset", "debug", "--workers", "2", "--device", "cpu", "--upstream", SOURCE]
    return args, out, before, run_ab(args)


def test_every_output_and_rows_naming_the_host(sweep):
    _, out, before, done = sweep
    assert "8 jobs (0 finished earlier, 8 to run)" in done.stderr
    assert "upstream-mrc-depth2 vs upstream-spatial on 2 images: BD-rate" in done.stdout
    for name in ("upstream-spatial.json", "upstream-mrc-depth2.json", "per_image.csv",
                 "per_image.json", "summary.json", "rd.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hosts"] == {"upstream-spatial": "upstream", "upstream-mrc-depth2": "upstream"}
    patch_hash = hashlib.sha256(patch_file().read_bytes()).hexdigest()
    assert summary["settings"]["upstream"]["patch_sha256"] == patch_hash
    assert summary["encode_time_ratio"]["n_pairs"] == 4
    rows = list(csv.DictReader((out / "per_image.csv").read_text().splitlines()))
    assert len(rows) == 8
    for row in rows:
        assert (row["host"], row["upstream_version"], row["patch_sha256"]) == (
            "upstream", "5.0.1", patch_hash)
        job_dir = out / "jobs" / row["variant"] / row["image"] / f"lmbda{row['lmbda']}"
        job = json.loads((job_dir / "job.json").read_text())
        bitstream = job_dir / "bitstream.cool"
        assert job["bitstream_bytes"] == bitstream.stat().st_size
        assert job["bpp"] == 8 * job["bitstream_bytes"] / job["n_pixels"]
        assert 0 < job["latent_bpp"] and 0 < job["nn_bpp"]
        assert job["latent_bpp"] + job["nn_bpp"] < job["bpp"]  # the rest is headers
        assert abs(job["psnr_rgb"] - job["decoder_psnr"]) <= 1e-4  # upstream's own decode
        assert abs(job["psnr_rgb"] - job["encoder_psnr"]) <= 1e-4  # on the CPU
        params = (job_dir / "upstream" / "0000-param.txt").read_text()
        assert ("mrc_depth=2" in params) == (row["variant"] == "upstream-mrc-depth2")
    assert tree_digest(Path(SOURCE)) == before  # the checkout was only read


def test_rerunning_resumes(sweep):
    args, *_ = sweep
    assert "8 jobs (8 finished earlier, 0 to run)" in run_ab(args).stderr


def test_upstream_spatial_files_are_unpatched_upstreams(sweep, tmp_path):
    _, out, _, _ = sweep
    job_dir = out / "jobs" / "upstream-spatial" / "a" / "lmbda0.001"
    unpatched = copy_checkout(tmp_path / "unpatched", patched=False)
    again = rewrite_bitstream(unpatched, job_dir / "upstream" / "0000-frame_encoder.pt",
                              tmp_path / "again.cool")
    assert again.read_bytes() == (job_dir / "bitstream.cool").read_bytes()
