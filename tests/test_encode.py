# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end encodes of a tiny image."""

from __future__ import annotations

import json

import pytest
import torch

from coolchic.cli import main
from coolchic.encoder import candidate_factory, results_record, train_model
from coolchic.errors import ConfigError
from coolchic.hooks import collect_providers
from coolchic.imageio import demo_image
from coolchic.plugins import host_plugin_manager
from coolchic.settings import parse_settings

from .helpers import one_line_error

FAST = ["--preset", "fast", "--n_itr", "60", "--dec_cfg", "lop", "--quiet", "--device", "cpu"]


def test_cli_encode_writes_results(tiny_png, tmp_path, capsys):
    results = tmp_path / "r.json"
    workdir = tmp_path / "work"
    code = main(["encode", "-i", tiny_png, "--results", str(results), "--workdir", str(workdir),
                 *FAST])
    assert code == 0
    record = json.loads(results.read_text())
    for key in ("psnr_db", "rate_bpp", "n_pixels", "lmbda", "n_itr", "context_provider",
                "encode_time_s", "mac_per_pixel"):
        assert key in record, key
    assert record["rate_source"] == "estimate"
    assert record["n_pixels"] == 32 * 32 and record["context_provider"] == "spatial"
    assert record["psnr_db"] > 15.0
    assert record["rate_bpp"] == pytest.approx(record["rate_latent_bpp"] + record["rate_nn_bpp"])
    assert record["mac_per_pixel"] > 0
    assert (workdir / "model.pt").is_file() and (workdir / "results.json").is_file()
    assert "dB" in capsys.readouterr().out


def _settings(**overrides):
    """Encoder settings as the command line parses them: FAST, then ``overrides``."""
    argv = [a for a in FAST if a != "--quiet"]
    for key, value in overrides.items():
        argv += [f"--{key}", str(value)]
    return parse_settings(argv, host_plugin_manager())


def test_training_improves_and_is_reproducible():
    target = demo_image(32, 32, seed=2)
    registry = collect_providers(host_plugin_manager(autoload=False))
    first = train_model(target, _settings(seed=3), registry)
    second = train_model(target, _settings(seed=3), registry)
    other = train_model(target, _settings(seed=4), registry)
    assert first.evaluation == second.evaluation
    assert first.evaluation != other.evaluation
    # Training beats the all-zero start by a wide margin.
    assert first.estimate.psnr_db > 18.0


def test_throwaway_provider_with_coarse_context_trains(colocated_plugin):
    manager = host_plugin_manager(autoload=False)
    manager.register(colocated_plugin)
    registry = collect_providers(manager)
    encoded = train_model(demo_image(32, 32), _settings(context_provider="colocated"), registry)
    assert encoded.model.provider.name == "colocated"
    assert encoded.evaluation.psnr_db > 15.0
    # The rate reaches the upsampling filters through the coarse context.
    model = encoded.model
    model.train()
    model.zero_grad(set_to_none=True)
    out = model()
    out.rate_bits.sum().backward()
    assert sum(t.weight.grad.abs().sum() for t in model.upsampling.tconvs) > 0
    assert all(p.grad is None or not p.grad.any() for p in model.synthesis.parameters())


def test_rate_floor_sets_what_a_far_latent_costs_in_training():
    target = demo_image(32, 32, seed=2)
    registry = collect_providers(host_plugin_manager(autoload=False))
    costs = {}
    for bits in (16, 24):
        settings = _settings(rate_floor_bits=bits)
        assert settings.training.rate_floor_bits == bits
        model = candidate_factory(settings, registry, 32, 32, torch.device("cpu"))()
        with torch.no_grad():
            model.latents[0][0, 0, 5, 5] = 40.0  # far in the tail of any predicted Laplace
        costs[bits] = model().rate_bits.max().item()
    assert costs[16] == pytest.approx(16.0) and costs[24] > 20.0
    encoded = train_model(target, _settings(rate_floor_bits=24), registry)
    assert results_record(encoded, _settings(rate_floor_bits=24), "x")["rate_floor_bits"] == 24


def test_on_off_options_take_on_or_off_in_a_config_file_too(tmp_path):
    """``on``/``off`` keys become bools whether they come from the command line or a cfg file."""
    cfg = tmp_path / "x.cfg"
    cfg.write_text("coarse_gradient = off\ncuda_graph = off\n")
    settings = parse_settings(["--dec_cfg", str(cfg)], host_plugin_manager())
    assert settings.training.coarse_gradient is False and settings.cuda_graph is False
    assert parse_settings([], host_plugin_manager()).training.coarse_gradient is True
    cfg.write_text("coarse_gradient = no\n")
    with pytest.raises(ConfigError, match="coarse_gradient: 'no': must be on or off"):
        parse_settings(["--dec_cfg", str(cfg)], host_plugin_manager())


@pytest.mark.parametrize("flows", [True, False])
def test_coarse_gradient_decides_whether_the_rate_trains_the_upsampling(flows):
    """--coarse_gradient off: MRC's coarse values are constants for the rate."""
    registry = collect_providers(host_plugin_manager())
    settings = _settings(dec_cfg="hop", context_provider="mrc",
                         coarse_gradient="on" if flows else "off")
    assert settings.training.coarse_gradient is flows
    torch.manual_seed(0)
    model = candidate_factory(settings, registry, 32, 32, torch.device("cpu"))()
    with torch.no_grad():
        for grid in model.latents:
            grid.normal_(0.0, 0.5)
    model.train()
    model().rate_bits.sum().backward()
    reached = sum(float(t.weight.grad.abs().sum()) for t in model.upsampling.tconvs
                  if t.weight.grad is not None)
    assert (reached > 0) is flows
    assert float(model.arm.mlp[-1].weight.grad.abs().sum()) > 0  # the ARM trains either way


def test_network_quantization_steps_are_powers_of_two():
    target = demo_image(32, 32, seed=5)
    registry = collect_providers(host_plugin_manager(autoload=False))
    encoded = train_model(target, _settings(), registry)
    for name, module in encoded.model.networks().items():
        for kind, code in encoded.codes[name].items():
            step = 2.0 ** code.step_exponent
            for pname, param in module.named_parameters():
                if pname.endswith(kind):
                    assert torch.equal(param / step, torch.round(param / step)), pname


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-i", "missing.png"], "missing.png: no such file"),
        (["--lmbda", "0"], "lmbda = 0.0: must be positive"),
        (["--preset", "intra", "--n_itr", "100"], "needs 2000"),
        (["--context_provider", "nope"], "unknown context provider 'nope'; installed:"),
        (["--arm", "8"], "expected <contexts>,<hidden layers>"),
        (["--rate_floor_bits", "25"], "rate_floor_bits = 25: must be in 1..24"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, tiny_png, capsys):
    base = ["encode", "-i", tiny_png, *FAST]
    assert message in one_line_error(capsys, main(base + argv))
