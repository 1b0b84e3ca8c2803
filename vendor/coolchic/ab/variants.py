# SPDX-License-Identifier: BSD-3-Clause
"""A/B variants: which host encodes, with which context provider and options.

Written ``[HOST/]PROVIDER[:key=value,...]``. ``HOST`` is ``ours`` (this
package's encoder, the default) or ``upstream`` (genuine Cool-chic 5.0.1,
patched with ``patches/coolchic-v5.0.1.patch``). ``upstream/spatial`` is
upstream with no provider at all, so its files are unpatched upstream's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from coolchic.errors import ConfigError

HOSTS = ("ours", "upstream")
DEFAULT_HOST = "ours"
#: The provider that is Cool-chic's own context (upstream: no provider at all).
SPATIAL = "spatial"

_NAME = r"[a-z][a-z0-9_]*"
_PAIR = rf"{_NAME}=[^:,=/\s]+"
_SPEC = re.compile(rf"^(?:(?P<host>{_NAME})/)?(?P<provider>{_NAME})"
                   rf"(?::(?P<options>{_PAIR}(?:[:,]{_PAIR})*))?$")
_EXAMPLE = "e.g. spatial, mrc:depth=6 or upstream/mrc:depth=6"


@dataclass(frozen=True)
class Variant:
    host: str
    provider: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, spec: str) -> Variant:
        match = _SPEC.match(spec)
        if not match:
            raise ConfigError(
                f"variant {spec!r}: expected [HOST/]NAME or [HOST/]NAME:key=value,..., {_EXAMPLE}")
        host = match.group("host") or DEFAULT_HOST
        if host not in HOSTS:
            raise ConfigError(f"variant {spec!r}: unknown host {host!r}; hosts: {', '.join(HOSTS)}")
        text = match.group("options") or ""
        options = tuple(tuple(pair.split("=", 1)) for pair in re.split(r"[:,]", text) if pair)
        if host == "upstream" and match.group("provider") == SPATIAL and options:
            raise ConfigError(f"variant {spec!r}: upstream/spatial is upstream without a "
                              "provider; it takes no options")
        return cls(host, match.group("provider"), options)

    @property
    def _provider_spec(self) -> str:
        if not self.options:
            return self.provider
        return self.provider + ":" + ",".join(f"{key}={value}" for key, value in self.options)

    @property
    def spec(self) -> str:
        """Canonical text; our host's variants keep their host-less form."""
        return self._provider_spec if self.host == DEFAULT_HOST else f"{self.host}/{self._provider_spec}"

    @property
    def label(self) -> str:
        """A file-name-safe name: ``mrc-depth6``, ``upstream-spatial``."""
        name = self.provider + "".join(f"-{key}{value}" for key, value in self.options)
        return name if self.host == DEFAULT_HOST else f"{self.host}-{name}"

    def encoder_arguments(self) -> list[str]:
        """The encoder options selecting this provider (none for upstream's own context)."""
        if self.host == "upstream" and self.provider == SPATIAL:
            return []
        args = ["--context_provider", self.provider]
        for key, value in self.options:
            args += [f"--{self.provider}_{key}", value]
        return args
