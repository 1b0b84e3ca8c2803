# SPDX-License-Identifier: BSD-3-Clause
"""Cool-chic 5's IFCE, hyperlatents and output transform in our host."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from coolchic.architecture import architecture_for
from coolchic.bitstream.codec import integer_latents, reconstruct
from coolchic.bitstream.header import VERSION
from coolchic.cli import main
from coolchic.hooks import build_provider, collect_providers
from coolchic.ifce import decoded_stacks
from coolchic.imageio import demo_image, load_image, save_png
from coolchic.model import CoolChic, provider_setup
from coolchic.plugins import host_plugin_manager
from coolchic.settings import parse_settings

from .test_config import UPSTREAM_HOP_CFG

REGISTRY = collect_providers(host_plugin_manager())


def _model(height=40, width=56, *argv):
    settings = parse_settings(["--dec_cfg", "hop", *argv], host_plugin_manager())
    arch = architecture_for(settings.decoder, height, width)
    provider = build_provider(REGISTRY, settings.context_provider, provider_setup(arch),
                              options=settings.options)
    return CoolChic(arch, provider)


def test_decoded_stacks_hold_the_grids_decoded_before_nearest_upsampled():
    torch.manual_seed(0)
    shapes = [(7, 9), (4, 5), (4, 5), (2, 3)]  # a latent and a hyperlatent share (4, 5)
    grids = [torch.randint(-5, 6, (1, 1, h, w)) for h, w in shapes]
    stacks = decoded_stacks(grids)
    assert [s.shape[1] for s in stacks] == [3, 2, 1, 1]
    assert torch.equal(stacks[3], torch.zeros_like(grids[3]))  # nothing decoded yet
    assert torch.equal(stacks[2], grids[3])
    # Grid 1 sees grid 2 (same resolution) and grid 3 brought up by nearest x2, then cropped.
    up = grids[3].repeat_interleave(2, -2).repeat_interleave(2, -1)[..., :4, :5]
    assert torch.equal(stacks[1], torch.cat([grids[2], up], dim=1))
    assert torch.equal(stacks[0][:, 0], grids[1][:, 0])
    # Integer and float grids give the same stacks.
    floats = decoded_stacks([g.double() for g in grids])
    assert all(torch.equal(f.long(), s) for f, s in zip(floats, stacks))


def test_hyperlatents_reach_the_arm_but_not_the_synthesis():
    model = _model().eval()
    grids = model.quantized_latents()
    hyper = [k for k, g in enumerate(model.arch.coded_grids) if g.hyper]
    assert hyper and len(grids) == model.arch.n_grids + len(hyper)
    with torch.no_grad():
        base = model.decode(grids)
        perturbed = [g.clone() for g in grids]
        for k in hyper:
            perturbed[k] += 3
        out = model.decode(perturbed)
    assert torch.equal(out.image, base.image)
    assert not torch.equal(out.rate_bits, base.rate_bits)


def test_the_output_transform_is_sent_but_never_trained():
    model = _model()
    transform = model.synthesis.output_transform
    assert torch.equal(transform.weight[:, :, 0, 0], torch.eye(3))
    assert not torch.any(transform.bias)
    trained = {id(p) for p in model.network_parameters()}
    assert id(transform.weight) not in trained and id(transform.bias) not in trained
    sent = {id(p) for p in model.networks()["synthesis"].parameters()}
    assert id(transform.weight) in sent
    assert "ifce" in model.networks()


@pytest.mark.parametrize("provider", [[], ["--context_provider", "mrc", "--mrc_depth", "6"]],
                         ids=["spatial", "mrc"])
def test_upstream_hop_cfg_decodes_exactly_in_a_fresh_process(provider, tmp_path, capsys):
    cfg = tmp_path / "hop.cfg"
    cfg.write_text(UPSTREAM_HOP_CFG)
    image, bitstream, decoded = tmp_path / "x.png", tmp_path / "x.cool", tmp_path / "y.png"
    save_png(demo_image(24, 40, seed=4), image)
    assert main(["encode", "-i", str(image), "-o", str(bitstream), "--dec_cfg", str(cfg),
                 "--preset", "fast", "--n_itr", "40", "--lmbda", "0.002", "--device", "cpu",
                 "--quiet", *provider]) == 0
    run = subprocess.run([sys.executable, "-m", "coolchic.cli", "decode", "-i", str(bitstream),
                          "-o", str(decoded)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    from coolchic.bitstream.codec import read_bitstream

    data = bitstream.read_bytes()
    assert data[4] == VERSION  # (version 2 added hyperlatents, IFCE, output transform)
    model = read_bitstream(data, REGISTRY).model
    assert model.arch.hyperlatent_resolution == (4, 6) and model.arch.n_ifce_features == 6
    expected = reconstruct(model, integer_latents(model))
    assert torch.equal(load_image(str(decoded)), expected)
