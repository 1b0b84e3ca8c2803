# SPDX-License-Identifier: BSD-3-Clause
"""The training step: eager gradients, and the CUDA graph that replays them."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn.utils import clip_grad_norm_

from coolchic.cli import main
from coolchic.encoder import candidate_factory
from coolchic.hooks import collect_providers
from coolchic.imageio import demo_image
from coolchic.model import QuantizerSetting
from coolchic.optimizer import make_optimizer
from coolchic.plugins import host_plugin_manager
from coolchic.presets import make_preset
from coolchic.settings import parse_settings
from coolchic.step import GRADIENT_CLIP, EagerStep, GraphedStep, make_step, rd_loss

from .helpers import one_line_error

LMBDA = 1e-3
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _model(device: str, provider: str = "spatial", seed: int = 0):
    settings = parse_settings(["--dec_cfg", "hop", "--context_provider", provider],
                              host_plugin_manager())
    registry = collect_providers(host_plugin_manager())
    torch.manual_seed(seed)
    model = candidate_factory(settings, registry, 32, 48, torch.device(device))()
    with torch.no_grad():  # latents away from zero so that every network gets a gradient
        for grid in model.latents:
            grid.normal_(0.0, 0.3)
    return model


def _phase(noise_type: str = "gaussian"):
    phase = make_preset("intra", LMBDA, 2000).phases[0]
    return dataclasses.replace(phase, noise_type=noise_type)


def test_eager_step_gives_the_clipped_gradients_of_the_rd_loss():
    target = demo_image(32, 48, seed=1)
    model = _model("cpu")
    phase = _phase("none")
    networks = model.network_parameters()
    step = EagerStep(model, target, LMBDA, phase, networks)
    for p in model.parameters():  # stale gradients must not leak into the step's
        p.grad = torch.ones_like(p)
    step(0.3, 0.2)
    got = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    model.zero_grad(set_to_none=True)
    out = model(QuantizerSetting("softround", "none", 0.3, 0.2))
    rd_loss(out.image, target, out.rate_bits, LMBDA).backward()
    norm = clip_grad_norm_(networks, GRADIENT_CLIP)
    assert norm > GRADIENT_CLIP  # the clipping is exercised
    want = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert got.keys() == want.keys() and any("latents" in name for name in got)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    step.release()
    assert all(p.grad is None for p in model.parameters())


def test_quantizer_levels_read_from_tensors_give_the_same_gradients():
    """What a graph replays: temperature and noise level as (device) tensors, not floats."""
    target = demo_image(32, 48, seed=1)
    grads = []
    for as_tensor in (False, True):
        model = _model("cpu")
        step = EagerStep(model, target, LMBDA, _phase("gaussian"), model.network_parameters())
        levels = (torch.tensor(0.3), torch.tensor(0.2)) if as_tensor else (0.3, 0.2)
        torch.manual_seed(5)
        model.zero_grad(set_to_none=True)
        step._forward_backward(*levels)
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert len(grads[0]) == len(grads[1])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_steps_on_the_cpu_are_eager_and_graphs_need_cuda():
    target = demo_image(32, 48, seed=1)
    model = _model("cpu")
    step = make_step(model, target, LMBDA, _phase(), model.network_parameters(), True)
    assert type(step) is EagerStep
    with pytest.raises(ValueError, match="CUDA"):
        GraphedStep(model, target, LMBDA, _phase(), model.network_parameters())


def test_cuda_graph_option(tiny_png, capsys):
    manager = host_plugin_manager()
    assert parse_settings([], manager).cuda_graph is True
    assert parse_settings(["--cuda_graph", "off"], manager).cuda_graph is False
    err = one_line_error(capsys, main(["encode", "-i", tiny_png, "--cuda_graph", "maybe"]))
    assert "cuda_graph" in err


@CUDA
@pytest.mark.parametrize("provider", ["spatial", "mrc"])
def test_graph_replays_follow_the_parameters_as_the_eager_steps_do(provider):
    """Same start, same deterministic quantizer, three SOAP steps: the same parameters."""
    target = demo_image(32, 48, seed=1).cuda()
    phase = _phase("none")
    finals = []
    for kind in (EagerStep, GraphedStep):
        model = _model("cuda", provider)
        networks = model.network_parameters()
        optimizer = make_optimizer(networks, list(model.latents.parameters()), phase)
        step = kind(model, target, LMBDA, phase, networks)
        for temperature in (0.35, 0.3, 0.25, 0.2):  # the graph reads each new temperature
            step(temperature, 0.0)
            optimizer.step()
        finals.append({n: p.detach().clone() for n, p in model.named_parameters()})
        step.release()
    for name, value in finals[0].items():
        torch.testing.assert_close(finals[1][name], value, rtol=1e-4, atol=1e-6, msg=name)


@CUDA
def test_graphed_noise_is_fresh_at_every_replay():
    target = demo_image(32, 48, seed=1).cuda()
    model = _model("cuda")
    step = GraphedStep(model, target, LMBDA, _phase("gaussian"), model.network_parameters())
    grads = []
    for _ in range(2):
        step(0.3, 0.2)
        grads.append(model.latents[0].grad.clone())
    assert not torch.equal(grads[0], grads[1])
