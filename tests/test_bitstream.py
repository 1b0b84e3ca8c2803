# SPDX-License-Identifier: BSD-3-Clause
"""The .cool file: fixed-point pieces, header, and encode -> decode exactness."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from coolchic.arm import Arm, mu_and_scale
from coolchic.architecture import architecture_for
from coolchic.bitstream.codec import (
    integer_latents,
    read_bitstream,
    reconstruct,
    fixed_dense_state,
    synthesize_fixed,
    write_bitstream,
)
from coolchic.bitstream.fixedpoint import FixedPointArm, FixedPointUpsampling, mu_scale_tables
from coolchic.bitstream.header import unpack_header
from coolchic.bitstream.latents import coding_order, wavefront_slope
from coolchic.cli import main
from coolchic.context import spatial_offsets
from coolchic.encoder import train_model
from coolchic.errors import BitstreamError
from coolchic.expgolomb import (
    BitReader,
    BitWriter,
    read_signed,
    signed_expgolomb_bits,
    write_signed,
)
from coolchic.hooks import build_provider, collect_providers
from coolchic.imageio import demo_image, image_to_uint8, load_image, psnr_8bit, save_png
from coolchic.model import CoolChic, provider_setup
from coolchic.plugins import host_plugin_manager
from coolchic.upsampling import Upsampling

from .helpers import one_line_error
from .test_encode import _settings

REPO = Path(__file__).resolve().parents[1]


# ----- pieces
def encode_signed(values, order: int) -> bytes:
    writer = BitWriter()
    write_signed(writer, values, order)
    return writer.to_bytes()


def decode_signed(data: bytes, count: int, order: int, max_magnitude: int):
    return read_signed(BitReader(data), count, order, max_magnitude)


@pytest.mark.parametrize("order", [0, 2, 5, 12])
def test_expgolomb_round_trip_and_exact_size(order):
    rng = np.random.default_rng(order)
    values = np.concatenate([rng.integers(-5000, 5000, 300), [0, 1, -1, 65535, -65535]])
    data = encode_signed(values, order)
    assert len(data) == -(-signed_expgolomb_bits(values, order) // 8)
    assert np.array_equal(decode_signed(data, len(values), order, 65535), values)
    with pytest.raises(EOFError):
        decode_signed(data[: len(data) // 2], len(values), order, 65535)
    with pytest.raises(ValueError):
        decode_signed(encode_signed(np.array([70000]), order), 1, order, 65535)


def _quantized(module, exponent):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.round(p / 2.0**exponent) * 2.0**exponent)


def test_fixed_point_arm_follows_the_float_arm():
    torch.manual_seed(0)
    arm = Arm(16, 2, stabiliser=True)
    with torch.no_grad():
        for p in arm.parameters():
            p.add_(0.1 * torch.randn_like(p))
    _quantized(arm, -8)
    context = torch.randint(-20, 21, (500, 16))
    mu_fp, log_scale_fp = FixedPointArm(arm)(context << 16)
    mu, scale = mu_and_scale(arm(context.float()))
    assert (mu_fp.double() / 256 - mu.double().clamp(-64, 64 - 1 / 256)).abs().max() < 2 / 256
    assert (log_scale_fp.double() / 256 - torch.log(scale).double()).abs().max() < 2 / 256
    # Integer arithmetic: any split of the batch gives the same numbers.
    halves = [FixedPointArm(arm)(part << 16) for part in context.split(137)]
    assert torch.equal(torch.cat([h[0] for h in halves]), mu_fp)


def test_scale_table_is_exp_of_the_grid():
    mu, scale = mu_scale_tables()
    assert mu[0] == -64 and mu[-1] == 64 - 1 / 256 and len(mu) == 128 * 256
    grid = np.arange(-5 * 256, 5 * 256 + 1) / 256
    assert np.allclose(scale, np.exp(grid), rtol=1e-7)


def test_fixed_point_upsampling_follows_the_float_one():
    torch.manual_seed(1)
    shapes = [(19, 30), (10, 15), (5, 8), (3, 4)]
    ups = Upsampling(4, 8, 7)
    with torch.no_grad():
        for p in ups.parameters():
            p.add_(0.05 * torch.randn_like(p))
    _quantized(ups, -12)
    grids = [torch.randint(-8, 9, s) for s in shapes]
    dense, coarse = ups([g.float().view(1, 1, *g.shape) for g in grids])
    fixed = FixedPointUpsampling(ups)
    fixed.add_grid(3, grids[3])
    for grid in (2, 1, 0):
        state = fixed.coarse_state(grid, shapes[grid])
        assert state.dtype == torch.int64 and state.shape == coarse[grid].shape
        assert (state.double() / 2**16 - coarse[grid].double()).abs().max() < 1e-3
        fixed.add_grid(grid, grids[grid])
    assert (fixed.dense().double() / 2**16 - dense.double()).abs().max() < 1e-3


@pytest.mark.parametrize("n", [8, 16, 24, 32, 14])
def test_wavefront_decodes_every_context_before_its_latent(n):
    offsets = spatial_offsets(n)
    slope = wavefront_slope(offsets)
    height, width = 7, 12
    order = coding_order(height, width, slope)
    step_of = torch.empty(height * width, dtype=torch.long)
    for j, (lo, hi) in enumerate(zip(order.step_starts[:-1], order.step_starts[1:])):
        step_of[order.positions[lo:hi]] = j
    assert sorted(order.positions.tolist()) == list(range(height * width))
    for y in range(height):
        for x in range(width):
            for dy, dx in offsets:
                if 0 <= y + dy < height and 0 <= x + dx < width:
                    assert step_of[(y + dy) * width + x + dx] < step_of[y * width + x]


# ----- whole files
@pytest.fixture(scope="module")
def encoded_spatial():
    registry = collect_providers(host_plugin_manager(autoload=False))
    target = demo_image(32, 32, seed=7)
    encoded = train_model(target, _settings(), registry)
    return encoded, write_bitstream(encoded.model, encoded.codes), registry


def test_decode_reproduces_the_encoder_and_batching_does_not_matter(encoded_spatial):
    encoded, data, registry = encoded_spatial
    expected = reconstruct(encoded.model, integer_latents(encoded.model))
    for batch in (0, 1, 3, 64):
        assert torch.equal(read_bitstream(data, registry, max_batch=batch).image, expected)


def test_the_header_is_packed_and_one_range_coder_carries_networks_and_latents(
        encoded_spatial, tmp_path):
    """Version 4: spatial is the empty name, codes are bit-packed, then one coded section."""
    encoded, data, registry = encoded_spatial
    header, header_size = unpack_header(data)
    assert data[4] == 4 and header.provider_name == "spatial"
    assert header.network_bytes == 0 and header_size + header.latent_bytes == len(data)
    decoded = read_bitstream(data, registry)
    network_bits = sum(c.bits for sets in decoded.header.codes.values() for c in sets.values())
    # What the file spends on the networks is what the encoder counted for them.
    assert network_bits == pytest.approx(
        sum(c.bits for sets in encoded.codes.values() for c in sets.values()))
    # Cool-chic 5.0.1's hop decoder: upstream's header (video, frame and Cool-chic headers)
    # takes 48 bytes; ours, with the provider, 47 at most (the section size is a varint).
    image = tmp_path / "x.png"
    save_png(demo_image(32, 48, seed=3), image)
    out = tmp_path / "x.cool"
    assert main(["encode", "-i", str(image), "-o", str(out), "--dec_cfg", "hop", "--preset",
                 "fast", "--n_itr", "40", "--device", "cpu", "--quiet"]) == 0
    hop = out.read_bytes()
    hop_header, hop_size = unpack_header(hop)
    assert hop_size <= 47 and hop_header.arch.n_ifce_features == 6


def test_actual_rate_is_close_to_the_estimate(encoded_spatial):
    encoded, data, registry = encoded_spatial
    header, header_size = unpack_header(data)
    estimate_bits = encoded.evaluation.latent_bits + sum(
        c.bits for sets in encoded.codes.values() for c in sets.values())
    actual_bits = 8 * header.latent_bytes  # the one coded section: networks and latents
    assert abs(actual_bits - estimate_bits) <= 0.05 * estimate_bits + 64


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: b"XXXX" + d[4:], "wrong magic"),
        (lambda d: d[:4] + bytes([9]) + d[5:], "unsupported bitstream version 9"),
        (lambda d: d[:10], "truncated header"),
        (lambda d: d[:-1], "file has"),
        (lambda d: d + b"\0", "file has"),
        (lambda d: d[:5] + b"\xff\xff\xff\xff" + d[9:], "out of bounds"),
    ],
)
def test_malformed_files_are_refused(encoded_spatial, mutate, message):
    _, data, registry = encoded_spatial
    with pytest.raises(BitstreamError, match=message):
        read_bitstream(mutate(data), registry)


def test_unknown_provider_in_file_is_a_clear_error(colocated_plugin):
    manager = host_plugin_manager(autoload=False)
    manager.register(colocated_plugin)
    registry = collect_providers(manager)
    options = _settings(context_provider="colocated", n_itr=40)
    encoded = train_model(demo_image(16, 16), options, registry)
    data = write_bitstream(encoded.model, encoded.codes)
    bare = collect_providers(host_plugin_manager(autoload=False))
    with pytest.raises(BitstreamError, match="needs context provider 'colocated'"):
        read_bitstream(data, bare)


_DECODE_IN_FRESH_PROCESS = """
import sys
from coolchic.bitstream.codec import read_bitstream
from coolchic.hooks import build_provider, collect_providers
from coolchic.imageio import save_png
from coolchic.model import CoolChic, provider_setup
from coolchic.paramcode import integers_of, parameter_sets
from coolchic.plugins import host_plugin_manager
from tests.conftest import ColocatedPlugin

manager = host_plugin_manager(autoload=False)
manager.register(ColocatedPlugin())
data = open(sys.argv[1], "rb").read()
save_png(read_bitstream(data, collect_providers(manager)).image, sys.argv[2])
"""


@pytest.mark.parametrize("provider", ["spatial", "colocated"])
def test_fresh_process_decodes_pixel_identical(provider, colocated_plugin, tmp_path):
    manager = host_plugin_manager(autoload=False)
    manager.register(colocated_plugin)
    registry = collect_providers(manager)
    options = _settings(seed=11, context_provider=provider)
    encoded = train_model(demo_image(24, 40, seed=3), options, registry)
    bitstream = tmp_path / "x.cool"
    bitstream.write_bytes(write_bitstream(encoded.model, encoded.codes))
    expected = image_to_uint8(reconstruct(encoded.model, integer_latents(encoded.model)))
    outputs = []
    for run in range(2):
        png = tmp_path / f"decoded{run}.png"
        subprocess.run(
            [sys.executable, "-c", _DECODE_IN_FRESH_PROCESS, str(bitstream), str(png)],
            check=True, cwd=REPO,
        )
        outputs.append(png.read_bytes())
        assert np.array_equal(image_to_uint8(load_image(png)), expected)
    assert outputs[0] == outputs[1]


def test_cli_encode_and_decode(tiny_png, tmp_path, capsys):
    bitstream, decoded, results = tmp_path / "t.cool", tmp_path / "t.png", tmp_path / "r.json"
    assert main(["encode", "-i", tiny_png, "-o", str(bitstream), "--results", str(results),
                 "--preset", "fast", "--n_itr", "40", "--dec_cfg", "lop", "--quiet"]) == 0
    record = json.loads(results.read_text())
    assert record["rate_source"] == "bitstream"
    assert record["rate_bpp"] == 8 * bitstream.stat().st_size / (32 * 32)
    assert "rate_bpp_estimate" in record
    assert main(["decode", "-i", str(bitstream), "-o", str(decoded), "--batch", "5"]) == 0
    assert record["psnr_db"] == psnr_8bit(load_image(decoded), load_image(tiny_png))
    assert not list(tmp_path.glob(".*.tmp")), "temporary files were left behind"


def test_decode_of_garbage_is_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.cool"
    junk.write_bytes(b"not a bitstream at all")
    out = tmp_path / "never.png"
    code = main(["decode", "-i", str(junk), "-o", str(out)])
    assert "wrong magic" in one_line_error(capsys, code)
    assert not out.exists()


def test_demo_command(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--n_itr", "40", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "OK: the decoder reproduces the encoder exactly" in out
    assert (tmp_path / "demo.cool").is_file() and (tmp_path / "decoded.png").is_file()


def test_save_png_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_png(demo_image(8, 8), target)
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", explode)
    with pytest.raises(KeyboardInterrupt):
        save_png(demo_image(8, 8, seed=9), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_decoder_output_does_not_depend_on_the_thread_count(monkeypatch):
    torch.manual_seed(0)
    registry = collect_providers(host_plugin_manager(autoload=False))
    arch = architecture_for(_settings().decoder, 64, 64)
    model = CoolChic(arch, build_provider(registry, "spatial", provider_setup(arch), options={}))
    with torch.no_grad():
        for p in model.synthesis.parameters():
            p.add_(0.1 * torch.randn_like(p))
    grids = [torch.randint(-3, 4, (h, w)) for h, w in model.arch.coded_shapes]
    dense = fixed_dense_state(model, grids)
    torch.set_num_threads(1)
    one = synthesize_fixed(model, dense)
    torch.set_num_threads(4)
    assert torch.equal(synthesize_fixed(model, dense), one)
