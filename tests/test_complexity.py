# SPDX-License-Identifier: BSD-3-Clause
"""fvcore complexity: MRC leaves the decoder's MAC/pixel unchanged."""

from __future__ import annotations

import json
import math

import pytest

from coolchic.arm import arm_macs_per_latent
from coolchic.cli import main
from coolchic.architecture import architecture_for
from coolchic.commands.complexity import check_unchanged, decoder_complexity
from coolchic.complexity import ComplexityMismatch
from coolchic.config import SHIPPED_CONFIGS
from coolchic.hooks import collect_providers, hookimpl
from coolchic.plugins import host_plugin_manager
from coolchic.settings import EncoderSettings, parse_settings

from .conftest import ColocatedProvider
from .helpers import one_line_error


def options_for(*argv: str) -> EncoderSettings:
    return parse_settings(list(argv), host_plugin_manager())


@pytest.fixture(scope="module")
def registry():
    return collect_providers(host_plugin_manager())


@pytest.mark.parametrize("config", SHIPPED_CONFIGS)
def test_mrc_costs_the_same_as_spatial_at_every_depth(config, registry):
    spatial = decoder_complexity(options_for("--dec_cfg", config), registry, 48, 80)
    for depth in range(7):
        options = options_for("--dec_cfg", config, "--context_provider", "mrc",
                              "--mrc_depth", str(depth))
        counted, reference = check_unchanged(options, "spatial", registry, 48, 80)
        assert counted.per_module == reference.per_module == spatial.per_module
        assert counted.total_mac_per_pixel == spatial.total_mac_per_pixel


def test_full_size_paper_config_depth_six(registry):
    options = options_for("--dec_cfg", "paper", "--context_provider", "mrc")
    counted, reference = check_unchanged(options, "spatial", registry, 512, 768)
    assert counted.total_mac_per_pixel == reference.total_mac_per_pixel


@pytest.mark.parametrize("config", SHIPPED_CONFIGS)
def test_arm_count_matches_a_hand_count(config, registry):
    options = options_for("--dec_cfg", config)
    height, width = 40, 56
    counted = decoder_complexity(options, registry, height, width)
    arch = architecture_for(options.decoder, height, width)
    per_latent = arm_macs_per_latent(arch.arm_width, arch.n_hidden_arm, arch.arm_stabiliser)
    assert counted.per_module["arm"] == arch.n_latents * per_latent / (height * width)
    # Each IFCE maps every position of the grids decoded before (at the resolution of the
    # grid decoded just before) to its features.
    shapes = arch.coded_shapes
    ifce = sum(g.ifce_inputs * arch.n_ifce_features * math.prod(shapes[min(k + 1, len(shapes) - 1)])
               for k, g in enumerate(arch.coded_grids))
    assert counted.per_module["ifce"] == ifce / (height * width)


def test_v4_hop_matches_upstreams_published_count(registry):
    counted = decoder_complexity(options_for("--dec_cfg", "v4-hop"), registry, 512, 768)
    # Cool-chic v4 reports 1433 MAC/pixel for hop at 512x768 (ARM 16,2, 48-feature synthesis).
    # Like Cool-chic 5.0.1 with the same keys (its get_flops: 1441.96), we add the output
    # transform, a 1x1 convolution 3 -> 3: 9 MAC/pixel.
    assert round(counted.total_mac_per_pixel - 9) == 1433
    assert round(counted.total_mac_per_pixel, 2) == 1441.96
    assert round(counted.per_module["upsampling"]) == 66


# Cool-chic 5.0.1's own count (CoolChicEncoder.get_flops, fvcore) at 512x768 for its four
# cfg/dec/intra configs, MAC/pixel: total, then arm, ifce, upsampling, synthesis. The total
# includes the nearest upsampling around the IFCE, counted outside the networks. Upstream's
# docs round hop to 1943 (we ran its get_flops on 2026-11-27 for the others).
UPSTREAM_COUNTS = {
    "lop": (431.70, 214.14, 5.72, 65.67, 141.0),
    "mop": (1036.50, 599.59, 11.44, 65.67, 352.0),
    "hop": (1943.02, 1177.77, 17.16, 65.67, 672.0),
    "vhop": (2873.93, 1948.68, 17.16, 65.67, 832.0),
}


@pytest.mark.parametrize("config", sorted(UPSTREAM_COUNTS))
def test_v5_configs_match_upstreams_own_count(config, registry):
    counted = decoder_complexity(options_for("--dec_cfg", config), registry, 512, 768)
    total, *modules = UPSTREAM_COUNTS[config]
    assert round(counted.total_mac_per_pixel, 2) == total
    assert [round(counted.per_module[m], 2) for m in ("arm", "ifce", "upsampling", "synthesis")] \
        == modules


class _WideProvider(ColocatedProvider):
    """Broken on purpose: one coarse value too many (N + 1 values per latent)."""

    name = "wide"

    def causal_offsets(self, grid):
        return super().causal_offsets(grid) if self._is_coarsest(grid) else \
            list(super().causal_offsets(grid)) + [(-4, -4)]


class _WidePlugin:
    @hookimpl
    def coolchic_register_context_providers(self, register):
        register("wide", _WideProvider)


def _manager_with_wide(autoload=None):
    manager = host_plugin_manager(autoload)
    manager.register(_WidePlugin())
    return manager


def test_a_provider_changing_the_context_size_is_caught(capsys):
    registry = collect_providers(_manager_with_wide())
    options = options_for("--dec_cfg", "lop", "--context_provider", "wide")
    with pytest.raises(ComplexityMismatch, match=r"^arm: provider 'wide' changes the ARM input"):
        check_unchanged(options, "spatial", registry, 32, 32)


def test_cli_table_json_and_compare(capsys):
    assert main(["complexity", "--dec_cfg", "lop", "--height", "32", "--width", "48",
                 "--context_provider", "mrc", "--mrc_depth", "3", "--compare-with", "spatial"]) == 0
    out = capsys.readouterr().out
    assert "identical: mrc and spatial" in out and "arm" in out and "total" in out
    assert main(["complexity", "--dec_cfg", "hop", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["per_module"]) == {"arm", "ifce", "upsampling", "synthesis"}
    assert report["total_mac_per_pixel"] == pytest.approx(
        sum(report["per_module"].values()) + report["other"])
    assert round(report["total_mac_per_pixel"]) == 1943
    assert (report["height"], report["width"]) == (512, 768)


def test_cli_reports_a_context_size_mrc_cannot_serve(capsys):
    code = main(["complexity", "--arm", "12,2", "--context_provider", "mrc", "--height", "32",
                 "--width", "32", "--compare-with", "spatial"])
    assert "tables exist for 6, 8, 10, 14, 16, 20, 24, 32" in one_line_error(capsys, code)


def test_cli_exits_1_naming_the_module_for_a_broken_provider(monkeypatch, capsys):
    monkeypatch.setattr("coolchic.commands.complexity.host_plugin_manager", _manager_with_wide)
    code = main(["complexity", "--dec_cfg", "lop", "--context_provider", "wide", "--height",
                 "32", "--width", "32", "--compare-with", "spatial"])
    assert code == 1
    assert "complexity differs: arm: provider 'wide'" in capsys.readouterr().out


@pytest.mark.parametrize("arm", ["6,2/stabiliser", "10,2/stabiliser", "14,2/stabiliser",
                                 "20,2/stabiliser"])
def test_mrc_on_upstream_v5_context_sizes_costs_the_same(arm, registry):
    for depth in (1, 6):
        options = options_for("--arm", arm, "--context_provider", "mrc", "--mrc_depth", str(depth))
        counted, reference = check_unchanged(options, "spatial", registry, 40, 56)
        assert counted.per_module == reference.per_module


def test_cli_counts_every_candidate_of_a_competition(monkeypatch, capsys):
    """A competition's decoder is one of its candidates: each is counted, all must agree."""
    assert main(["complexity", "--dec_cfg", "hop", "--height", "32", "--width", "48",
                 "--context_provider", "spatial+mrc:depth=2", "--compare-with",
                 "mrc:depth=6"]) == 0
    assert "identical: spatial+mrc:depth=2 and mrc:depth=6" in capsys.readouterr().out

    monkeypatch.setattr("coolchic.commands.complexity.host_plugin_manager", _manager_with_wide)
    code = main(["complexity", "--dec_cfg", "lop", "--context_provider", "spatial+wide",
                 "--height", "32", "--width", "32"])
    assert code == 1
    assert "complexity differs: arm: provider 'wide' changes the ARM input" in \
        capsys.readouterr().out
