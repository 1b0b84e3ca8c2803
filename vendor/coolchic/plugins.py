# SPDX-License-Identifier: BSD-3-Clause
"""The host side of the hook contract: its manager and provider look-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coolchic import spatial
from coolchic.hooks import (
    ContextProvider,
    ProviderError,
    ProviderRegistry,
    ProviderSetup,
    check_provider,
    collect_providers,
    get_plugin_manager,
)

BUILTIN_PLUGINS = (spatial,)


def host_plugin_manager(autoload: bool | None = None):
    """A fresh manager with the installed plugins and the built-in ``spatial`` provider."""
    return get_plugin_manager(builtins=BUILTIN_PLUGINS, autoload=autoload)


def provider_from_options(
    registry: ProviderRegistry, setup: ProviderSetup, options: Mapping[str, Any]
) -> ContextProvider:
    """The provider named by ``options['context_provider']``, checked against ``setup``."""
    name = options.get("context_provider", "spatial")
    provider = registry.get(name).from_options(setup, options)
    _check(provider, name, setup)
    return provider


def provider_from_header(
    registry: ProviderRegistry, name: str, setup: ProviderSetup, fields: Mapping[str, int]
) -> ContextProvider:
    provider = registry.get(name).from_header(setup, fields)
    _check(provider, name, setup)
    return provider


def _check(provider: ContextProvider, name: str, setup: ProviderSetup) -> None:
    if getattr(provider, "name", None) != name:
        raise ProviderError(
            f"context provider registered as {name!r} calls itself "
            f"{getattr(provider, 'name', None)!r}"
        )
    check_provider(provider, setup)


__all__ = [
    "BUILTIN_PLUGINS",
    "collect_providers",
    "host_plugin_manager",
    "provider_from_header",
    "provider_from_options",
]
