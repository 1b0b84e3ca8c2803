# SPDX-License-Identifier: BSD-3-Clause
"""patches/coolchic-v5.0.1.patch on a genuine upstream Cool-chic 5.0.1 checkout.

Set COOLCHIC_SRC to such a checkout (it is copied, never modified) and, where
PyPI's torchvision does not import, UPSTREAM_SHIM (see upstream.py). The first
tests always run: the patch must carry our hooks.py unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from coolchic.ab.upstream import patch_file, read_results_tsv

from .upstream import copy_checkout, needs_upstream, rewrite_bitstream, run_upstream

REPO = Path(__file__).resolve().parents[1]
PATCH = patch_file()


def new_file_from_patch(path: str) -> bytes:
    """Content of a file the patch creates, rebuilt from its '+' lines."""
    lines = PATCH.read_text().splitlines(keepends=True)
    start = lines.index(f"+++ b/{path}\n")
    body = []
    for line in lines[start + 2 :]:  # skip the @@ line
        if line.startswith("diff --git"):
            break
        assert line.startswith("+"), f"{path} is not a new file in the patch"
        body.append(line[1:])
    return "".join(body).encode()


def test_patch_carries_our_hooks_unchanged():
    ours = (REPO / "vendor" / "coolchic" / "hooks.py").read_bytes()
    assert new_file_from_patch("coolchic/hooks.py") == ours


def test_patch_context_is_minimal():
    text = PATCH.read_text()
    context = [line for line in text.splitlines() if line.startswith(" ")]
    assert len(context) <= 60, f"{len(context)} context lines; regenerate with git diff -U1"


# ------------------------------------------------------------- with upstream
def _results(workdir: Path, which: str) -> dict:
    return read_results_tsv(workdir / f"0000-results_{which}.tsv")


def _psnr(a: Path, b: Path) -> float:
    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.int64)
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.int64)
    return 10 * math.log10(255.0**2 / np.mean((x - y) ** 2))


@pytest.fixture(scope="module")
def checkouts(tmp_path_factory):
    root = tmp_path_factory.mktemp("upstream")
    unpatched, patched = copy_checkout(root / "unpatched", False), copy_checkout(root / "patched", True)
    crop = root / "kodim15_64.png"
    with Image.open(patched / "test" / "data" / "192x128_kodim15.png") as image:
        image.convert("RGB").crop((64, 32, 128, 96)).save(crop)
    return unpatched, patched, crop


def _encode(checkout: Path, image: Path, workdir: Path, *extra: str) -> Path:
    workdir.mkdir(parents=True)
    bitstream = workdir / "out.cool"
    run_upstream(["cc_encode.py", "-i", str(image), "-o", str(bitstream), "--workdir", str(workdir),
          "--dec_cfg_residue", "cfg/dec/intra/hop.cfg", "--lmbda", "0.001", "--debug", *extra],
         checkout)
    return bitstream


@needs_upstream
@pytest.mark.parametrize("extra", [[], ["--context_provider", "mrc", "--mrc_depth", "6"]],
                         ids=["no-provider", "mrc"])
def test_encode_then_decode_in_a_fresh_process(checkouts, tmp_path, extra):
    _, patched, crop = checkouts
    bitstream = _encode(patched, crop, tmp_path / "work", *extra)
    decoded = tmp_path / "decoded.png"
    run_upstream(["cc_decode.py", "-i", str(bitstream), "-o", str(decoded)], patched)  # no flag
    encoder = _results(tmp_path / "work", "encoder")
    assert _psnr(decoded, crop) == pytest.approx(float(encoder["psnr_db"]), abs=1e-4)
    # Upstream's sanity criteria on the rate estimate (test/sanity_check.py).
    actual = 8 * bitstream.stat().st_size / (64 * 64)
    assert abs(actual - float(encoder["rate_bpp"])) / float(encoder["rate_bpp"]) < 0.2


@needs_upstream
def test_without_provider_the_bitstream_is_upstreams(checkouts, tmp_path):
    unpatched, patched, crop = checkouts
    reference = _encode(unpatched, crop, tmp_path / "work")
    again = rewrite_bitstream(patched, tmp_path / "work" / "0000-frame_encoder.pt",
                              tmp_path / "again.cool")
    assert again.read_bytes() == reference.read_bytes()


@needs_upstream
def test_upstream_sanity_flow_for_a_png_without_provider(checkouts, tmp_path):
    _, patched, _ = checkouts
    image = patched / "test" / "data" / "192x128_kodim15.png"
    bitstream = _encode(patched, image, tmp_path / "work")
    encoder = _results(tmp_path / "work", "encoder")
    decoder = _results(tmp_path / "work", "decoder")
    assert abs(float(encoder["psnr_db"]) - float(decoder["psnr_db"])) < 0.3
    ratio = (float(decoder["rate_bpp"]) - float(encoder["rate_bpp"])) / float(encoder["rate_bpp"])
    assert abs(ratio) < 0.2
    assert bitstream.is_file()
