# SPDX-License-Identifier: BSD-3-Clause
"""Configuration: Cool-chic cfg files, precedence, validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coolchic.architecture import architecture_for, parse_arm, parse_latent_resolution
from coolchic.cli import main
from coolchic.commands.encode import FILE_OPTIONS, build_parser
from coolchic.config import SHIPPED_CONFIGS, resolve_shipped_configs, shipped_config
from coolchic.errors import ConfigError
from coolchic.plugins import host_plugin_manager
from coolchic.settings import settings_from_args
from coolchic.synthesis import parse_synthesis_layers

from .helpers import one_line_error

# The keys and values of upstream Cool-chic 5.0.1's cfg/dec/intra/hop.cfg, in its format.
UPSTREAM_HOP_CFG = """\
; Latents
latent_resolution_residue = auto
hyperlatent_resolution_residue = auto
; ARMs
arm_residue = 14,2/stabiliser
output_feature_ifce_residue = 6
ifce_resolution_residue = 0-2
; Synthesis
layers_synthesis_residue = 48-1-linear-relu,3-1-linear-none,3-3-residual-relu,3-3-residual-none/stabiliser
ups_k_size_residue = 8
ups_preconcat_k_size_residue = 7
"""


def parse(argv):
    parser = build_parser(host_plugin_manager(autoload=False))
    return parser.parse_args(resolve_shipped_configs(["-i", "x.png", *argv]))


def decoder(args):
    return settings_from_args(args, ignore=FILE_OPTIONS).decoder


@pytest.fixture
def upstream_hop(tmp_path) -> Path:
    path = tmp_path / "hop.cfg"
    path.write_text(UPSTREAM_HOP_CFG)
    return path


def test_upstream_cfg_is_read_unchanged(upstream_hop):
    args = parse(["--dec_cfg", str(upstream_hop)])
    assert args.arm_residue == "14,2/stabiliser"
    assert args.hyperlatent_resolution_residue == "auto"
    assert args.ifce_resolution_residue == "0-2"
    assert args.output_feature_ifce_residue == 6
    assert args.ups_k_size_residue == 8
    assert args.layers_synthesis_residue.endswith("/stabiliser")


def test_upstream_hop_gives_upstreams_architecture(upstream_hop):
    arch = architecture_for(decoder(parse(["--dec_cfg", str(upstream_hop)])), 512, 768)
    assert (arch.n_contexts, arch.n_ifce_features, arch.arm_width) == (14, 6, 20)
    assert arch.latent_resolution == (0, 6) and arch.hyperlatent_resolution == (4, 6)
    assert arch.ifce_resolution == (0, 2) and arch.output_transform
    # Cool-chic 5's order: finest first, the latent before the hyperlatent of its resolution.
    assert [(g.shape, g.level) for g in arch.coded_grids[3:]] == [
        ((64, 96), 3), ((32, 48), 4), ((32, 48), None), ((16, 24), 5), ((16, 24), None),
        ((8, 12), 6), ((8, 12), None)]
    # Grids 0-2 get an IFCE reading every grid decoded before them.
    assert [g.ifce_inputs for g in arch.coded_grids] == [9, 8, 7] + [0] * 7
    assert arch == architecture_for(decoder(parse([])), 512, 768)  # the defaults are hop's


@pytest.mark.parametrize("argv, message", [
    (["--hyperlatent_resolution", "3"], "hyperlatent_resolution = '3': expected no, auto"),
    (["--ifce_resolution", "2-1"], "ifce_resolution = '2-1': need 0 <= first <= last"),
    (["--output_feature_ifce", "32"], "output_feature_ifce = 32: must be in 0..31"),
    (["--output_feature_ifce", "0"], "ifce_resolution = 0-2 needs output_feature_ifce >= 1"),
])
def test_bad_hyperlatent_and_ifce_settings_are_refused(argv, message):
    with pytest.raises(ConfigError, match=message):
        architecture_for(decoder(parse(argv)), 64, 64)


def test_no_ifce_means_no_ifce_features():
    arch = architecture_for(decoder(parse(["--ifce_resolution", "no"])), 64, 64)
    assert (arch.n_ifce_features, arch.arm_width) == (0, 14)


def test_upstream_cfg_with_command_line_overrides_builds(upstream_hop):
    args = parse(
        ["--dec_cfg_residue", str(upstream_hop), "--hyperlatent_resolution_residue", "no",
         "--ifce_resolution", "no"]
    )
    arch = architecture_for(decoder(args), 512, 768)
    assert (arch.n_contexts, arch.n_hidden_arm, arch.arm_stabiliser) == (14, 2, True)
    assert arch.synthesis_stabiliser
    assert [s.out_features for s in arch.synthesis_layers] == [48, 3, 3, 3]
    assert arch.latent_resolution == (0, 6)
    assert arch.grid_shapes[0] == (512, 768) and arch.grid_shapes[-1] == (8, 12)


@pytest.mark.skipif(not os.environ.get("COOLCHIC_SRC"), reason="COOLCHIC_SRC is not set")
def test_real_upstream_cfg_files_are_the_shipped_ones():
    for name in ("lop", "mop", "hop", "vhop"):
        path = Path(os.environ["COOLCHIC_SRC"]) / "cfg" / "dec" / "intra" / f"{name}.cfg"
        ours = architecture_for(decoder(parse(["--dec_cfg", name])), 64, 64)
        assert architecture_for(decoder(parse(["--dec_cfg", str(path)])), 64, 64) == ours


def test_precedence_default_then_cfg_then_command_line(tmp_path):
    assert parse([]).arm_residue == "14,2/stabiliser"
    cfg = tmp_path / "my.cfg"
    cfg.write_text("arm = 8,1\nlmbda = 0.02\n")
    args = parse(["--dec_cfg", str(cfg)])
    assert (args.arm_residue, args.lmbda) == ("8,1", 0.02)
    args = parse(["--dec_cfg", str(cfg), "--arm", "24,2", "--lmbda", "0.004"])
    assert (args.arm_residue, args.lmbda) == ("24,2", 0.004)


@pytest.mark.parametrize("name", SHIPPED_CONFIGS)
def test_shipped_configs_build(name):
    assert shipped_config(name).is_file()
    args = parse(["--dec_cfg", name])
    arch = architecture_for(decoder(args), 48, 40)
    assert arch.n_grids == 7
    if name.startswith("v4-") or name == "paper":
        assert arch.n_contexts in (8, 16, 32) and arch.hyperlatent_resolution is None
        assert arch.n_ifce_features == 0
    else:  # Cool-chic 5.0.1's
        assert arch.n_contexts in (6, 10, 14, 20) and arch.hyperlatent_resolution == (4, 6)
        assert arch.n_ifce_features in (2, 4, 6) and arch.ifce_resolution == (0, 2)


def test_paper_config_is_the_mrc_paper_setting():
    arch = architecture_for(decoder(parse(["--dec_cfg=paper"])), 512, 768)
    assert (arch.n_contexts, arch.n_hidden_arm, arch.arm_stabiliser) == (32, 2, False)
    assert [s.out_features for s in arch.synthesis_layers] == [48, 3, 3, 3]
    assert not arch.synthesis_stabiliser


def test_unknown_cfg_key_is_one_line_error(tmp_path, capsys):
    cfg = tmp_path / "bad.cfg"
    cfg.write_text("arm_residue = 8,2\nnot_a_key = 3\n")
    with pytest.raises(ConfigError, match="unknown config key or option: not_a_key"):
        parse(["--dec_cfg", str(cfg)])
    code = main(["encode", "-i", "x.png", "--dec_cfg", str(cfg)])
    assert "not_a_key" in one_line_error(capsys, code)


@pytest.mark.parametrize(
    "text, message",
    [("14", "expected <contexts>,<hidden layers>"), ("41,2", "1..40"), ("8,9", "at most 8"),
     ("a,b", "expected")],
)
def test_bad_arm_strings(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_arm(text)


def test_arm_string():
    assert parse_arm("24,2/stabiliser") == (24, 2, True)
    assert parse_arm("8,0") == (8, 0, False)


@pytest.mark.parametrize(
    "text, message",
    [("", "empty"), ("48-1-linear", "not <out>"), ("48-2-linear-relu,X-1-linear-none", "odd"),
     ("48-1-conv-relu,X-1-linear-none", "linear or residual"),
     ("48-1-linear-tanh,X-1-linear-none", "relu or none"), ("48-1-linear-relu", "last layer"),
     ("0-1-linear-relu,X-1-linear-none", "positive")],
)
def test_bad_synthesis_strings(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_synthesis_layers(text)


def test_synthesis_string_with_x_and_stabiliser():
    layers, stabiliser = parse_synthesis_layers("16-1-linear-relu,X-3-residual-none/stabiliser")
    assert stabiliser
    assert [(s.out_features, s.kernel_size, s.residual, s.relu) for s in layers] == [
        (16, 1, False, True), (3, 3, True, False)]


def test_latent_resolution():
    assert parse_latent_resolution("auto", 512 * 768) == (0, 6)
    assert parse_latent_resolution("auto", 1500 * 1000) == (0, 7)
    assert parse_latent_resolution("auto", 4000 * 3000) == (0, 8)
    assert parse_latent_resolution("1-5", 100) == (1, 5)
    for bad in ("5-1", "0-13", "x", "0-"):
        with pytest.raises(ConfigError):
            parse_latent_resolution(bad, 100)


def test_shipped_config_names_resolve_only_without_a_local_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_shipped_configs(["--dec_cfg", "hop"])[1] == str(shipped_config("hop"))
    (tmp_path / "hop").write_text("arm = 8,2\n")
    assert resolve_shipped_configs(["--dec_cfg", "hop"])[1] == "hop"
