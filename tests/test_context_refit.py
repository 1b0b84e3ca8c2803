# SPDX-License-Identifier: BSD-3-Clause
"""benchmarks/context_refit.py: refitting a decoded file's ARM with other contexts."""

from __future__ import annotations

import pytest

from coolchic.bitstream.codec import write_bitstream
from coolchic.encoder import train_model
from coolchic.errors import ConfigError
from coolchic.hooks import collect_providers
from coolchic.imageio import demo_image
from coolchic.plugins import host_plugin_manager

from .helpers import benchmark_script, one_line_error
from .test_encode import _settings


@pytest.fixture(scope="module")
def refit():
    return benchmark_script("context_refit")


@pytest.fixture(scope="module")
def ifce_file(tmp_path_factory):
    """A small file with upstream's lop architecture (6 contexts, IFCE)."""
    registry = collect_providers(host_plugin_manager())
    settings = _settings(dec_cfg="lop", seed=2, n_itr=40)
    encoded = train_model(demo_image(32, 40, seed=3), settings, registry)
    path = tmp_path_factory.mktemp("refit") / "lop.cool"
    path.write_bytes(write_bitstream(encoded.model, encoded.codes))
    return path


def test_variant_specs(refit):
    assert refit.parse_variant("spatial") == ("spatial", {})
    assert refit.parse_variant("mrc:depth=1,coarse=2,colocated=0") == (
        "mrc", {"mrc_depth": 1, "mrc_coarse": 2, "mrc_colocated": 0})
    with pytest.raises(ConfigError, match="expected NAME"):
        refit.parse_variant("mrc:depth")
    with pytest.raises(ConfigError, match="not a competition"):
        refit.parse_variant("spatial+mrc:depth=2")


def test_refit_from_the_file_only_lowers_its_rate(refit, ifce_file):
    result = refit.screen(ifce_file, ["spatial", "mrc:depth=1,coarse=2,colocated=0"], steps=40,
                          lr=0.002, seeds=1, batch=10**9, from_file=True)
    assert result["provider"] == "spatial"
    file_bits = result["file_arm_bits"]
    assert file_bits > 0
    # The file's own context, fine-tuned on the whole of its latents, can only improve on
    # the (quantized) ARM it was sent with; another context starts from the same weights.
    assert result["variants"]["spatial"][0] <= file_bits
    assert result["variants"]["mrc:depth=1,coarse=2,colocated=0"][0] > 0


def test_fresh_refit_trains(refit, ifce_file):
    short, long = (refit.screen(ifce_file, ["spatial"], steps=steps, lr=0.01, seeds=1,
                                batch=10**9, from_file=False)["variants"]["spatial"][0]
                   for steps in (1, 200))
    assert long < short / 2


def test_without_ifce_its_features_are_zeros(refit, ifce_file):
    on, off = (refit.screen(ifce_file, ["spatial"], steps=5, lr=0.002, seeds=1, batch=10**9,
                            from_file=True, use_ifce=use)
               for use in (True, False))
    assert on["settings"]["ifce"] and not off["settings"]["ifce"]
    assert off["variants"]["spatial"][0] != on["variants"]["spatial"][0]


def test_bad_input_is_one_line(refit, ifce_file, tmp_path, capsys):
    code = refit.main([str(tmp_path / "missing.cool"), "--variants", "spatial"])
    assert "missing.cool" in one_line_error(capsys, code)
    code = refit.main([str(ifce_file), "--variants", "nosuch"])
    assert "nosuch" in one_line_error(capsys, code)
