# SPDX-License-Identifier: BSD-3-Clause
"""Range coding of the networks' integers (bitstream version 4)."""

from __future__ import annotations

import copy
import dataclasses

import constriction
import numpy as np
import pytest
import torch

from coolchic.architecture import architecture_for
from coolchic.bitstream.codec import read_bitstream, write_bitstream
from coolchic.bitstream.header import unpack_header
from coolchic.encoder import train_model
from coolchic.errors import ConfigError
from coolchic.expgolomb import best_order
from coolchic.imageio import demo_image
from coolchic.paramcode import (
    MAX_PARAMETER_INT,
    N_SCALES,
    decode_set,
    encode_set,
    fixed_at_start,
    integers_of,
    predictions,
    sent_sets,
    set_cost,
    symbol_bits,
)
from coolchic.plugins import installed_providers
from coolchic.upsampling import Upsampling

from .test_encode import _settings


def _coded_bits(sets: list[tuple[np.ndarray, int]]) -> int:
    encoder = constriction.stream.queue.RangeEncoder()
    for values, scale in sets:
        encode_set(encoder, values, scale)
    return 32 * len(encoder.get_compressed())


@pytest.mark.parametrize("spread", [0.3, 3.0, 40.0, 2000.0])
def test_sets_come_back_and_cost_what_the_encoder_counts(spread):
    rng = np.random.default_rng(7)
    values = np.clip(np.round(rng.laplace(0.0, spread, 500)), -MAX_PARAMETER_INT,
                     MAX_PARAMETER_INT).astype(np.int64)
    values[:3] = [MAX_PARAMETER_INT, -MAX_PARAMETER_INT, 0]  # the ends of the range code too
    scale, bits = set_cost(values)
    encoder = constriction.stream.queue.RangeEncoder()
    encode_set(encoder, values, scale)
    words = encoder.get_compressed()
    decoder = constriction.stream.queue.RangeDecoder(words)
    assert np.array_equal(decode_set(decoder, values.size, scale), values)
    # The coder spends the ideal bits, plus its flush (one or two 32-bit words).
    assert bits <= 32 * len(words) <= bits + 64


def test_the_chosen_scale_is_the_cheapest_and_per_value_bits_add_up():
    values = np.array([0, 0, 1, -1, 3, 0, -7, 12, 0, 2], dtype=np.int64)
    scale, bits = set_cost(values)
    totals = [sum(symbol_bits(int(v), s) for v in values) for s in range(N_SCALES)]
    assert scale == int(np.argmin(totals))
    assert bits == pytest.approx(totals[scale])


def test_laplace_sets_beat_exp_golomb_on_laplacian_weights():
    rng = np.random.default_rng(3)
    for spread in (2.0, 10.0, 60.0):
        values = np.round(rng.laplace(0.0, spread, 400)).astype(np.int64)
        assert set_cost(values)[1] < best_order(values)[1]


def test_upsampling_kernels_are_sent_as_their_change_from_the_start():
    module = Upsampling(3, 8, 7)
    for exponent in (-8, -4):
        start = integers_of([p for _, p in sent_sets(module)["weight"]], exponent)
        assert np.array_equal(predictions("upsampling", module, "weight", exponent), start)
        assert start.any()  # the interpolators and Diracs are not zeros
    with torch.no_grad():
        module.tconvs[0].weight.add_(0.5)
    # The prediction is the start, whatever the module holds now.
    assert np.array_equal(predictions("upsampling", module, "weight", -4), start)
    assert not predictions("upsampling", module, "bias", -4).any()
    assert not predictions("arm", module, "weight", -4).any()


@pytest.fixture(scope="module")
def trained():
    target = demo_image(24, 32, seed=4)
    settings = _settings(context_provider="spatial", n_itr=60)
    return train_model(target, settings, installed_providers())


def test_the_output_transform_is_sent_only_when_it_moved(trained):
    registry = installed_providers()
    model = copy.deepcopy(trained.model)
    synthesis = model.synthesis
    assert synthesis.output_transform is not None and fixed_at_start(synthesis)
    assert not any("output_transform" in name for kind in sent_sets(synthesis).values()
                   for name, _ in kind)
    plain = write_bitstream(model, trained.codes)
    assert not unpack_header(plain)[0].fixed_sent
    # Moved by one step (as the RDOQ of files before version 4 could): the file carries it.
    step = 2.0 ** trained.codes["synthesis"]["weight"].step_exponent
    with torch.no_grad():
        synthesis.output_transform.weight[0, 0] += step
    assert not fixed_at_start(synthesis)
    moved = write_bitstream(model, trained.codes)
    header = unpack_header(moved)[0]
    assert header.fixed_sent and len(moved) > len(plain)
    decoded = read_bitstream(moved, registry)
    assert torch.equal(decoded.model.synthesis.output_transform.weight,
                       synthesis.output_transform.weight)
    assert torch.equal(read_bitstream(plain, registry).model.synthesis.output_transform.weight,
                       trained.model.synthesis.output_transform.weight)


def test_a_gap_between_latents_and_hyperlatents_is_refused_with_ifce():
    decoder = _settings(context_provider="spatial", dec_cfg="hop").decoder
    gap = dataclasses.replace(decoder, latent_resolution="0-2", hyperlatent_resolution="4-6")
    assert decoder.ifce_resolution != "no"
    with pytest.raises(ConfigError, match="leave a resolution between them"):
        architecture_for(gap, 12, 16)
