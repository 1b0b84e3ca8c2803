# SPDX-License-Identifier: BSD-3-Clause
"""A/B variants: which host encodes, with which context provider and options.

Written ``[HOST/]PROVIDER[:key=value,...][@setting=value,...]``. ``HOST``
is ``ours`` (this package's encoder, the default) or ``upstream`` (genuine
Cool-chic 5.0.1, patched with ``patches/coolchic-v5.0.1.patch``).
``upstream/spatial`` is upstream with no provider at all, so its files are
unpatched upstream's. A context competition (``spatial+mrc:depth=2``,
``coolchic.competition``) is one variant of our host, passed whole. Provider options become ``--PROVIDER_key value``;
settings after ``@`` are our encoder's own options, ``--setting value``
(``spatial@rate_floor_bits=24``), for our host only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coolchic.competition import SEPARATOR, candidates
from coolchic.errors import ConfigError

HOSTS = ("ours", "upstream")
DEFAULT_HOST = "ours"
#: The provider that is Cool-chic's own context (upstream: no provider at all).
SPATIAL = "spatial"

_NAME_PATTERN = r"[a-z][a-z0-9_]*"
_NAME = re.compile(_NAME_PATTERN)
_SETTING = rf"{_NAME_PATTERN}=[^:,=/@\s]+"
_SETTINGS = re.compile(rf"{_SETTING}(?:,{_SETTING})*")
#: Encoder options that ``ab`` sets for every job: not a variant's to change.
SET_BY_AB = ("lmbda", "n_itr", "preset", "seed", "device", "threads", "dec_cfg",
             "dec_cfg_residue", "context_provider", "cuda_graph", "cudnn_benchmark", "quiet",
             "results", "workdir")
_EXAMPLE = "e.g. spatial, mrc:depth=6, spatial@rate_floor_bits=24 or upstream/mrc:depth=6"


def _settings(spec: str, text: str) -> tuple[tuple[str, str], ...]:
    """The ``@setting=value,...`` part, refusing what ``ab`` sets itself."""
    if not _SETTINGS.fullmatch(text):
        raise ConfigError(f"variant {spec!r}: expected [HOST/]NAME[:key=value,...]"
                          f"@setting=value,..., {_EXAMPLE}")
    pairs = tuple(tuple(pair.split("=", 1)) for pair in text.split(","))
    for key, _ in pairs:
        if key in SET_BY_AB:
            raise ConfigError(f"variant {spec!r}: {key} is set by ab for every job, not by a "
                              "variant")
    return pairs


@dataclass(frozen=True)
class Variant:
    host: str
    provider: str
    options: tuple[tuple[str, str], ...] = ()
    settings: tuple[tuple[str, str], ...] = ()  # our encoder's options (after "@")

    @classmethod
    def parse(cls, spec: str) -> Variant:
        head, at, settings_text = spec.partition("@")
        host, slash, body = head.rpartition("/")
        if slash and not _NAME.fullmatch(host):
            raise ConfigError(f"variant {spec!r}: expected [HOST/]NAME or [HOST/]NAME:key=value,"
                              f"..., {_EXAMPLE}")
        host = host or DEFAULT_HOST
        try:
            found = candidates(body)  # the context_provider grammar, competitions included
        except ConfigError as error:
            if SEPARATOR in body:
                raise ConfigError(f"variant {spec!r}: {error}") from None
            raise ConfigError(f"variant {spec!r}: expected [HOST/]NAME or [HOST/]NAME:key="
                              f"value,..., {_EXAMPLE}") from None
        if host not in HOSTS:
            raise ConfigError(f"variant {spec!r}: unknown host {host!r}; hosts: {', '.join(HOSTS)}")
        settings = _settings(spec, settings_text) if at else ()
        if host == "upstream" and settings:
            raise ConfigError(f"variant {spec!r}: settings after '@' are our encoder's options; "
                              "upstream takes none")
        if len(found) > 1:  # a context competition: its spec goes to the encoder whole
            if host != DEFAULT_HOST:
                raise ConfigError(f"variant {spec!r}: a context competition runs in our host only")
            return cls(host, SEPARATOR.join(c.spec for c in found), (), settings)
        (single,) = found
        if host == "upstream" and single.name == SPATIAL and single.options:
            raise ConfigError(f"variant {spec!r}: upstream/spatial is upstream without a "
                              "provider; it takes no options")
        return cls(host, single.name, single.options, settings)

    @property
    def _provider_spec(self) -> str:
        spec = self.provider
        if self.options:
            spec += ":" + ",".join(f"{key}={value}" for key, value in self.options)
        if self.settings:
            spec += "@" + ",".join(f"{key}={value}" for key, value in self.settings)
        return spec

    @property
    def spec(self) -> str:
        """Canonical text; our host's variants keep their host-less form."""
        return self._provider_spec if self.host == DEFAULT_HOST else f"{self.host}/{self._provider_spec}"

    @property
    def label(self) -> str:
        """A file-name-safe name: ``mrc-depth6``, ``spatial+rate_floor_bits24``, ``upstream-spatial``.

        A competition's is its candidates' joined by ``_or_``: ``spatial_or_mrc-depth2``.
        """
        name = "_or_".join(part.replace(":", "-").replace("=", "").replace(",", "-")
                           for part in self.provider.split(SEPARATOR))
        name += "".join(f"-{key}{value}" for key, value in self.options)
        name += "".join(f"+{key}{value}" for key, value in self.settings)
        return name if self.host == DEFAULT_HOST else f"{self.host}-{name}"

    def encoder_arguments(self) -> list[str]:
        """The encoder options selecting this provider (none for upstream's own context)."""
        if self.host == "upstream" and self.provider == SPATIAL:
            return []
        args = ["--context_provider", self.provider]
        for key, value in self.options:
            args += [f"--{self.provider}_{key}", value]
        for key, value in self.settings:
            args += [f"--{key}", value]
        return args
