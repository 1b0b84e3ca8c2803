# SPDX-License-Identifier: BSD-3-Clause
"""Context competition: warm-up candidates of several providers, the best one kept."""

from __future__ import annotations

import pytest
import torch

from coolchic import training
from coolchic.ab.variants import Variant
from coolchic.cli import main
from coolchic.competition import Candidate, candidates
from coolchic.encoder import candidate_factory, make_bitstream, train_model
from coolchic.errors import ConfigError
from coolchic.hooks import collect_providers
from coolchic.imageio import demo_image
from coolchic.plugins import host_plugin_manager
from coolchic.settings import parse_settings

from .helpers import one_line_error

FAST = ["--preset", "fast", "--n_itr", "60", "--dec_cfg", "hop", "--device", "cpu"]


def test_candidates_are_names_with_their_own_options():
    found = candidates("spatial+mrc:depth=2+mrc:depth=6,table=a")
    assert [c.spec for c in found] == ["spatial", "mrc:depth=2", "mrc:depth=6,table=a"]
    assert found[1].provider_options({"mrc_depth": 6, "lmbda": 0.01}) == {
        "mrc_depth": 2, "lmbda": 0.01}
    assert found[2].provider_options({})["mrc_table"] == "a"
    assert candidates("mrc") == [Candidate("mrc")]
    for bad in ("spatial+", "+mrc", "spatial+mrc:depth", "Spatial", "spatial++mrc"):
        with pytest.raises(ConfigError, match="expected NAME or NAME:key=value"):
            candidates(bad)
    with pytest.raises(ConfigError, match="named twice"):
        candidates("mrc:depth=2+spatial+mrc:depth=2")


def test_the_best_warm_up_candidate_wins_with_its_own_provider(monkeypatch):
    settings = parse_settings([*FAST, "--context_provider", "spatial+mrc:depth=2"],
                              host_plugin_manager())
    registry = collect_providers(host_plugin_manager())
    target = demo_image(32, 48, seed=2)
    seen = []
    original = training.Trainer.train_phase

    def spy(self, model, phase, stage):
        evaluation = original(self, model, phase, stage)
        seen.append((stage, model.provider.name, getattr(model.provider, "depth", None),
                     evaluation.loss))
        return evaluation

    monkeypatch.setattr(training.Trainer, "train_phase", spy)
    encoded = train_model(target, settings, registry)
    first = [s for s in seen if s[0].startswith("warm-up 1/2")]
    assert [name for _, name, _, _ in first] == ["spatial", "mrc", "spatial", "mrc", "spatial"]
    assert all(depth == 2 for _, name, depth, _ in first if name == "mrc")
    assert all(f"({name})" in stage for stage, name, _, _ in first)
    last = [s for s in seen if s[0].startswith("warm-up 2/2")]
    best = min(last, key=lambda s: s[3])
    assert encoded.model.provider.name == best[1]
    # The file names the winner; the decoder rebuilds it from the header alone.
    written = make_bitstream(encoded, target, registry)
    assert written.decoded.header.provider_name == best[1]


def test_competition_errors(tiny_png, capsys):
    six = "spatial+" + "+".join(f"mrc:depth={d}" for d in range(1, 6))
    err = one_line_error(capsys, main(["encode", "-i", tiny_png, *FAST, "--context_provider", six]))
    assert "6 providers compete, but the warm-up trains 5 candidates" in err
    err = one_line_error(capsys, main(["encode", "-i", tiny_png, *FAST,
                                       "--context_provider", "spatial+nope"]))
    assert "nope" in err
    settings = parse_settings(["--context_provider", "spatial+mrc"], host_plugin_manager())
    with pytest.raises(ConfigError, match="needs one provider"):
        candidate_factory(settings, collect_providers(host_plugin_manager()), 32, 32,
                          torch.device("cpu"))


def test_a_competition_is_an_ab_variant_of_our_host():
    variant = Variant.parse("spatial+mrc:depth=2@rate_floor_bits=24")
    assert variant.label == "spatial_or_mrc-depth2+rate_floor_bits24"
    assert variant.encoder_arguments() == ["--context_provider", "spatial+mrc:depth=2",
                                           "--rate_floor_bits", "24"]
    assert Variant.parse(variant.spec) == variant
    with pytest.raises(ConfigError, match="runs in our host only"):
        Variant.parse("upstream/spatial+mrc")
    with pytest.raises(ConfigError, match="named twice"):
        Variant.parse("mrc+mrc")
