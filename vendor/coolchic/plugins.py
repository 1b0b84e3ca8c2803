# SPDX-License-Identifier: BSD-3-Clause
"""The host side of the hook contract: its plugin manager, with the built-in provider."""

from __future__ import annotations

from coolchic import spatial
from coolchic.hooks import ProviderRegistry, collect_providers, get_plugin_manager

BUILTIN_PLUGINS = (spatial,)


def host_plugin_manager(autoload: bool | None = None):
    """A fresh manager with the installed plugins and the built-in ``spatial`` provider."""
    return get_plugin_manager(builtins=BUILTIN_PLUGINS, autoload=autoload)


def installed_providers(autoload: bool | None = None) -> ProviderRegistry:
    """The providers of a fresh host plugin manager."""
    return collect_providers(host_plugin_manager(autoload))
