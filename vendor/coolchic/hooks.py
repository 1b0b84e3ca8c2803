# SPDX-License-Identifier: BSD-3-Clause
"""The plugin contract of a Cool-chic host.

This module is the only one a plugin imports. The same file ships in our
vendored host (``vendor/coolchic``) and, through ``patches/``, in an upstream
Cool-chic checkout, so one plugin serves both hosts. It holds:

* the hook specifications (pluggy project ``coolchic``) and the public
  :data:`hookimpl` marker;
* the :class:`ContextProvider` protocol: how a plugin fills the ARM context;
* :class:`ProviderRegistry`, the object a plugin registers its providers with;
* :func:`get_plugin_manager`, which builds a fresh manager on each call.

How the ARM context is split
----------------------------
For latent grid ``i`` (0 is the finest) the ARM sees ``N`` values, where ``N``
is the context size of the configuration (``arm = N,hidden``). A provider
decides where they come from, in two parts:

``causal_offsets(i)``
    ``(dy, dx)`` positions inside grid ``i`` itself, each strictly before the
    current latent in raster order, inside the 9x9 window. The host gathers
    them (zero outside the grid).
``coarse_context(i, state)``
    ``k_i`` values per latent computed only from grids coarser than ``i``.
    ``state`` is the learned-upsampling state brought to the resolution of
    grid ``i``: a ``[1, L - 1 - i, H_i, W_i]`` tensor whose channel ``c`` holds
    grid ``i + 1 + c`` upsampled (``L`` grids in all). It is ``None`` for the
    coarsest grid.

``len(causal_offsets(i)) + k_i == N`` for every grid, so the ARM, and with it
the decoder's complexity, is the same whatever the provider. During training
``state`` is a float tensor that carries gradients; while writing or reading a
bitstream it is an ``int64`` fixed-point tensor. A provider must therefore
build its features by selecting values of ``state`` (indexing, slicing, zero
padding), never by arithmetic on them, so that both representations give the
same context.

A provider is chosen by name (``context_provider`` in a config file or on the
command line), never by hook order, and the bitstream header records its name
and :meth:`ContextProvider.header_fields`, so installing a plugin can never
change how an existing file decodes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:
    import argparse

    from torch import Tensor

#: pluggy project name and entry-point group of Cool-chic plugins.
PROJECT_NAME = "coolchic"
ENTRY_POINT_GROUP = "coolchic"
#: Set this environment variable to a non-empty value to skip loading
#: plugins from installed distributions (tests use it for isolation).
DISABLE_AUTOLOAD_ENV = "COOLCHIC_DISABLE_PLUGIN_AUTOLOAD"
#: Half-size of the context window: offsets lie in [-4, 4] x [-4, 4].
WINDOW_RADIUS = 4

_hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marker for plugin hook implementations: ``@hookimpl def coolchic_...``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Offset = tuple[int, int]
_PROVIDER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class ProviderError(ValueError):
    """A provider is registered twice, unknown, or breaks the contract."""


class ContextSizeError(ProviderError):
    """A provider's context does not have the ARM's size: it would change the decoder."""


@dataclass(frozen=True)
class ProviderSetup:
    """What the host tells a provider about the model it serves.

    :param n_contexts: ARM context size ``N``; every grid's context has
        exactly this many values.
    :param grid_shapes: ``(height, width)`` of each latent grid, finest first.
    """

    n_contexts: int
    grid_shapes: tuple[tuple[int, int], ...]

    @property
    def n_grids(self) -> int:
        return len(self.grid_shapes)


@runtime_checkable
class ContextProvider(Protocol):
    """Fills the ARM context of each latent grid (see the module docstring)."""

    #: Registered name, also written into the bitstream header.
    name: str

    def causal_offsets(self, grid: int) -> Sequence[Offset]:
        """Positions ``(dy, dx)`` in grid ``grid`` that precede the current latent.

        :param grid: index of the latent grid, 0 is the finest.
        """
        ...

    def coarse_size(self, grid: int) -> int:
        """Number ``k_i`` of values :meth:`coarse_context` returns per latent.

        :param grid: index of the latent grid, 0 is the finest.
        """
        ...

    def coarse_context(self, grid: int, state: Tensor | None) -> Tensor:
        """Context values taken from the coarser grids, ``[H_i * W_i, k_i]``.

        :param grid: index of the latent grid, 0 is the finest.
        :param state: upsampled coarser grids at the resolution of ``grid``,
            ``[1, L - 1 - grid, H_i, W_i]``; ``None`` for the coarsest grid.
        """
        ...

    def header_fields(self) -> dict[str, int]:
        """Small non-negative integers that rebuild this provider at decode time."""
        ...


class ContextProviderFactory(Protocol):
    """What a plugin registers: builds a provider for the encoder or the decoder."""

    def from_options(self, setup: ProviderSetup, options: Mapping[str, Any]) -> ContextProvider:
        """Build the provider an encoder asked for.

        :param setup: geometry of the model being trained.
        :param options: parsed configuration (every key, including the ones
            the plugin added in :func:`coolchic_add_options`).
        """
        ...

    def from_header(self, setup: ProviderSetup, fields: Mapping[str, int]) -> ContextProvider:
        """Rebuild the provider a bitstream was written with.

        :param setup: geometry read from the bitstream header.
        :param fields: what :meth:`ContextProvider.header_fields` returned.
        """
        ...


RegisterProvider = Callable[[str, ContextProviderFactory], None]


class ProviderRegistry:
    """Name -> factory table filled by :func:`coolchic_register_context_providers`."""

    def __init__(self) -> None:
        self._factories: dict[str, ContextProviderFactory] = {}

    def register(self, name: str, factory: ContextProviderFactory) -> None:
        """Add a provider; a second provider with the same name is an error."""
        if not isinstance(name, str) or not _PROVIDER_NAME.match(name):
            raise ProviderError(
                f"invalid context provider name {name!r}: use 1-32 lowercase letters, "
                "digits or '_', starting with a letter"
            )
        for method in ("from_options", "from_header"):
            if not callable(getattr(factory, method, None)):
                raise ProviderError(f"context provider {name!r} has no {method}() method")
        if name in self._factories:
            raise ProviderError(f"context provider {name!r} is registered twice")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return sorted(self._factories)

    def get(self, name: str) -> ContextProviderFactory:
        """The factory registered as ``name``; unknown names list the installed ones."""
        try:
            return self._factories[name]
        except KeyError:
            raise ProviderError(
                f"unknown context provider {name!r}; installed: {', '.join(self.names())}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._factories


class _Specs:
    """Hook specifications. Hosts call them with keyword arguments only."""

    @_hookspec
    def coolchic_register_context_providers(self, register: RegisterProvider) -> None:
        """Register context providers.

        Call ``register(name, factory)`` once per provider. ``factory``
        follows :class:`ContextProviderFactory`. Names are unique across all
        installed plugins.

        :param register: the registry's ``register`` method.
        """

    @_hookspec
    def coolchic_add_options(self, parser: argparse.ArgumentParser) -> None:
        """Add configuration keys, e.g. ``parser.add_argument("--mrc_depth", ...)``.

        Keys added here work on the command line and in Cool-chic ``.cfg``
        files alike (a cfg key is the long option name without ``--``).
        Give every key a default so that configurations without it still run.

        :param parser: the host's argument parser.
        """


def get_plugin_manager(builtins: Sequence[object] = (), autoload: bool | None = None):
    """Build a new plugin manager with the Cool-chic hook specifications.

    :param builtins: the host's own plugins (modules or objects with hook
        implementations), registered after the installed ones.
    :param autoload: load plugins from the ``coolchic`` entry-point group.
        Defaults to true unless ``COOLCHIC_DISABLE_PLUGIN_AUTOLOAD`` is set.
    """
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(_Specs)
    if autoload is None:
        autoload = not os.environ.get(DISABLE_AUTOLOAD_ENV)
    if autoload:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in builtins:
        if not manager.is_registered(plugin):
            manager.register(plugin)
    manager.check_pending()
    return manager


def collect_providers(manager: pluggy.PluginManager) -> ProviderRegistry:
    """Ask every plugin of ``manager`` for its providers."""
    registry = ProviderRegistry()
    manager.hook.coolchic_register_context_providers(register=registry.register)
    return registry


def check_provider(provider: ContextProvider, setup: ProviderSetup) -> None:
    """Raise :class:`ProviderError` unless ``provider`` keeps the contract for ``setup``.

    Checks, for every grid: offsets are causal and inside the window, no
    offset repeats, and causal plus coarse values add up to ``N``.
    """
    name = getattr(provider, "name", type(provider).__name__)
    for grid in range(setup.n_grids):
        offsets = [tuple(o) for o in provider.causal_offsets(grid)]
        for dy, dx in offsets:
            if max(abs(dy), abs(dx)) > WINDOW_RADIUS:
                raise ProviderError(
                    f"provider {name!r}, grid {grid}: offset {(dy, dx)} is outside the "
                    f"{2 * WINDOW_RADIUS + 1}x{2 * WINDOW_RADIUS + 1} window"
                )
            if not (dy < 0 or (dy == 0 and dx < 0)):
                raise ProviderError(
                    f"provider {name!r}, grid {grid}: offset {(dy, dx)} is not causal"
                )
        if len(set(offsets)) != len(offsets):
            raise ProviderError(f"provider {name!r}, grid {grid}: repeated causal offsets")
        n_coarse = provider.coarse_size(grid)
        if grid == setup.n_grids - 1 and n_coarse != 0:
            raise ProviderError(
                f"provider {name!r}: the coarsest grid has no coarser context, "
                f"yet coarse_size is {n_coarse}"
            )
        if len(offsets) + n_coarse != setup.n_contexts:
            raise ContextSizeError(
                f"provider {name!r}, grid {grid}: {len(offsets)} causal + {n_coarse} coarse "
                f"values != the ARM's {setup.n_contexts} contexts"
            )
    for key, value in provider.header_fields().items():
        if not _PROVIDER_NAME.match(key) or not isinstance(value, int) or not 0 <= value < 2**16:
            raise ProviderError(
                f"provider {name!r}: header field {key}={value!r} must be a short lowercase "
                "name and an integer in [0, 65535]"
            )
