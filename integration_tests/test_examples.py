# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end flows: the CLI for each provider, and every example at tiny sizes."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from coolchic.imageio import demo_image, load_image, psnr_8bit, save_png

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
TINY = ["--preset", "fast", "--n_itr", "40", "--quiet", "--device", "cpu"]
template_installed = pytest.mark.skipif(
    "colocated" not in {ep.name for ep in metadata.entry_points(group="coolchic")},
    reason="pip install -e examples/provider-template first (.ci/run does)",
)


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "coolchic.cli", *args], capture_output=True,
                          text=True)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def script(name: str, *args: str) -> str:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHON"] = sys.executable
    done = subprocess.run(["bash", str(EXAMPLES / name), *args], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "image.png"
    save_png(demo_image(24, 40, seed=4), path)
    return path


@pytest.mark.parametrize("provider", [
    ["--context_provider", "spatial"],
    ["--context_provider", "mrc", "--mrc_depth", "6"],
    pytest.param(["--context_provider", "colocated", "--colocated_depth", "2"],
                 marks=template_installed),
], ids=["spatial", "mrc", "template"])
def test_cli_encode_decode(provider, image, tmp_path):
    bitstream, decoded, results = tmp_path / "x.cool", tmp_path / "x.png", tmp_path / "r.json"
    cli("encode", "-i", str(image), "-o", str(bitstream), "--results", str(results), *TINY,
        *provider)
    cli("decode", "-i", str(bitstream), "-o", str(decoded))  # fresh process, no flag
    record = json.loads(results.read_text())
    assert record["context_provider"] == provider[1]
    assert record["psnr_db"] == psnr_8bit(load_image(decoded), load_image(image))


@template_installed
def test_template_provider_costs_what_spatial_costs():
    done = cli("complexity", "--context_provider", "colocated", "--colocated_depth", "2",
               "--compare-with", "spatial", "--height", "64", "--width", "96")
    assert "identical: colocated and spatial cost the same in every module" in done.stdout


def test_encode_decode_example(tmp_path):
    out = tmp_path / "example"
    stdout = script("encode_decode.sh", str(out), "24", "40")
    assert "rate change mrc vs spatial:" in stdout
    for name in ("image.png", "spatial.cool", "mrc.cool", "spatial.png", "mrc.png", "hop-mrc.cfg"):
        assert (out / name).is_file(), name
    assert json.loads((out / "mrc.json").read_text())["provider_fields"] == {"depth": 6}


def test_mrc_cfg_example(image, tmp_path):
    results = tmp_path / "r.json"
    cli("encode", "-i", str(image), "-o", str(tmp_path / "x.cool"), "--dec_cfg",
        str(EXAMPLES / "mrc.cfg"), "--results", str(results), *TINY)
    record = json.loads(results.read_text())
    assert (record["context_provider"], record["provider_fields"]) == ("mrc", {"depth": 6})
    assert record["architecture"]["arm"] == "16,2"


def test_ab_example(tmp_path):
    out = tmp_path / "ab"
    stdout = script("ab.sh", str(out), "16", "40", "2", "1")  # one image: CI's time
    assert "BD-rate mrc-depth6 vs spatial:" in stdout
    rows = list(csv.DictReader((out / "results" / "per_image.csv").read_text().splitlines()))
    assert len(rows) == 1 * 2 * 2  # images x lambdas x variants
    assert (out / "results" / "rd.png").is_file()
