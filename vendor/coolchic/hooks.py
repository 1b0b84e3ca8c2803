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
states *which* values they are; the host reads them, with :func:`gather`:

``causal_offsets(i)``
    ``(dy, dx)`` positions inside grid ``i`` itself, each strictly before the
    current latent in raster order, inside the 9x9 window (zero outside the
    grid).
``coarse_positions(i)``
    ``(k, dy, dx)``: the value at ``(dy, dx)`` from the current position in
    the ``k``-th coarser grid (grid ``i + k``, ``k >= 1``), brought to the
    resolution of grid ``i`` by the learned upsampling. Those grids are fully
    decoded, so any position of the window may be read. Empty for the
    coarsest grid.

``len(causal_offsets(i)) + len(coarse_positions(i)) == N`` for every grid, so
the ARM, and with it the decoder's complexity, is the same whatever the
provider. The host gathers the coarse values in float (carrying gradients)
while training and in fixed point while coding; since a provider only names
positions, both give the same context by construction.

A provider is chosen by name (``context_provider`` in a config file or on the
command line), never by hook order, and the bitstream header records its name
and :meth:`ContextProvider.header_fields`, so installing a plugin can never
change how an existing file decodes. Hosts build providers only through
:func:`build_provider`, which checks all of the above.

Version 2 of the contract (:data:`CONTRACT_VERSION`): version 1 let providers
compute the coarse context themselves (``coarse_size``, ``coarse_context``).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:
    import argparse

    from torch import Tensor

#: Version of this contract; hosts and plugins built for another one do not mix.
CONTRACT_VERSION = 2
#: pluggy project name and entry-point group of Cool-chic plugins.
PROJECT_NAME = "coolchic"
ENTRY_POINT_GROUP = "coolchic"
#: Set this environment variable to a non-empty value to skip loading
#: plugins from installed distributions (tests use it for isolation).
DISABLE_AUTOLOAD_ENV = "COOLCHIC_DISABLE_PLUGIN_AUTOLOAD"
#: Half-size of the context window: offsets lie in [-4, 4] x [-4, 4].
WINDOW_RADIUS = 4
#: Most header fields a provider may have, and the bound of their values.
MAX_HEADER_FIELDS = 16
MAX_FIELD_VALUE = 2**16 - 1
#: Provider names and header field names: what a bitstream header may hold.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: Marker for plugin hook implementations: ``@hookimpl def coolchic_...``.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

Offset = tuple[int, int]
#: ``(k, dy, dx)``: position ``(dy, dx)`` in the ``k``-th coarser grid, upsampled.
CoarsePosition = tuple[int, int, int]


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

    def coarse_positions(self, grid: int) -> Sequence[CoarsePosition]:
        """Positions ``(k, dy, dx)`` read in the upsampled coarser grids ``grid + k``.

        :param grid: index of the latent grid, 0 is the finest.
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
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
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


#: Grids of at most this many values are gathered with one indexing op on the CPU, larger ones
#: with one slice per position (contiguous copies are faster there); on other devices (CUDA,
#: where each op is a kernel launch) always with one op. Both select the same values.
INDEXED_GATHER_MAX_CPU = 128 * 128


def gather(planes: Tensor, positions: Sequence[tuple[int, int, int]]) -> Tensor:
    """The values a context is made of: ``planes[0, c, y + dy, x + dx]`` for every ``(y, x)``.

    One function for every host and both representations (float while
    training, int64 fixed point while coding): selection only, zero outside.

    :param planes: ``[1, C, H, W]``.
    :param positions: ``(c, dy, dx)`` with ``0 <= c < C`` and ``|dy|, |dx| <= 4``.
    :returns: ``[H * W, len(positions)]``, one column per position, in order.
    """
    import torch
    import torch.nn.functional as F

    _, channels, height, width = planes.shape
    if not positions:
        return planes.new_zeros(height * width, 0)
    r = WINDOW_RADIUS
    padded = F.pad(planes, (r, r, r, r))
    if planes.device.type != "cpu" or height * width <= INDEXED_GATHER_MAX_CPU:
        # One op forward, one (index_add) backward, whatever the number of positions.
        index = _gather_index(channels, height, width, tuple(map(tuple, positions)),
                              planes.device)
        return padded.reshape(-1).index_select(0, index).view(height * width, -1)
    picked = [padded[0, c, r + dy : r + dy + height, r + dx : r + dx + width]
              for c, dy, dx in positions]
    # Stacking last makes the [H * W, K] result contiguous without another copy.
    return torch.stack(picked, dim=-1).reshape(height * width, -1)


@functools.lru_cache(maxsize=128)
def _gather_index(channels: int, height: int, width: int,
                  positions: tuple[tuple[int, int, int], ...], device: Any) -> Tensor:
    """Flat indices into the padded ``[1, C, H + 8, W + 8]`` planes, ``[H * W * K]``."""
    import torch

    r = WINDOW_RADIUS
    padded_h, padded_w = height + 2 * r, width + 2 * r
    rows = torch.arange(height, device=device).view(-1, 1) * padded_w
    pixels = (rows + torch.arange(width, device=device).view(1, -1)).view(-1, 1)
    shifts = torch.tensor([c * padded_h * padded_w + (r + dy) * padded_w + (r + dx)
                           for c, dy, dx in positions], device=device)
    return (pixels + shifts.view(1, -1)).view(-1)


def gather_coarse(state: Tensor, positions: Sequence[CoarsePosition]) -> Tensor:
    """:func:`gather` of coarse positions from the upsampling state of grid ``i``.

    :param state: ``[1, L - 1 - i, H_i, W_i]``, channel ``k - 1`` holding grid
        ``i + k`` upsampled to the resolution of grid ``i``.
    :param positions: what :meth:`ContextProvider.coarse_positions` returned.
    """
    return gather(state, [(k - 1, dy, dx) for k, dy, dx in positions])


def _in_window(dy: int, dx: int) -> bool:
    return max(abs(dy), abs(dx)) <= WINDOW_RADIUS


def check_provider(provider: ContextProvider, setup: ProviderSetup) -> None:
    """Raise :class:`ProviderError` unless ``provider`` keeps the contract for ``setup``.

    Checks, for every grid: causal offsets are causal and inside the window,
    coarse positions name an existing coarser grid and lie inside the window,
    nothing repeats, and causal plus coarse values add up to ``N``; then that
    the header fields fit a bitstream header.
    """
    name = getattr(provider, "name", type(provider).__name__)
    window = f"{2 * WINDOW_RADIUS + 1}x{2 * WINDOW_RADIUS + 1} window"
    for grid in range(setup.n_grids):
        where = f"provider {name!r}, grid {grid}"
        offsets = [tuple(o) for o in provider.causal_offsets(grid)]
        for dy, dx in offsets:
            if not _in_window(dy, dx):
                raise ProviderError(f"{where}: offset {(dy, dx)} is outside the {window}")
            if not (dy < 0 or (dy == 0 and dx < 0)):
                raise ProviderError(f"{where}: offset {(dy, dx)} is not causal")
        if len(set(offsets)) != len(offsets):
            raise ProviderError(f"{where}: repeated causal offsets")
        coarse = [tuple(p) for p in provider.coarse_positions(grid)]
        coarser = setup.n_grids - 1 - grid
        for k, dy, dx in coarse:
            if not 1 <= k <= coarser:
                raise ProviderError(
                    f"{where}: coarse position {(k, dy, dx)} reads grid {grid}+{k}, which does "
                    f"not exist ({coarser} coarser grids)")
            if not _in_window(dy, dx):
                raise ProviderError(f"{where}: coarse position {(k, dy, dx)} is outside the {window}")
        if len(set(coarse)) != len(coarse):
            raise ProviderError(f"{where}: repeated coarse positions")
        if len(offsets) + len(coarse) != setup.n_contexts:
            raise ContextSizeError(
                f"{where}: {len(offsets)} causal + {len(coarse)} coarse values != the ARM's "
                f"{setup.n_contexts} contexts"
            )
    fields = provider.header_fields()
    if len(fields) > MAX_HEADER_FIELDS:
        raise ProviderError(f"provider {name!r}: {len(fields)} header fields, a bitstream header "
                            f"holds at most {MAX_HEADER_FIELDS}")
    for key, value in fields.items():
        if (not isinstance(key, str) or not NAME_PATTERN.match(key) or not isinstance(value, int)
                or isinstance(value, bool) or not 0 <= value <= MAX_FIELD_VALUE):
            raise ProviderError(
                f"provider {name!r}: header field {key}={value!r} must be a short lowercase "
                f"name and an integer in [0, {MAX_FIELD_VALUE}]"
            )


def build_provider(
    registry: ProviderRegistry,
    name: str,
    setup: ProviderSetup,
    *,
    options: Mapping[str, Any] | None = None,
    fields: Mapping[str, int] | None = None,
) -> ContextProvider:
    """The one way a host builds a provider: for an encoder (``options``) or from a header.

    The provider must call itself ``name`` and keep the contract
    (:func:`check_provider`); one built from header fields must write the same
    fields back, so a field it does not know is an error, not ignored.
    Whatever a third-party factory or provider raises becomes a
    :class:`ProviderError` naming the provider, so a bad option or a corrupted
    header field is reported, not a crash.

    :param registry: the installed providers.
    :param name: registered name of the provider.
    :param setup: geometry of the model.
    :param options: parsed configuration, for an encoder.
    :param fields: header fields read from a bitstream, for a decoder.
    """
    if (options is None) == (fields is None):
        raise TypeError("build_provider needs either options or fields")
    factory = registry.get(name)
    source = "its options" if fields is None else f"header fields {dict(fields)}"
    try:
        if fields is None:
            provider = factory.from_options(setup, options)
        else:
            provider = factory.from_header(setup, fields)
        if getattr(provider, "name", None) != name:
            raise ProviderError(f"context provider registered as {name!r} calls itself "
                                f"{getattr(provider, 'name', None)!r}")
        if not callable(getattr(provider, "coarse_positions", None)):
            raise ProviderError(
                f"context provider {name!r} does not implement hook contract version "
                f"{CONTRACT_VERSION} (no coarse_positions(); version 1 had coarse_context())")
        check_provider(provider, setup)
        if fields is not None and dict(provider.header_fields()) != dict(fields):
            # A field the provider ignores or reads wrongly would decode with another model.
            raise ProviderError(f"context provider {name!r} does not write back {source} "
                                f"(it writes {dict(provider.header_fields())})")
    except ProviderError:
        raise
    except Exception as error:  # noqa: BLE001 - third-party code: report, do not crash
        raise ProviderError(f"context provider {name!r} cannot be built from {source} "
                            f"({type(error).__name__}: {error})") from error
    return provider
