# SPDX-License-Identifier: BSD-3-Clause
"""Each module's shapes and initialisation."""

from __future__ import annotations

import math

import pytest
import torch

from coolchic.architecture import Architecture
from coolchic.arm import Arm, laplace_rate_bits, mu_and_scale
from coolchic.model import (
    LATENT_BOUND,
    CoolChic,
    QuantizerSetting,
    encoder_gain_for,
    provider_setup,
)
from coolchic.quantizer import kumaraswamy_noise, quantize, softround
from coolchic.spatial import SpatialProvider
from coolchic.synthesis import Synthesis, parse_synthesis_layers
from coolchic.upsampling import PreconcatConv, Upsampling, UpsamplingTConv, symmetric_kernel


def make_arch(height=20, width=27, arm="16,2", n_grids=4) -> Architecture:
    layers, stab = parse_synthesis_layers("8-1-linear-relu,X-1-linear-none,X-3-residual-none")
    n, hidden = (int(v) for v in arm.split(","))
    return Architecture(height, width, (0, n_grids - 1), n, hidden, False, layers, stab, 8, 7)


# ----- quantizer
def test_softround_limits():
    x = torch.linspace(-3, 3, 101)
    x = x[(x - torch.floor(x) - 0.5).abs() > 0.05]  # away from the rounding ties
    assert torch.allclose(softround(x, 1e-3), torch.round(x), atol=1e-3)
    assert torch.allclose(softround(x, 100.0), x, atol=1e-3)


def test_quantizer_modes():
    torch.manual_seed(0)
    x = torch.randn(1000, requires_grad=True)
    assert torch.equal(quantize(x, "hardround"), torch.round(x))
    ste = quantize(x, "ste", temperature=0.3)
    assert torch.equal(ste, torch.round(x))
    ste.sum().backward()
    assert x.grad.abs().sum() > 0  # gradient of softround goes through
    noisy = quantize(x, "softround", "gaussian", 0.3, 0.2)
    assert noisy.shape == x.shape and not torch.equal(noisy, softround(x, 0.3))


def test_kumaraswamy_noise_range_and_uniform_case():
    u = torch.rand(10000)
    noise = kumaraswamy_noise(u, 2.0)
    assert noise.min() >= -0.5 and noise.max() <= 0.5
    assert torch.allclose(kumaraswamy_noise(u, 1.0), u - 0.5, atol=1e-6)


# ----- ARM
def test_arm_shapes_and_init():
    torch.manual_seed(0)
    arm = Arm(16, 2, stabiliser=True)
    out = arm(torch.randn(50, 16))
    assert out.shape == (50, 2)
    hidden = [m for m in arm.mlp if hasattr(m, "residual") and m.residual]
    assert len(hidden) == 2 and all(torch.count_nonzero(m.weight) == 0 for m in hidden)
    last = arm.mlp[-1]
    assert last.weight.shape == (2, 16) and torch.count_nonzero(last.bias) == 0
    assert 0.05 < last.weight.std().item() < 0.5  # N(0, 1/out^4) with out = 2
    assert arm.stabiliser.weight.shape == (2, 16)
    assert Arm(8, 0, stabiliser=False).stabiliser is None


def test_scale_is_clamped_and_shifted():
    raw = torch.tensor([[0.5, 4.0], [0.0, 100.0], [0.0, -100.0]])
    mu, scale = mu_and_scale(raw)
    assert torch.equal(mu, raw[:, 0])
    assert torch.allclose(scale, torch.exp(torch.tensor([0.0, 5.0, -5.0])))


def test_laplace_rate_is_a_distribution_with_16_bit_floor():
    values = torch.arange(-200, 201, dtype=torch.float32)
    mu, scale = torch.full_like(values, 0.3), torch.full_like(values, 2.0)
    probabilities = 2 ** -laplace_rate_bits(values, mu, scale)
    unclamped = probabilities[probabilities > 2**-16]
    assert 0.999 < unclamped.sum().item() <= 1.0 + 1e-6
    assert probabilities.min().item() == 2**-16
    assert laplace_rate_bits(torch.tensor([60.0]), torch.tensor([0.0]), torch.tensor([0.1])) == 16
    # The coder's floor: the same far value costs 24 bits, nearby values what they cost before.
    far_and_near = torch.tensor([60.0, 1.0])
    coder = laplace_rate_bits(far_and_near, torch.zeros(2), torch.full((2,), 0.1), 2.0**-24)
    assert coder[0] == 24
    assert coder[1] == laplace_rate_bits(far_and_near, torch.zeros(2), torch.full((2,), 0.1))[1]


# ----- upsampling
def test_symmetric_kernel():
    half = torch.tensor([1.0, 2.0, 3.0])
    assert symmetric_kernel(half, 5).tolist() == [1, 2, 3, 2, 1]
    assert symmetric_kernel(half, 6).tolist() == [1, 2, 3, 3, 2, 1]


@pytest.mark.parametrize("size", [4, 6, 8, 10])
def test_tconv_init_interpolates_constants_and_doubles_size(size):
    tconv = UpsamplingTConv(size)
    out = tconv(torch.full((1, 1, 5, 7), 3.0))
    assert out.shape == (1, 1, 10, 14)
    assert torch.allclose(out, torch.full_like(out, 3.0), atol=1e-5)


def test_tconv_is_bicubic_at_size_8():
    weights = UpsamplingTConv(8).weight.detach()
    assert torch.allclose(weights, torch.tensor([-0.03515625, -0.10546875, 0.26171875, 0.87890625]))


def test_preconcat_starts_as_twice_the_input():
    x = torch.randn(1, 1, 6, 9)
    assert torch.allclose(PreconcatConv(7)(x), 2 * x)


def test_upsampling_state_shapes_and_channels():
    shapes = [(21, 33), (11, 17), (6, 9), (3, 5)]
    grids = [torch.randn(1, 1, h, w) for h, w in shapes]
    ups = Upsampling(len(shapes), 8, 7)
    dense, coarse = ups(grids)
    assert dense.shape == (1, 4, 21, 33)
    assert coarse[-1] is None
    for i, state in enumerate(coarse[:-1]):
        assert state.shape == (1, len(shapes) - 1 - i, *shapes[i])
    # Channel 1.. of the dense state are the upsampled coarse state of grid 0.
    assert torch.equal(dense[:, 1:], coarse[0])


def test_coarse_states_depend_only_on_coarser_grids():
    shapes = [(16, 16), (8, 8), (4, 4), (2, 2)]
    torch.manual_seed(0)
    grids = [torch.randn(1, 1, h, w) for h, w in shapes]
    ups = Upsampling(len(shapes), 8, 7)
    _, before = ups(grids)
    for changed in range(len(shapes)):
        perturbed = [g.clone() for g in grids]
        perturbed[changed] += 1.0
        _, after = ups(perturbed)
        for i in range(len(shapes) - 1):
            same = torch.equal(before[i], after[i])
            assert same == (changed <= i), (changed, i)


# ----- synthesis
def test_synthesis_shapes_and_init():
    torch.manual_seed(0)
    layers, _ = parse_synthesis_layers("16-1-linear-relu,X-1-linear-none,X-3-residual-relu")
    syn = Synthesis(7, layers, stabiliser=True)
    out = syn(torch.randn(1, 7, 10, 12))
    assert out.shape == (1, 3, 10, 12)
    convs = [m for m in syn.layers if hasattr(m, "residual")]
    assert convs[0].weight.shape == (16, 7, 1, 1)
    bound = 1 / (16**2 * math.sqrt(7))
    assert convs[0].weight.abs().max() <= bound
    assert torch.count_nonzero(convs[2].weight) == 0
    assert all(torch.count_nonzero(c.bias) == 0 for c in convs)
    assert syn.stabiliser.weight.shape == (3, 7, 1, 1)


# ----- model
def test_model_shapes_and_initial_state():
    arch = make_arch()
    model = CoolChic(arch, SpatialProvider.from_options(provider_setup(arch), {}))
    assert [tuple(g.shape[-2:]) for g in model.latents] == [(20, 27), (10, 14), (5, 7), (3, 4)]
    assert all(torch.count_nonzero(g) == 0 for g in model.latents)
    out = model(QuantizerSetting("softround", "gaussian", 0.3, 0.2))
    assert out.image.shape == (1, 3, 20, 27)
    assert out.rate_bits.shape == (arch.n_latents,)
    assert (out.rate_bits >= 0).all()


def test_eval_latents_are_rounded_and_clamped():
    arch = make_arch()
    model = CoolChic(arch, SpatialProvider.from_options(provider_setup(arch), {}), encoder_gain=16.0)
    with torch.no_grad():
        model.latents[0].fill_(100.0)
        model.latents[1].fill_(0.03)
    grids = model.quantized_latents()
    assert grids[0].max() == LATENT_BOUND - 1
    assert torch.equal(grids[1], torch.round(torch.full_like(grids[1], 0.48)))


def test_encoder_gain_follows_lambda():
    assert encoder_gain_for(1e-3) == 16 and encoder_gain_for(4e-4) == 20
    assert encoder_gain_for(1e-4) == 24


def test_latent_resolution_above_zero_upsamples_the_output():
    layers, _ = parse_synthesis_layers("4-1-linear-relu,X-1-linear-none")
    arch = Architecture(30, 22, (1, 3), 8, 1, False, layers, False, 8, 7)
    model = CoolChic(arch, SpatialProvider.from_options(provider_setup(arch), {}))
    assert arch.grid_shapes == ((15, 11), (8, 6), (4, 3))
    assert model().image.shape == (1, 3, 30, 22)
