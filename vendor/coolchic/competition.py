# SPDX-License-Identifier: BSD-3-Clause
"""Context competition: warm-up candidates that differ in their context provider.

``context_provider = spatial+mrc:depth=2+mrc:depth=6`` names several
candidates: each is a provider name with, optionally, its own options
(``key=value`` pairs after ``:``, separated by ``,``; ``key`` stands for the
option ``NAME_key``, as ``--mrc_depth``; ``:`` may separate pairs too). The warm-up gives its candidates to
them in turn (with 5 candidates and 2 providers: 3 and 2), keeps the best as
it always does, and the winner's provider is the one written in the header.
The decoder needs nothing new, and the choice costs no bit beyond the
provider's header fields, which every file has. Every candidate has the same
ARM, so the same MAC/pixel, whichever wins.

One name with no options is the ordinary single provider, built from the
encoder's options exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coolchic.errors import ConfigError

SEPARATOR = "+"
_NAME = r"[a-z][a-z0-9_]*"
_PAIR = rf"{_NAME}=[^:,=+@/\s]+"
_CANDIDATE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<options>{_PAIR}(?:[:,]{_PAIR})*))?$")


@dataclass(frozen=True)
class Candidate:
    name: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def spec(self) -> str:
        pairs = ",".join(f"{key}={value}" for key, value in self.options)
        return f"{self.name}:{pairs}" if pairs else self.name

    def provider_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The encoder's options with this candidate's own on top (``key`` -> ``NAME_key``)."""
        return {**options, **{f"{self.name}_{key}": typed(value) for key, value in self.options}}


def typed(text: str) -> int | float | str:
    """An inline option's value: an integer or a number when it reads as one, else text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def candidates(text: str) -> list[Candidate]:
    """The candidates of a ``context_provider`` value; raises :class:`ConfigError`."""
    found = []
    for part in text.split(SEPARATOR):
        match = _CANDIDATE.match(part)
        if not match:
            raise ConfigError(
                f"context_provider = {text}: expected NAME or NAME:key=value,... joined by "
                f"'{SEPARATOR}', e.g. spatial+mrc:depth=2")
        pairs = match.group("options") or ""
        found.append(Candidate(match.group("name"), tuple(
            tuple(p.split("=", 1)) for p in re.split("[:,]", pairs) if p)))
    specs = [candidate.spec for candidate in found]
    if len(set(specs)) != len(specs):
        raise ConfigError(f"context_provider = {text}: a candidate is named twice")
    return found
