# SPDX-License-Identifier: BSD-3-Clause
"""Re-running a network's trunk from its first changed layer: the same bits, fewer layers."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from coolchic.architecture import architecture_for
from coolchic.arm import Arm
from coolchic.hooks import build_provider
from coolchic.imageio import demo_image, save_png
from coolchic.model import CoolChic, provider_setup
from coolchic.nnquant import quantize_networks
from coolchic.plugins import installed_providers
from coolchic.presets import make_preset
from coolchic.rdoq import rdoq_networks
from coolchic.synthesis import Synthesis, parse_synthesis_layers
from coolchic.training import Trainer
from coolchic.trunk import TrunkCache
from torch import nn

from .helpers import benchmark_script
from .test_encode import _settings


def _randomised(module: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.3)
    return module


@torch.no_grad()
def test_arm_trunk_reruns_from_the_written_layer_and_matches_bit_for_bit():
    arm = _randomised(Arm(14, 2, stabiliser=True), 0)
    context = torch.randn(5000, 14)
    cache = TrunkCache(arm.mlp)
    assert torch.equal(arm(context, cache), arm(context))
    assert cache.reruns == 5  # linear, relu, linear, relu, output
    layers = list(arm.mlp)
    # A write through a view of the parameter, as the RDOQ does, is seen.
    for layer_index, expected_reruns in ((2, 3), (4, 1), (0, 5)):
        before = cache.reruns
        layers[layer_index].weight.view(-1)[7] += 0.25
        assert torch.equal(arm(context, cache), arm(context))
        assert cache.reruns - before == expected_reruns
    before = cache.reruns
    arm.stabiliser.bias[1] -= 0.5  # outside the trunk: the trunk is not re-run
    assert torch.equal(arm(context, cache), arm(context))
    assert cache.reruns == before
    # A new input tensor (the IFCE's contexts recomputed) re-runs everything.
    assert torch.equal(arm(context.clone(), cache), arm(context))
    assert cache.reruns - before == 5


@torch.no_grad()
def test_synthesis_trunk_matches_bit_for_bit_after_writes():
    layers, stabiliser = parse_synthesis_layers(
        "48-1-linear-relu,3-1-linear-none,3-3-residual-relu,3-3-residual-none/stabiliser")
    synthesis = _randomised(Synthesis(7, layers, stabiliser, output_transform=True), 1)
    dense = torch.randn(1, 7, 40, 56)
    cache = TrunkCache(synthesis.layers)
    assert torch.equal(synthesis(dense, cache), synthesis(dense))
    trunk = list(synthesis.layers)
    for layer_index, expected_reruns in ((4, 4), (6, 2), (2, 6)):
        before = cache.reruns
        trunk[layer_index].bias[0] += 0.125
        assert torch.equal(synthesis(dense, cache), synthesis(dense))
        assert cache.reruns - before == expected_reruns


@pytest.mark.parametrize("provider", ["spatial", "mrc"])
def test_quantization_and_rdoq_give_the_same_model_with_and_without_reuse(provider):
    """With reuse, the networks' quantization and RDOQ pick exactly what they picked before.

    spatial's contexts do not read the upsampling (an upsampling trial keeps the rate); MRC's do.
    """
    registry = installed_providers()
    target = demo_image(24, 32, seed=3)
    settings = _settings(context_provider=provider, n_itr=80)
    arch = architecture_for(settings.decoder, 24, 32)
    built = build_provider(registry, provider, provider_setup(arch), options=settings.options)
    torch.manual_seed(3)
    lmbda = 2e-3
    trained, _ = Trainer(target, make_preset("fast", lmbda, 80)).run(lambda: CoolChic(arch, built))
    assert trained.reads_coarse_states == (provider == "mrc")
    results = []
    for reuse in (False, True):
        model = copy.deepcopy(trained)
        codes = quantize_networks(model, target, lmbda, reuse=reuse)
        codes = rdoq_networks(model, target, lmbda, codes, torch.Generator().manual_seed(5),
                              reuse=reuse)
        results.append((codes, model.state_dict()))
    (codes_off, state_off), (codes_on, state_on) = results
    assert codes_on == codes_off
    assert state_on.keys() == state_off.keys()
    assert all(torch.equal(state_on[k], state_off[k]) for k in state_off)
    # The RDOQ did move parameters away from the plain quantization (the test has teeth).
    plain = copy.deepcopy(trained)
    quantize_networks(plain, target, lmbda)
    assert any(not torch.equal(plain.state_dict()[k], state_on[k]) for k in state_on)


def test_rdoq_reuse_benchmark_checks_and_records_both_ways(tmp_path):
    """benchmarks/rdoq_reuse.py: one round off and on, the same result, the JSON written."""
    module = benchmark_script("rdoq_reuse")
    image = tmp_path / "tiny.png"
    save_png(demo_image(24, 32, seed=4), image)
    out = tmp_path / "rdoq.json"
    code = module.main([str(image), str(out), "--rounds", "1", "--dec_cfg", "lop", "--preset",
                        "fast", "--n_itr", "40", "--threads", "1"])
    assert code == 0
    record = json.loads(out.read_text())
    assert record["same_result"] is True and record["size"] == [24, 32]
    assert len(record["rounds"]["off"]) == len(record["rounds"]["on"]) == 1
    assert record["ratios"]["rdoq_s"] > 0
