# SPDX-License-Identifier: BSD-3-Clause
"""Every context provider, through the contract (hook contract version 2).

Runs each registered provider (the built-in spatial, mrc at every depth, the
example template when installed, any other installed one with its default
options, and the test suite's own) through what the hosts rely on: the sizes
and positions check_provider enforces, causality across grids in a real
model, the same context in float (training) and in fixed point (coding),
header fields that rebuild the same provider, and files whose provider
fields are corrupted or unexpected, refused by the decoder in one line.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from coolchic.architecture import Architecture
from coolchic.bitstream.fixedpoint import FRAC_BITS
from coolchic.bitstream.header import pack_header, unpack_header
from coolchic.bitstream.latents import fixed_point_contexts
from coolchic.cli import main
from coolchic import api
from coolchic.context import spatial_offsets
from coolchic.hooks import (
    ProviderError,
    ProviderRegistry,
    build_provider,
    check_provider,
    collect_providers,
    hookimpl,
)
from coolchic.imageio import demo_image
from coolchic.model import CoolChic, provider_setup
from coolchic.plugins import host_plugin_manager
from coolchic.synthesis import parse_synthesis_layers

from .conftest import ColocatedProvider
from .helpers import one_line_error
from .test_encode import _settings

#: Options to try per provider; installed providers not named here run with their defaults.
OPTIONS = {
    "spatial": [{}],
    "mrc": [{"mrc_depth": depth} for depth in range(7)],
    "colocated": [{"colocated_depth": depth} for depth in (1, 2, 3)],  # the example template
    "colocated_test": [{}],  # tests/conftest.py
}


class _TestColocated(ColocatedProvider):
    name = "colocated_test"


def manager_with(name, factory):
    """A host plugin manager with one more provider registered, as a plugin would."""

    class Plugin:
        @hookimpl
        def coolchic_register_context_providers(self, register):
            register(name, factory)

    manager = host_plugin_manager()
    manager.register(Plugin())
    return manager


# The test suite's provider, under a name that cannot clash with the example template's.
REGISTRY = collect_providers(manager_with("colocated_test", _TestColocated))
CASES = [
    (name, options)
    for name in REGISTRY.names()
    for options in OPTIONS.get(name, [{}])
]
IDS = [f"{name}-{'-'.join(f'{k}{v}' for k, v in opts.items()) or 'default'}"
       for name, opts in CASES]


def architecture(n_contexts: int, height: int = 24, width: int = 20, n_hidden: int = 1,
                 last: int = 4, v5: bool = False) -> Architecture:
    """A small decoder; ``v5`` adds hyperlatents, IFCE and the output transform."""
    layers, _ = parse_synthesis_layers("8-1-linear-relu,X-1-linear-none")
    extra = {}
    if v5:  # hyperlatents overlap the IFCE range: every kind of grid gets IFCE features
        extra = dict(hyperlatent_resolution=(2, last), ifce_resolution=(0, 2), n_ifce_features=3,
                     output_transform=True)
    return Architecture(height, width, (0, last), n_contexts, n_hidden, False, layers, False, 8, 7,
                        **extra)


def build(name, options, arch):
    settings = _settings(context_provider=name, **options)
    return build_provider(REGISTRY, name, provider_setup(arch), options=settings.options)


def test_the_suite_covers_every_installed_provider():
    installed = set(collect_providers(host_plugin_manager()).names())
    covered = {name for name, _ in CASES}
    assert installed <= covered and {"spatial", "mrc", "colocated_test"} <= covered


@pytest.mark.parametrize("name, options", CASES, ids=IDS)
@pytest.mark.parametrize("n_contexts", [8, 14, 16])
def test_sizes_and_positions(name, options, n_contexts):
    arch = architecture(n_contexts)
    setup = provider_setup(arch)
    provider = build(name, options, arch)
    check_provider(provider, setup)
    for grid in range(arch.n_grids):
        causal, coarse = provider.causal_offsets(grid), provider.coarse_positions(grid)
        assert len(causal) + len(coarse) == n_contexts
        if grid == arch.n_grids - 1:
            assert list(coarse) == []


def _model(name, options, seed=0, v5=False):
    arch = architecture(8, v5=v5)
    torch.manual_seed(seed)
    model = CoolChic(arch, build(name, options, arch)).eval()
    with torch.no_grad():
        for grid in model.latents:
            grid.copy_(torch.randint(-3, 4, grid.shape) / model.encoder_gain)
        # Networks on a 2^-8 grid, as after quantization: fixed point can read them.
        for param in model.network_parameters():
            param.copy_(torch.round((param + 0.05 * torch.randn_like(param)) * 256) / 256)
    return model


def _float_contexts(model, grids):
    with torch.no_grad():
        return model.decoder_inputs(grids).context


@pytest.mark.parametrize("v5", [False, True], ids=["v4", "v5"])
@pytest.mark.parametrize("name, options", CASES, ids=IDS)
def test_causality_across_grids(name, options, v5):
    """A value may change the context of later values of its grid and of grids coded later only.

    With ``v5``, hyperlatents and IFCE features are in the context too.
    """
    model = _model(name, options, v5=v5)
    grids = model.quantized_latents()
    base = _float_contexts(model, grids)
    sizes = [h * w for h, w in model.arch.coded_shapes]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    for changed, (height, width) in enumerate(model.arch.coded_shapes):
        y, x = height // 2, width // 2
        perturbed = [g.clone() for g in grids]
        perturbed[changed][0, 0, y, x] += 5
        differs = (_float_contexts(model, perturbed) != base).any(dim=1)
        for grid in range(len(sizes)):
            rows = differs[starts[grid] : starts[grid] + sizes[grid]].nonzero().flatten()
            if grid > changed:  # coarser grids are decoded first: never affected
                assert rows.numel() == 0, (name, changed, grid)
            elif grid == changed:
                w = model.arch.coded_shapes[grid][1]
                assert all(divmod(int(r), w) > (y, x) for r in rows), (name, changed)
            elif (v5 and grid == changed - 1 and model.arch.coded_grids[grid].ifce_inputs
                  and model.arch.coded_shapes[changed] != model.arch.coded_shapes[grid]):
                assert rows.numel(), (name, changed, grid)  # the IFCE reads the grid before


@pytest.mark.parametrize("v5", [False, True], ids=["v4", "v5"])
@pytest.mark.parametrize("name, options", CASES, ids=IDS)
def test_float_and_fixed_point_contexts_agree(name, options, v5):
    """Training and coding read the same positions: their contexts match up to rounding.

    IFCE features are floored to 8 fractional bits when coding, as in Cool-chic 5.
    """
    model = _model(name, options, seed=1, v5=v5)
    grids = model.quantized_latents()
    floats = _float_contexts(model, grids)
    integers = [g[0, 0].to(torch.int64) for g in grids]
    sizes = [h * w for h, w in model.arch.coded_shapes]
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    n = model.arch.n_contexts
    for grid, fixed in fixed_point_contexts(model, integers):
        expected = floats[starts[grid] : starts[grid] + sizes[grid]].double()
        assert fixed.dtype == torch.int64 and fixed.shape == expected.shape
        values = fixed.double() / 2**FRAC_BITS
        assert torch.allclose(values[:, :n], expected[:, :n], atol=2e-3), (
            name, grid, float((values[:, :n] - expected[:, :n]).abs().max()))
        error = expected[:, n:] - values[:, n:]  # floor: 0 <= error < 2^-8
        assert (error >= -1e-9).all() and (error < 2**-8 + 1e-9).all(), (name, grid)
        assert (fixed[:, n:] % 2**8 == 0).all()


@pytest.mark.parametrize("name, options", CASES, ids=IDS)
def test_header_fields_rebuild_the_same_provider(name, options):
    arch = architecture(16, last=6)
    provider = build(name, options, arch)
    again = build_provider(REGISTRY, name, provider_setup(arch), fields=provider.header_fields())
    for grid in range(arch.n_grids):
        assert list(again.causal_offsets(grid)) == list(provider.causal_offsets(grid))
        assert list(again.coarse_positions(grid)) == list(provider.coarse_positions(grid))


def _file(name, options):
    settings = _settings(context_provider=name, n_itr=40, **options)
    return api.encode(demo_image(16, 24, seed=2), settings, registry=REGISTRY).bitstream


def _with_fields(data: bytes, fields: dict) -> bytes:
    header, size = unpack_header(data)
    changed = dataclasses.replace(header, provider_fields=fields)
    return pack_header(changed) + data[size:]


def _corruptions(fields: dict) -> list[dict]:
    """An unexpected extra field, and each field under a corrupted name."""
    cases = [fields | {"unexpected": 1}]
    for key, value in fields.items():
        cases.append({k: v for k, v in fields.items() if k != key} | {key[:-1] + "x": value})
    return cases


FILE_CASES = [(name, opts[-1] if len(opts) > 1 else opts[0])
              for name, opts in ((n, OPTIONS.get(n, [{}])) for n in REGISTRY.names())]


@pytest.mark.parametrize("name, options", FILE_CASES, ids=[n for n, _ in FILE_CASES])
def test_corrupted_or_unexpected_provider_fields_are_one_line_errors(
        name, options, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("coolchic.commands.decode.installed_providers", lambda: REGISTRY)
    data = _file(name, options)
    fields = unpack_header(data)[0].provider_fields
    for number, corrupted in enumerate(_corruptions(fields)):
        path = tmp_path / f"bad{number}.cool"
        path.write_bytes(_with_fields(data, corrupted))
        code = main(["decode", "-i", str(path), "-o", str(tmp_path / "out.png")])
        err = one_line_error(capsys, code)
        assert f"cannot rebuild the decoder (context provider {name!r})" in err, err
        assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name, fields", [("mrc", {"depth": 200}), ("colocated", {"depth": 9})])
def test_out_of_range_field_values_are_one_line_errors(name, fields, tmp_path, capsys,
                                                       monkeypatch):
    if name not in REGISTRY:
        pytest.skip(f"{name} is not installed")
    monkeypatch.setattr("coolchic.commands.decode.installed_providers", lambda: REGISTRY)
    path = tmp_path / "bad.cool"
    path.write_bytes(_with_fields(_file(name, OPTIONS[name][0]), fields))
    code = main(["decode", "-i", str(path), "-o", str(tmp_path / "out.png")])
    assert "depth" in one_line_error(capsys, code)


class _Plain:
    """A provider reading Cool-chic's spatial context; the cases below change one thing."""

    def __init__(self, setup):
        self.setup = setup

    @classmethod
    def from_options(cls, setup, options):
        return cls(setup)

    from_header = from_options

    def causal_offsets(self, grid):
        return spatial_offsets(self.setup.n_contexts)

    def coarse_positions(self, grid):
        return []

    def header_fields(self):
        return {}


class _ManyFields(_Plain):
    name = "many"

    def header_fields(self):
        return {f"field{i}": i for i in range(17)}


def test_a_provider_with_too_many_header_fields_is_refused_at_encode_time(
        tiny_png, tmp_path, capsys, monkeypatch):
    manager = lambda: manager_with("many", _ManyFields)  # noqa: E731
    monkeypatch.setattr("coolchic.commands.encode.host_plugin_manager", manager)
    output = tmp_path / "x.cool"
    code = main(["encode", "-i", tiny_png, "-o", str(output), "--context_provider", "many",
                 "--preset", "fast", "--n_itr", "40", "--quiet"])
    assert "17 header fields, a bitstream header holds at most 16" in one_line_error(capsys, code)
    assert not output.exists()


def test_a_factory_raising_anything_is_a_provider_error_naming_it():
    class Broken:
        @classmethod
        def from_options(cls, setup, options):
            return {}["depth"]

        from_header = from_options

    registry = ProviderRegistry()
    registry.register("broken", Broken)
    setup = provider_setup(architecture(8))
    with pytest.raises(ProviderError, match=r"'broken' cannot be built from its options "
                                            r"\(KeyError: 'depth'\)"):
        build_provider(registry, "broken", setup, options={})
    with pytest.raises(ProviderError, match=r"'broken' cannot be built from header fields"):
        build_provider(registry, "broken", setup, fields={"x": 1})


def test_a_provider_of_contract_version_1_is_named_as_such():
    class Old(_Plain):
        """Version 1: computed its coarse context instead of naming positions."""

        name = "old"
        coarse_positions = None

        def coarse_size(self, grid):
            return 0

        def coarse_context(self, grid, state):
            return state

    registry = ProviderRegistry()
    registry.register("old", Old)
    with pytest.raises(ProviderError, match="'old' does not implement hook contract version 2"):
        build_provider(registry, "old", provider_setup(architecture(8)), options={})
