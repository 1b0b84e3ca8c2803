# SPDX-License-Identifier: BSD-3-Clause
"""Bad inputs, malformed bitstreams and interrupted work fail cleanly."""

from __future__ import annotations

import json
import os
import random
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from coolchic import imageio
from coolchic.bitstream.codec import integer_latents, read_bitstream, reconstruct, write_bitstream
from coolchic.cli import main
from coolchic.encoder import train_model
from coolchic.errors import BitstreamError
from coolchic.hooks import collect_providers
from coolchic.imageio import demo_image, image_to_uint8, load_image, save_png
from coolchic.plugins import host_plugin_manager

from .helpers import one_line_error
from .test_encode import _settings

FAST = ["--preset", "fast", "--n_itr", "40", "--dec_cfg", "lop", "--quiet", "--device", "cpu"]


# ----- input images
def _rgb_array(height, width, seed=0):
    return image_to_uint8(demo_image(height, width, seed=seed))


@pytest.fixture
def images(tmp_path):
    rgb = _rgb_array(12, 16)
    made = {}

    def save(name, image):
        path = tmp_path / name
        image.save(path)
        made[name] = path

    save("gray.png", Image.fromarray(rgb[..., 0], mode="L"))
    save("rgba-opaque.png", Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])))
    alpha = np.full(rgb.shape[:2], 255, np.uint8)
    alpha[0, 0] = 10
    save("rgba-transparent.png", Image.fromarray(np.dstack([rgb, alpha])))
    save("palette.png", Image.fromarray(rgb).convert("P"))
    save("gray16.png", Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)))
    save("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"))
    save("bilevel.png", Image.fromarray(rgb[..., 0] > 128))
    (tmp_path / "text.png").write_text("this is not an image")
    made["text.png"] = tmp_path / "text.png"
    save("full.png", Image.fromarray(rgb))
    data = made["full.png"].read_bytes()
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    made["truncated.png"] = tmp_path / "truncated.png"
    return made


@pytest.mark.parametrize("name", ["gray.png", "rgba-opaque.png", "palette.png", "bilevel.png"])
def test_convertible_images_load_as_rgb(images, name):
    image = load_image(images[name])
    assert image.shape == (1, 3, 12, 16)
    if name in ("gray.png", "bilevel.png"):
        assert torch.equal(image[:, 0], image[:, 1]) and torch.equal(image[:, 1], image[:, 2])
    if name == "rgba-opaque.png":
        assert torch.equal(image, load_image(images["full.png"]))


@pytest.mark.parametrize("name, message", [
    ("rgba-transparent.png", "has transparent pixels"),
    ("gray16.png", "16-bit PNG images are not supported"),
    ("cmyk.jpg", "image mode CMYK is not supported"),
    ("text.png", "not a readable image"),
    ("truncated.png", "not a readable image"),
])
def test_unsupported_images_are_refused_by_the_cli(images, name, message, tmp_path, capsys):
    out = tmp_path / "never.cool"
    code = main(["encode", "-i", str(images[name]), "-o", str(out), *FAST])
    assert message in one_line_error(capsys, code)
    assert not out.exists()


def test_sixteen_bit_rgb_png_is_refused(tmp_path):
    import struct
    import zlib

    rows = b"".join(b"\x00" + bytes(6 * 4) for _ in range(3))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    path = tmp_path / "rgb48.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 3, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    assert Image.open(path).mode == "RGB"  # Pillow would silently drop the low bytes
    with pytest.raises(imageio.ImageError, match="16-bit PNG"):
        load_image(path)


def test_images_over_the_size_limit_are_refused(images, monkeypatch):
    monkeypatch.setattr(imageio, "MAX_PIXELS", 100)
    with pytest.raises(imageio.ImageError, match="16x12 is larger than 100 pixels"):
        load_image(images["full.png"])


@pytest.mark.parametrize("height, width", [(1, 1), (5, 7), (65, 33)])
def test_odd_sizes_encode_and_decode_exactly(height, width, tmp_path, capsys):
    path = tmp_path / "odd.png"
    save_png(demo_image(height, width, seed=3), path)
    out, decoded = tmp_path / "odd.cool", tmp_path / "decoded.png"
    results = tmp_path / "r.json"
    assert main(["encode", "-i", str(path), "-o", str(out), "--results", str(results),
                 *FAST]) == 0
    assert main(["decode", "-i", str(out), "-o", str(decoded)]) == 0
    assert Image.open(decoded).size == (width, height)
    psnr = json.loads(results.read_text())["psnr_db"]
    assert psnr == imageio.psnr_8bit(load_image(decoded), load_image(path))


# ----- configuration
@pytest.mark.parametrize("argv, message", [
    (["--context_provider", "nope"], "unknown context provider 'nope'; installed: "),
    (["--context_provider", "mrc", "--mrc_depth", "9"], "mrc_depth = 9: must be an integer in 0..6"),
    (["--context_provider", "mrc", "--arm", "12,2"], "no context table for an ARM with 12 contexts"),
    (["--lmbda", "-0.5"], "lmbda = -0.5: must be positive"),
    (["--preset", "intra", "--n_itr", "1999"], "n_itr = 1999: preset intra needs 2000"),
    (["--layers_synthesis", "16-1-linear-relu,X-2-linear-none"], "needs an odd kernel size"),
    (["--layers_synthesis", "16-1-dense-relu,X-1-linear-none"], "type must be linear or residual"),
    (["--latent_resolution", "3-1"], "latent_resolution = '3-1'"),
    (["--ups_k_size", "5"], "ups_k_size = 5: must be even"),
    (["--device", "tpu"], "device = tpu: use auto, cpu or cuda"),
    (["--no_such_option", "1"], "unknown config key or option: no_such_option"),
    (["--dec_cfg", "/nonexistent.cfg"], "nonexistent.cfg"),
])
def test_configuration_errors_name_the_key(argv, message, images, tmp_path, capsys):
    out = tmp_path / "never.cool"
    code = main(["encode", "-i", str(images["full.png"]), "-o", str(out), *FAST, *argv])
    assert message in one_line_error(capsys, code)
    assert not out.exists()


def test_unknown_key_in_a_cfg_file_is_named(images, tmp_path, capsys):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("arm = 8,2\nmrc_dept = 3\n")
    code = main(["encode", "-i", str(images["full.png"]), "--dec_cfg", str(cfg), "--preset",
                 "fast", "--n_itr", "40", "--quiet"])
    assert "unknown config key or option: mrc_dept" in one_line_error(capsys, code)


# ----- bitstreams
@pytest.fixture(scope="module")
def small_bitstream():
    registry = collect_providers(host_plugin_manager())
    options = _settings(context_provider="mrc", mrc_depth=2)
    encoded = train_model(demo_image(12, 16, seed=9), options, registry)
    data = write_bitstream(encoded.model, encoded.codes)
    return data, registry, reconstruct(encoded.model, integer_latents(encoded.model))


def test_every_truncation_is_refused(small_bitstream):
    data, registry, _ = small_bitstream
    for size in range(len(data)):
        with pytest.raises(BitstreamError):
            read_bitstream(data[:size], registry)


@pytest.mark.parametrize("offset, value, message", [
    (5, b"\xff\xff\xff\xff", "out of bounds"),  # 65535 x 65535 image
    (10, b"\x00\x10", "latent resolution 0-16"),
    (12, b"\xff", "ARM context size 255"),
    (13, b"\x09", "9 ARM hidden layers"),
    (14, b"\x7f", "unknown flags 0x7f"),
    (17, b"\x07\x03", "hyperlatent resolution 7-3"),  # version 2: hyperlatents (lop)
    (19, b"\x00\x02\x20", "IFCE resolution 0-2 with 32 features"),
    (22, b"\x63", "99 synthesis layers"),
])
def test_absurd_header_values_are_refused(small_bitstream, offset, value, message):
    data, registry, _ = small_bitstream
    bad = data[:offset] + value + data[offset + len(value):]
    with pytest.raises(BitstreamError, match=message):
        read_bitstream(bad, registry)


def test_claimed_size_must_fit_the_latent_bytes(small_bitstream):
    data, registry, _ = small_bitstream
    bad = data[:5] + (4096).to_bytes(2, "little") + (4096).to_bytes(2, "little") + data[9:]
    with pytest.raises(BitstreamError, match="cannot be coded in"):
        read_bitstream(bad, registry)


def test_random_bytes_and_latent_bit_flips(small_bitstream):
    data, registry, expected = small_bitstream
    rng = random.Random(1)
    with pytest.raises(BitstreamError, match="wrong magic"):
        read_bitstream(bytes(rng.randrange(256) for _ in range(300)), registry)
    from coolchic.bitstream.header import unpack_header

    header, _ = unpack_header(data)
    latent_start = len(data) - header.latent_bytes
    outcomes = {"same": 0, "different": 0, "refused": 0}
    for _ in range(50):
        bad = bytearray(data)
        bad[rng.randrange(latent_start, len(data))] ^= 1 << rng.randrange(8)
        try:  # a flipped latent bit may decode to a wrong image, never crash
            image = read_bitstream(bytes(bad), registry).image
            outcomes["same" if torch.equal(image, expected) else "different"] += 1
        except BitstreamError:
            outcomes["refused"] += 1
    assert sum(outcomes.values()) == 50
    assert outcomes["different"] + outcomes["refused"] > 0, outcomes


def test_fuzzed_bitstreams_raise_only_bitstream_errors(small_bitstream):
    """Seeded mutations of a valid file: decode or BitstreamError, nothing else.

    1000 cases by default (about 70 s on 2 cores); COOLCHIC_FUZZ_CASES=N runs more.
    """
    data, registry, _ = small_bitstream
    rng = random.Random(2024)
    counts = {"decoded": 0, "refused": 0}
    n_cases = int(os.environ.get("COOLCHIC_FUZZ_CASES", "1000"))
    for case in range(n_cases):
        bad = bytearray(data)
        kind = case % 5
        if kind == 0:  # flip bits
            for _ in range(rng.randint(1, 4)):
                bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        elif kind == 1:  # overwrite bytes of the header
            for _ in range(rng.randint(1, 3)):
                bad[rng.randrange(min(60, len(bad)))] = rng.randrange(256)
        elif kind == 2:  # cut
            del bad[rng.randrange(len(bad)):]
        elif kind == 3:  # insert
            position = rng.randrange(len(bad))
            bad[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:  # delete
            position = rng.randrange(len(bad))
            del bad[position : position + rng.randint(1, 8)]
        try:
            read_bitstream(bytes(bad), registry)
            counts["decoded"] += 1
        except BitstreamError:
            counts["refused"] += 1
    assert sum(counts.values()) == n_cases
    sys.__stderr__.write(
        f"\nfuzz: {n_cases} mutated bitstreams, {counts['refused']} refused with "
        f"BitstreamError, {counts['decoded']} decoded\n"
    )


def test_decode_to_an_unwritable_place_is_one_line(small_bitstream, tmp_path, capsys):
    data, _, _ = small_bitstream
    path = tmp_path / "x.cool"
    path.write_bytes(data)
    code = main(["decode", "-i", str(path), "-o", str(tmp_path / "missing-dir" / "x.png")])
    assert "cannot write" in one_line_error(capsys, code)


# ----- interrupted work
def test_ctrl_c_during_encode_leaves_no_output(images, tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("coolchic.training.Trainer.train_phase", interrupted)
    out, results = tmp_path / "x.cool", tmp_path / "r.json"
    code = main(["encode", "-i", str(images["full.png"]), "-o", str(out), "--results",
                 str(results), *FAST])
    assert code == 130
    assert "interrupted; no output was written" in capsys.readouterr().err
    assert not out.exists() and not results.exists()
    assert list(tmp_path.glob(".*.tmp")) == []


def test_ctrl_c_during_ab_then_resume(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "images"
    folder.mkdir()
    save_png(demo_image(8, 8), folder / "one.png")
    from coolchic.ab import executors, jobs

    calls = []

    def flaky(job, threads):
        calls.append(job)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return jobs.run_job(job, threads)

    monkeypatch.setattr(executors, "run_job", flaky)
    args = ["ab", "--images", str(folder), "--lmbda", "0.004", "--out", str(tmp_path / "ab"),
            "--n_itr", "40", "--preset", "fast", "--dec_cfg", "lop", "--device", "cpu"]
    assert main(args) == 130
    assert not (tmp_path / "ab" / "summary.json").exists()
    monkeypatch.setattr(executors, "run_job", jobs.run_job)
    assert main(args) == 0
    assert "2 jobs (1 finished earlier, 1 to run)" in capsys.readouterr().err
    assert (tmp_path / "ab" / "summary.json").is_file()
