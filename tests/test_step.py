# SPDX-License-Identifier: BSD-3-Clause
"""The training iteration: eager, and the CUDA graph that replays it (CUDA tests skip here)."""

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
from coolchic.step import (
    EAGER_BEFORE_RECORDING,
    GRADIENT_CLIP,
    EagerIteration,
    GraphedIteration,
    make_iteration,
    rd_loss,
)

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


def _phase(noise_type: str = "gaussian", warmup: bool = False):
    preset = make_preset("intra", LMBDA, 2000)
    phase = preset.warmup[0].phase if warmup else preset.phases[0]
    return dataclasses.replace(phase, noise_type=noise_type)


def _iteration(kind, model, target, phase):
    networks = model.network_parameters()
    optimizer = make_optimizer(networks, list(model.latents.parameters()), phase)
    return kind(model, target, LMBDA, phase, optimizer, networks)


def test_eager_iteration_steps_on_the_clipped_gradients_of_the_rd_loss(monkeypatch):
    target = demo_image(32, 48, seed=1)
    model = _model("cpu")
    iteration = _iteration(EagerIteration, model, target, _phase("none"))
    seen = {}
    monkeypatch.setattr(iteration.optimizer, "step", lambda: seen.update(
        {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    for p in model.parameters():  # stale gradients must not leak into the iteration's
        p.grad = torch.ones_like(p)
    iteration(0.3, 0.2)

    model.zero_grad(set_to_none=True)
    out = model(QuantizerSetting("softround", "none", 0.3, 0.2))
    rd_loss(out.image, target, out.rate_bits, LMBDA).backward()
    norm = clip_grad_norm_(model.network_parameters(), GRADIENT_CLIP)
    assert norm > GRADIENT_CLIP  # the clipping is exercised
    want = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    assert seen.keys() == want.keys() and any("latents" in name for name in seen)
    for name in want:
        assert torch.equal(seen[name], want[name]), name
    iteration.release()
    assert all(p.grad is None for p in model.parameters())


def test_quantizer_levels_read_from_tensors_give_the_same_gradients():
    """What a graph replays: temperature and noise level as (device) tensors, not floats."""
    target = demo_image(32, 48, seed=1)
    grads = []
    for as_tensor in (False, True):
        model = _model("cpu")
        iteration = _iteration(EagerIteration, model, target, _phase("gaussian"))
        levels = (torch.tensor(0.3), torch.tensor(0.2)) if as_tensor else (0.3, 0.2)
        torch.manual_seed(5)
        iteration.gradients(*levels)
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert len(grads[0]) == len(grads[1])
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def test_iterations_on_the_cpu_are_eager_and_graphs_need_cuda():
    target = demo_image(32, 48, seed=1)
    model = _model("cpu")
    networks = model.network_parameters()
    optimizer = make_optimizer(networks, list(model.latents.parameters()), _phase())
    assert type(make_iteration(model, target, LMBDA, _phase(), optimizer, networks,
                               True)) is EagerIteration
    with pytest.raises(ValueError, match="CUDA"):
        GraphedIteration(model, target, LMBDA, _phase(), optimizer, networks)


def test_cuda_graph_option(tiny_png, capsys):
    manager = host_plugin_manager()
    assert parse_settings([], manager).cuda_graph is True
    assert parse_settings(["--cuda_graph", "off"], manager).cuda_graph is False
    err = one_line_error(capsys, main(["encode", "-i", tiny_png, "--cuda_graph", "maybe"]))
    assert "cuda_graph" in err


@CUDA
@pytest.mark.parametrize("provider", ["spatial", "mrc"])
@pytest.mark.parametrize("warmup", [False, True], ids=["main phase", "warm-up phase"])
def test_graph_replays_give_the_gradients_of_the_eager_iteration(provider, warmup):
    """Each replay reads the current parameters, temperature and SOAP state.

    The graphed model is stepped; after every iteration an eager copy loaded
    with the parameters the graph started from must find the same gradients.
    """
    target = demo_image(32, 48, seed=1).cuda()
    phase = _phase("none", warmup)
    model = _model("cuda", provider)
    reference = _model("cuda", provider)
    graphed = _iteration(GraphedIteration, model, target, phase)
    eager = EagerIteration(reference, target, LMBDA, phase, None, reference.network_parameters())
    for index, temperature in enumerate([0.35, 0.3, 0.25, 0.2, 0.15, 0.12, 0.1, 0.08]):
        reference.load_state_dict(model.state_dict())
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        graphed(temperature, 0.0)
        reference.zero_grad(set_to_none=True)
        eager.gradients(temperature, 0.0)
        for (name, p), (_, q) in zip(model.named_parameters(), reference.named_parameters()):
            if q.grad is not None:
                torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-7,
                                           msg=f"{name}, iteration {index}")
        if index:  # the library's set-up step moves nothing; every later one moves
            assert not torch.equal(before["latents.0"], model.latents[0].detach())
    assert graphed._graph is not None and index > EAGER_BEFORE_RECORDING


@CUDA
def test_graphed_noise_is_fresh_at_every_replay():
    target = demo_image(32, 48, seed=1).cuda()
    model = _model("cuda")
    iteration = _iteration(GraphedIteration, model, target, _phase("gaussian"))
    grads = []
    for _ in range(2 + EAGER_BEFORE_RECORDING + 2):
        iteration(0.3, 0.2)
        grads.append(model.latents[0].grad.clone())
    assert iteration._graph is not None
    assert not torch.equal(grads[-2], grads[-1])


@CUDA
@pytest.mark.parametrize("provider", ["spatial", "mrc"])
def test_graphed_training_follows_the_eager_training(provider):
    """30 iterations (three eigenbasis refreshes), no noise: the same loss within float noise."""
    from coolchic.training import evaluate

    target = demo_image(32, 48, seed=1).cuda()
    phase = _phase("none")
    losses = []
    for kind in (EagerIteration, GraphedIteration):
        model = _model("cuda", provider)
        iteration = _iteration(kind, model, target, phase)
        for index in range(30):
            iteration(0.35 - 0.008 * index, 0.0)
        iteration.release()
        losses.append(evaluate(model, target, LMBDA).loss)
    start = evaluate(_model("cuda", provider), target, LMBDA).loss
    assert losses[0] < 0.9 * start  # it trained
    assert losses[1] == pytest.approx(losses[0], rel=5e-3)
