# SPDX-License-Identifier: BSD-3-Clause
"""The mrc context provider (mrc_plugin)."""

from __future__ import annotations

import ast
import json
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch

from coolchic.architecture import architecture_for
from coolchic.bitstream.codec import integer_latents, read_bitstream, reconstruct, write_bitstream
from coolchic.bitstream.header import unpack_header
from coolchic.cli import main
from coolchic.config import shipped_config
from coolchic.context import V4_SHAPES, spatial_offsets
from coolchic.encoder import train_model
from coolchic.hooks import (
    ProviderError,
    ProviderSetup,
    build_provider,
    check_provider,
    collect_providers,
)
from coolchic.imageio import demo_image, load_image, psnr_8bit
from coolchic.model import CoolChic, provider_setup
from coolchic.plugins import host_plugin_manager
from mrc_plugin import provider as provider_module
from mrc_plugin.provider import MRCProvider
from mrc_plugin.tables import context_tables, designed_table, table

from .test_encode import _settings

PLUGIN_DIR = Path(provider_module.__file__).parent


@pytest.fixture(scope="module")
def registry():
    return collect_providers(host_plugin_manager())


def setup_for(n_contexts: int, n_grids: int = 7) -> ProviderSetup:
    return ProviderSetup(n_contexts, tuple((2 ** (n_grids - i), 2 ** (n_grids - i))
                                           for i in range(n_grids)))


def test_discovered_through_the_installed_entry_point(registry):
    points = {ep.name: ep.value for ep in metadata.entry_points(group="coolchic")}
    assert points.get("mrc") == "mrc_plugin.plugin"
    assert "mrc" in registry.names() and "spatial" in registry.names()


def test_tables_add_up_and_depth_zero_is_cool_chic_v4():
    tables = context_tables()
    assert sorted(tables) == [8, 16, 24, 32]
    for n, by_depth in tables.items():
        assert sorted(by_depth) == list(range(7))
        assert by_depth[0] == {0: V4_SHAPES[n]}
        for depth, row in by_depth.items():
            assert sum(len(v) for v in row.values()) == n
            assert sorted(row) == list(range(depth + 1))
            assert all(i < 40 for i in row[0])  # causal part
            assert all(0 <= i < 81 for k in row for i in row[k])


@pytest.mark.parametrize("n", [6, 8, 10, 14, 16, 20, 24, 32])
@pytest.mark.parametrize("depth", range(7))
def test_every_depth_keeps_the_context_size(n, depth):
    for n_grids in (1, 2, 4, 7, 9):
        setup = setup_for(n, n_grids)
        provider = MRCProvider(setup, depth)
        check_provider(provider, setup)  # N values per grid, causal offsets
        for grid in range(n_grids):
            effective = min(depth, n_grids - 1 - grid)
            assert len(provider.coarse_positions(grid)) == n - len(table(n, effective)[0])


@pytest.mark.parametrize("n", [6, 8, 10, 14, 16, 20, 24, 32])
def test_depth_zero_is_the_spatial_context(n):
    provider = MRCProvider(setup_for(n), 0)
    for grid in range(7):
        assert provider.causal_offsets(grid) == spatial_offsets(n)
        assert provider.coarse_positions(grid) == []


@pytest.mark.parametrize("depth", [-1, 7, 2.5, True])
def test_depth_out_of_range_is_refused(depth):
    with pytest.raises(ProviderError, match="mrc_depth = .*must be an integer in 0..6"):
        MRCProvider(setup_for(16), depth)


def test_designed_tables_follow_the_papers_rule():
    # Where the paper has tables, the rule gives exactly its coarse positions.
    for n in (8, 16):
        for depth in range(7):
            paper = context_tables()[n][depth]
            ours = designed_table(n, depth)
            assert {k: set(v) for k, v in ours.items() if k} == {
                k: set(v) for k, v in paper.items() if k}, (n, depth)
            assert len(ours[0]) == len(paper[0])
    # v5 sizes: at least the two nearest neighbours stay causal, depth is capped.
    assert designed_table(6, 6) == {0: (39, 31), 1: (40,), 2: (40,), 3: (40,), 4: (40,)}
    assert designed_table(14, 1) == {0: spatial_offsets_indices(10), 1: (40, 41, 49, 39)}
    assert designed_table(20, 3)[1] == (40, 41, 49)


def spatial_offsets_indices(n):
    return tuple((dy + 4) * 9 + dx + 4 for dy, dx in spatial_offsets(n))


@pytest.mark.parametrize("n", [5, 12, 40])
def test_context_sizes_without_a_table_are_refused(n):
    with pytest.raises(ProviderError, match=f"no context table for an ARM with {n} contexts; "
                                            "tables exist for 6, 8, 10, 14, 16, 20, 24, 32"):
        MRCProvider(setup_for(n), 6)


def test_header_fields_round_trip():
    setup = setup_for(32)
    provider = MRCProvider.from_options(setup, {"mrc_depth": 4})
    assert provider.header_fields() == {"depth": 4}
    again = MRCProvider.from_header(setup, provider.header_fields())
    assert [again.causal_offsets(g) for g in range(7)] == [
        provider.causal_offsets(g) for g in range(7)]
    with pytest.raises(ProviderError, match="header fields depth"):
        MRCProvider.from_header(setup, {"depth": 4, "extra": 1})


def test_coarse_count_gives_causal_positions_back():
    """mrc_coarse: N = 14 at depth 2 with 2 coarse values keeps 12 causal positions."""
    assert designed_table(14, 2, 2) == {0: spatial_offsets_indices(12), 1: (40,), 2: (40,)}
    assert designed_table(14, 2, 5) == {0: spatial_offsets_indices(9), 1: (40, 41, 49, 39),
                                        2: (40,)}
    assert designed_table(14, 2, None) == designed_table(14, 2)  # the rule: 4 coarse
    assert designed_table(14, 0, 3) == designed_table(14, 0)  # depth 0 has none
    for bad in (1, 13):
        with pytest.raises(ValueError, match="must be 2..12"):
            designed_table(14, 2, bad)
    setup = setup_for(14)
    provider = MRCProvider.from_options(setup, {"mrc_depth": 2, "mrc_coarse": 2})
    assert provider.header_fields() == {"depth": 2, "coarse": 2}
    assert len(provider.causal_offsets(0)) == 12 and len(provider.coarse_positions(0)) == 2
    again = MRCProvider.from_header(setup, provider.header_fields())
    assert [again.coarse_positions(g) for g in range(7)] == [
        provider.coarse_positions(g) for g in range(7)]
    assert MRCProvider.from_options(setup, {"mrc_depth": 2}).header_fields() == {"depth": 2}
    with pytest.raises(ProviderError, match="mrc_coarse = 1: 1 coarse positions at depth 2"):
        MRCProvider(setup, 2, 1)
    with pytest.raises(ProviderError, match="paper's tables"):
        MRCProvider(setup_for(32), 2, 4)
    with pytest.raises(ProviderError, match="mrc_coarse = -1"):
        MRCProvider(setup, 2, -1)


def test_colocated_off_takes_the_first_coarser_grid_s_next_positions():
    """mrc_colocated = 0: grid i+1 gives its right and lower neighbours, not the co-located
    value that an IFCE already feeds the ARM; deeper grids keep theirs."""
    assert designed_table(14, 1, 2, colocated=False) == {0: spatial_offsets_indices(12),
                                                         1: (41, 49)}
    assert designed_table(14, 2, 3, colocated=False) == {0: spatial_offsets_indices(11),
                                                         1: (41, 49), 2: (40,)}
    assert designed_table(20, 1, 14) and designed_table(20, 1, 13, colocated=False)
    with pytest.raises(ValueError, match="must be 1..13"):  # one ranked position fewer
        designed_table(20, 1, 14, colocated=False)
    setup = setup_for(14)
    provider = MRCProvider.from_options(setup, {"mrc_depth": 1, "mrc_coarse": 2,
                                                "mrc_colocated": 0})
    assert provider.header_fields() == {"depth": 1, "coarse": 2, "colocated": 0}
    assert provider.coarse_positions(0) == [(1, 0, 1), (1, 1, 0)]
    assert provider.coarse_positions(6) == []  # the coarsest grid: Cool-chic's context
    again = MRCProvider.from_header(setup, provider.header_fields())
    assert [again.coarse_positions(g) for g in range(7)] == [
        provider.coarse_positions(g) for g in range(7)]
    with pytest.raises(ProviderError, match="mrc_colocated = 2"):
        MRCProvider(setup, 1, 2, 2)
    with pytest.raises(ProviderError, match="paper's tables"):
        MRCProvider(setup_for(32), 1, 0, 0)


def _model(registry, depth, height=40, width=56):
    settings = _settings(dec_cfg="paper", context_provider="mrc", mrc_depth=depth)
    arch = architecture_for(settings.decoder, height, width)
    torch.manual_seed(0)
    provider = build_provider(registry, "mrc", provider_setup(arch), options=settings.options)
    model = CoolChic(arch, provider)
    with torch.no_grad():
        for grid in model.latents:
            grid.normal_(0, 0.5)
    return model.eval()


def _contexts(model, grids):
    with torch.no_grad():
        _, coarse = model.upsampling(grids)
        return [model.grid_context(i, grids[i], coarse[i]) for i in range(len(grids))]


@pytest.mark.parametrize("depth", [1, 3, 6])
def test_contexts_are_causal_across_grids(registry, depth):
    model = _model(registry, depth)
    grids = model.quantized_latents()
    base = _contexts(model, grids)
    n_grids = len(grids)
    torch.manual_seed(1)
    for changed in range(n_grids):
        perturbed = [g.clone() for g in grids]
        h, w = perturbed[changed].shape[-2:]
        y, x = int(torch.randint(h, ())), int(torch.randint(w, ()))
        perturbed[changed][0, 0, y, x] += 5.0
        after = _contexts(model, perturbed)
        for grid in range(n_grids):
            differs = (after[grid] != base[grid]).any(dim=1)
            if grid > changed:  # a finer grid was perturbed: never visible
                assert not differs.any(), (changed, grid)
            elif grid == changed:  # only positions after (y, x) may see it
                rows = differs.nonzero().flatten().tolist()
                assert all(divmod(r, w) > (y, x) for r in rows), (changed, rows[:3])
        finer = changed - 1
        if finer >= 0 and changed - finer <= depth:
            assert (after[finer] != base[finer]).any(), f"grid {finer} ignores grid {changed}"


def test_coarse_context_reads_the_upsampled_coarser_grids(registry):
    model = _model(registry, 6)
    grids = model.quantized_latents()
    with torch.no_grad():
        _, coarse = model.upsampling(grids)
    context = model.grid_context(0, grids[0], coarse[0])
    n_causal = len(model.causal_offsets[0])
    # N = 32, depth 6: 9 values around the co-located latent of grid 1, then one per grid 2..6.
    window = context[:, n_causal : n_causal + 9]
    h, w = grids[0].shape[-2:]
    y, x = 10, 17
    assert window[y * w + x, 4] == coarse[0][0, 0, y, x]
    assert window[y * w + x, 0] == coarse[0][0, 0, y - 1, x - 1]
    colocated = context[y * w + x, n_causal + 9 :]
    assert torch.equal(colocated, coarse[0][0, 1:, y, x])


def test_depth_zero_writes_the_spatial_bitstream(registry):
    target = demo_image(32, 32, seed=4)
    spatial = train_model(target, _settings(dec_cfg="paper", seed=5), registry)
    mrc0 = train_model(target, _settings(dec_cfg="paper", seed=5, context_provider="mrc",
                                         mrc_depth=0), registry)
    data_s = write_bitstream(spatial.model, spatial.codes)
    data_m = write_bitstream(mrc0.model, mrc0.codes)
    _, size_s = unpack_header(data_s)
    header_m, size_m = unpack_header(data_m)
    assert header_m.provider_name == "mrc" and header_m.provider_fields == {"depth": 0}
    assert data_s[size_s:] == data_m[size_m:]  # networks and latents: identical


def test_depth_six_round_trip_is_pixel_exact(registry):
    target = demo_image(40, 48, seed=6)
    options = _settings(dec_cfg="paper", context_provider="mrc", mrc_depth=6)
    encoded = train_model(target, options, registry)
    data = write_bitstream(encoded.model, encoded.codes)
    expected = reconstruct(encoded.model, integer_latents(encoded.model))
    for batch in (0, 7):
        assert torch.equal(read_bitstream(data, registry, max_batch=batch).image, expected)


def test_paper_config_with_mrc_through_the_cli(tiny_png, tmp_path):
    cfg = tmp_path / "paper-mrc.cfg"
    cfg.write_text(
        shipped_config("paper").read_text()
        + "context_provider = mrc\nmrc_depth = 6\n"
    )
    bitstream, decoded, results = tmp_path / "m.cool", tmp_path / "m.png", tmp_path / "r.json"
    assert main(["encode", "-i", tiny_png, "-o", str(bitstream), "--dec_cfg", str(cfg),
                 "--results", str(results), "--preset", "fast", "--n_itr", "40", "--quiet"]) == 0
    record = json.loads(results.read_text())
    assert record["context_provider"] == "mrc" and record["provider_fields"] == {"depth": 6}
    # The decoder needs no flag: the header names the provider and its depth.
    assert main(["decode", "-i", str(bitstream), "-o", str(decoded)]) == 0
    assert record["psnr_db"] == psnr_8bit(load_image(decoded), load_image(tiny_png))


def test_plugin_imports_only_the_contract_and_torch():
    allowed_roots = {"torch", "coolchic", "mrc_plugin", *sys.stdlib_module_names}
    for path in sorted(PLUGIN_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed_roots, (path.name, name)
                if name.startswith("coolchic"):
                    assert name == "coolchic.hooks", (path.name, name)


@pytest.mark.parametrize("depth, coarse, colocated", [(6, 0, 1), (2, 2, 1), (1, 2, 0)])
def test_v5_context_size_with_stabiliser_round_trip(registry, depth, coarse, colocated):
    target = demo_image(32, 40, seed=8)
    options = _settings(arm="14,2/stabiliser", context_provider="mrc", mrc_depth=depth,
                        mrc_coarse=coarse, mrc_colocated=colocated)
    encoded = train_model(target, options, registry)
    assert encoded.model.provider.header_fields() == (
        {"depth": depth, **({"coarse": coarse} if coarse else {}),
         **({} if colocated else {"colocated": 0})})
    assert encoded.model.arch.n_contexts == 14 and encoded.model.arch.arm_stabiliser
    data = write_bitstream(encoded.model, encoded.codes)
    expected = reconstruct(encoded.model, integer_latents(encoded.model))
    assert torch.equal(read_bitstream(data, registry).image, expected)
