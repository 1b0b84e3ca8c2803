# SPDX-License-Identifier: BSD-3-Clause
"""The hook contract: plugin manager, registry, options, entry points."""

from __future__ import annotations

import inspect

import pytest

from coolchic import hooks, spatial
from coolchic.hooks import (
    ProviderError,
    ProviderRegistry,
    ProviderSetup,
    build_provider,
    collect_providers,
    get_plugin_manager,
    hookimpl,
)
from coolchic.plugins import host_plugin_manager

from .conftest import ColocatedProvider

SETUP = ProviderSetup(8, ((8, 8), (4, 4), (2, 2)))


def test_fresh_manager_has_only_the_builtin_spatial_provider():
    manager = host_plugin_manager(autoload=False)
    registry = collect_providers(manager)
    assert registry.names() == ["spatial"]
    assert manager.get_plugins() == {spatial}
    # Each call builds a new manager: nothing leaks between them.
    assert host_plugin_manager(autoload=False) is not manager


def test_throwaway_provider_is_registered_and_used(colocated_plugin):
    manager = host_plugin_manager(autoload=False)
    manager.register(colocated_plugin)
    registry = collect_providers(manager)
    assert registry.names() == ["colocated", "spatial"]
    provider = build_provider(registry, "colocated", SETUP, options={})
    assert isinstance(provider, ColocatedProvider)
    assert provider.coarse_positions(0) == [(1, 0, 0)] and provider.coarse_positions(2) == []
    rebuilt = build_provider(registry, "colocated", SETUP, fields=provider.header_fields())
    assert rebuilt.header_fields() == provider.header_fields()
    manager.unregister(colocated_plugin)
    assert collect_providers(manager).names() == ["spatial"]


def test_duplicate_names_are_rejected():
    class Again:
        @hookimpl
        def coolchic_register_context_providers(self, register):
            register("spatial", ColocatedProvider)

    manager = host_plugin_manager(autoload=False)
    manager.register(Again())
    with pytest.raises(ProviderError, match="'spatial' is registered twice"):
        collect_providers(manager)


def test_unknown_name_lists_installed_providers():
    registry = collect_providers(host_plugin_manager(autoload=False))
    with pytest.raises(ProviderError, match=r"unknown context provider 'nope'; installed: spatial"):
        build_provider(registry, "nope", SETUP, options={})


@pytest.mark.parametrize("name", ["", "Bad", "1x", "has space", "a" * 33])
def test_invalid_names_are_rejected(name):
    with pytest.raises(ProviderError, match="invalid context provider name"):
        ProviderRegistry().register(name, ColocatedProvider)


def test_factory_without_from_header_is_rejected():
    class Half:
        @classmethod
        def from_options(cls, setup, options):
            return None

    with pytest.raises(ProviderError, match="no from_header"):
        ProviderRegistry().register("half", Half)


def test_provider_name_must_match_registration():
    class Liar(ColocatedProvider):
        name = "other"

    registry = ProviderRegistry()
    registry.register("liar", Liar)
    with pytest.raises(ProviderError, match="calls itself 'other'"):
        build_provider(registry, "liar", SETUP, options={})


def test_misspelled_hook_is_caught_by_check_pending():
    class Typo:
        @hookimpl
        def coolchic_register_context_provider(self, register):  # missing "s"
            pass

    with pytest.raises(Exception, match="unknown hook"):
        get_plugin_manager(builtins=[Typo()], autoload=False)


def test_options_hook_adds_keys_for_cfg_and_command_line(colocated_plugin, tmp_path):
    from coolchic.commands.encode import build_parser

    manager = host_plugin_manager(autoload=False)
    manager.register(colocated_plugin)
    parser = build_parser(manager)
    cfg = tmp_path / "c.cfg"
    cfg.write_text("context_provider = colocated\ncolocated_weight = 7\n")
    args = parser.parse_args(["-i", "x.png", "--dec_cfg", str(cfg)])
    assert (args.context_provider, args.colocated_weight) == ("colocated", 7)
    args = parser.parse_args(["-i", "x.png", "--dec_cfg", str(cfg), "--colocated_weight", "3"])
    assert args.colocated_weight == 3


def test_autoload_can_be_disabled_by_environment(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "pluggy.PluginManager.load_setuptools_entrypoints",
        lambda self, group, name=None: calls.append(group),
    )
    monkeypatch.setenv(hooks.DISABLE_AUTOLOAD_ENV, "1")
    get_plugin_manager()
    assert calls == []
    monkeypatch.delenv(hooks.DISABLE_AUTOLOAD_ENV)
    get_plugin_manager()
    assert calls == ["coolchic"]


def test_every_hookspec_is_documented_and_tested():
    specs = {name for name, _ in inspect.getmembers(hooks._Specs, inspect.isfunction)}
    tested_by = {
        "coolchic_add_options": test_options_hook_adds_keys_for_cfg_and_command_line,
        "coolchic_register_context_providers": test_throwaway_provider_is_registered_and_used,
    }
    assert specs == set(tested_by), "a hook spec was added or removed: update its test"
    for name in specs:
        doc = getattr(hooks._Specs, name).__doc__
        assert doc and ":param" in doc, f"{name} has no reST :param: documentation"
    # Hooks are called with keywords only: pluggy rejects positional arguments.
    manager = host_plugin_manager(autoload=False)
    with pytest.raises(TypeError):
        manager.hook.coolchic_add_options(object())
