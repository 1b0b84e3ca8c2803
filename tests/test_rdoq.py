# SPDX-License-Identifier: BSD-3-Clause
"""RDOQ of the network parameters: lower cost, same decodability."""

from __future__ import annotations

import copy

import pytest
import torch

from coolchic import encoder
from coolchic.architecture import architecture_for
from coolchic.bitstream.codec import integer_latents, read_bitstream, reconstruct, write_bitstream
from coolchic.hooks import build_provider
from coolchic.imageio import demo_image
from coolchic.model import CoolChic, provider_setup
from coolchic.nnquant import RateDistortion, network_bits, quantize_networks
from coolchic.paramcode import (
    MAX_PARAMETER_INT,
    integers_of,
    predictions,
    sent_sets,
    set_cost,
    symbol_bits,
)
from coolchic.plugins import installed_providers
from coolchic.presets import make_preset
from coolchic.rdoq import rdoq_networks
from coolchic.training import Trainer

from .helpers import one_line_error, small_encode
from .test_encode import _settings


def _trained(provider="spatial", seed=0, lmbda=2e-3):
    registry = installed_providers()
    target = demo_image(24, 32, seed=seed)
    settings = _settings(context_provider=provider, n_itr=120)
    arch = architecture_for(settings.decoder, 24, 32)
    built = build_provider(registry, provider, provider_setup(arch), options=settings.options)
    torch.manual_seed(seed)
    preset = make_preset("fast", lmbda, 120)
    model, _ = Trainer(target, preset).run(lambda: CoolChic(arch, built))
    codes = quantize_networks(model, target, lmbda)
    return model, codes, target, registry, lmbda


def _cost(model, codes, target, lmbda):
    return RateDistortion(model, target, lmbda).loss("upsampling", network_bits(codes))


def test_symbol_bits_add_up_to_the_set_cost():
    """RDOQ's per-value bits and the quantization's per-set bits are the same measure."""
    values = torch.tensor([0, 1, -1, 7, -300, 65535, 2, -2, 0, 0]).numpy()
    scale, total = set_cost(values)
    assert sum(symbol_bits(int(v), scale) for v in values) == pytest.approx(total)


def test_rdoq_never_raises_the_cost_and_the_file_decodes_exactly():
    for provider in ("spatial", "mrc"):
        model, codes, target, registry, lmbda = _trained(provider)
        before_model = copy.deepcopy(model)
        before = _cost(model, codes, target, lmbda)
        refined = rdoq_networks(model, target, lmbda, codes, torch.Generator().manual_seed(0))
        after = _cost(model, refined, target, lmbda)
        assert after <= before, (provider, before, after)
        changed = 0
        for name, sets in refined.items():
            module, old = sent_sets(model.networks()[name]), sent_sets(
                before_model.networks()[name])
            for kind, code in sets.items():
                ints = integers_of([p for _, p in module[kind]], code.step_exponent)
                assert ints is not None and abs(ints).max(initial=0) <= MAX_PARAMETER_INT
                # Still integers times the same power-of-two step: the coding path is unchanged.
                assert code.step_exponent == codes[name][kind].step_exponent
                residuals = ints - predictions(name, model.networks()[name], kind,
                                               code.step_exponent)
                assert (code.scale, code.bits) == set_cost(residuals)
                previous = integers_of([p for _, p in old[kind]], code.step_exponent)
                changed += int((ints != previous).sum())
        assert changed > 0, provider  # this setting leaves room to refine
        data = write_bitstream(model, refined)
        assert torch.equal(read_bitstream(data, registry).image,
                           reconstruct(model, integer_latents(model)))


def test_rdoq_is_reproducible_with_its_generator():
    model, codes, target, _, lmbda = _trained(seed=2)
    twin = copy.deepcopy(model)
    first = rdoq_networks(model, target, lmbda, codes, torch.Generator().manual_seed(5))
    second = rdoq_networks(twin, target, lmbda, codes, torch.Generator().manual_seed(5))
    assert first == second
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                  twin.state_dict().values()))


def test_network_rdoq_off_skips_the_search_and_the_file_still_decodes(tmp_path, monkeypatch, capsys):
    """``--network_rdoq off`` writes the quantization's parameters as they are."""
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return rdoq_networks(*args, **kwargs)

    monkeypatch.setattr(encoder, "rdoq_networks", counted)
    records = {}
    for value in ("off", "on"):
        code, records[value] = small_encode(tmp_path, value, "--latent_rdoq", "0",
                                            "--network_rdoq", value)
        assert code == 0  # the file was decoded and checked
        assert len(calls) == (value == "on")
    assert records["off"]["network_rdoq"] is False and records["on"]["network_rdoq"] is True
    # The same training either way; the search can only lower the cost it measures.
    assert records["on"]["loss"] <= records["off"]["loss"]
    code, record = small_encode(tmp_path, "bad", "--network_rdoq", "maybe")
    assert "network_rdoq" in one_line_error(capsys, code)
    assert record is None and not (tmp_path / "bad.cool").exists()
