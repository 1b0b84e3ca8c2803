# SPDX-License-Identifier: BSD-3-Clause
"""The decoder architecture: what a config file describes and a header stores."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coolchic.context import MAX_CONTEXTS
from coolchic.errors import ConfigError
from coolchic.synthesis import LayerSpec, parse_synthesis_layers

if TYPE_CHECKING:
    from coolchic.settings import DecoderSettings

MAX_ARM_HIDDEN_LAYERS = 8
MAX_DOWNSAMPLING = 12
MAX_UPS_KERNEL = 32


@dataclass(frozen=True)
class Architecture:
    """Everything needed to build (and later rebuild) a Cool-chic decoder."""

    height: int
    width: int
    latent_resolution: tuple[int, int]
    n_contexts: int
    n_hidden_arm: int
    arm_stabiliser: bool
    synthesis_layers: tuple[LayerSpec, ...]
    synthesis_stabiliser: bool
    ups_kernel_size: int
    ups_preconcat_kernel_size: int
    n_output: int = 3

    @property
    def n_grids(self) -> int:
        first, last = self.latent_resolution
        return last - first + 1

    @property
    def grid_shapes(self) -> tuple[tuple[int, int], ...]:
        """``(H_i, W_i)`` of each latent grid, finest first."""
        first, last = self.latent_resolution
        return tuple(
            (math.ceil(self.height / 2**i), math.ceil(self.width / 2**i))
            for i in range(first, last + 1)
        )

    @property
    def n_latents(self) -> int:
        return sum(h * w for h, w in self.grid_shapes)

    def describe(self) -> dict[str, Any]:
        """Config-style description (for result files and logs)."""
        first, last = self.latent_resolution
        layers = ",".join(spec.describe() for spec in self.synthesis_layers)
        return {
            "arm": f"{self.n_contexts},{self.n_hidden_arm}"
            + ("/stabiliser" if self.arm_stabiliser else ""),
            "layers_synthesis": layers + ("/stabiliser" if self.synthesis_stabiliser else ""),
            "latent_resolution": f"{first}-{last}",
            "ups_k_size": self.ups_kernel_size,
            "ups_preconcat_k_size": self.ups_preconcat_kernel_size,
        }


def parse_arm(text: str) -> tuple[int, int, bool]:
    """``"16,2/stabiliser"`` -> (16 contexts, 2 hidden layers, stabiliser)."""
    stabiliser = text.endswith("/stabiliser")
    body = text[: -len("/stabiliser")] if stabiliser else text
    parts = body.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ConfigError(f"arm = {text!r}: expected <contexts>,<hidden layers>[/stabiliser]")
    n_contexts, n_hidden = (int(p) for p in parts)
    if not 1 <= n_contexts <= MAX_CONTEXTS:
        raise ConfigError(f"arm = {text!r}: the context size must be in 1..{MAX_CONTEXTS}")
    if n_hidden > MAX_ARM_HIDDEN_LAYERS:
        raise ConfigError(
            f"arm = {text!r}: at most {MAX_ARM_HIDDEN_LAYERS} hidden layers, not {n_hidden}"
        )
    return n_contexts, n_hidden, stabiliser


def parse_latent_resolution(text: str, n_pixels: int) -> tuple[int, int]:
    """``auto`` (2^0 down to 2^-6, -7 or -8 depending on size) or ``first-last``."""
    if text == "auto":
        coarsest = 6 if n_pixels < 1_000_000 else 7 if n_pixels < 3_000_000 else 8
        return 0, coarsest
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"latent_resolution = {text!r}: expected auto or <first>-<last>, e.g. 0-6")
    first, last = (int(p) for p in parts)
    if not 0 <= first <= last <= MAX_DOWNSAMPLING:
        raise ConfigError(
            f"latent_resolution = {text!r}: need 0 <= first <= last <= {MAX_DOWNSAMPLING}"
        )
    return first, last


def architecture_for(decoder: DecoderSettings, height: int, width: int) -> Architecture:
    """Validate the decoder settings for an image of ``height`` x ``width``."""
    for key in ("hyperlatent_resolution", "ifce_resolution"):
        value = str(getattr(decoder, key))
        if value != "no":
            raise ConfigError(
                f"{key} = {value}: not supported yet (hyperlatents and IFCE are not "
                f"implemented); set {key} = no"
            )
    n_contexts, n_hidden, arm_stabiliser = parse_arm(str(decoder.arm))
    layers, synthesis_stabiliser = parse_synthesis_layers(str(decoder.layers_synthesis))
    latent_resolution = parse_latent_resolution(str(decoder.latent_resolution), height * width)
    ups, preconcat = int(decoder.ups_k_size), int(decoder.ups_preconcat_k_size)
    if ups < 4 or ups % 2 or ups > MAX_UPS_KERNEL:
        raise ConfigError(f"ups_k_size = {ups}: must be even, in 4..{MAX_UPS_KERNEL}")
    if preconcat < 1 or preconcat % 2 == 0 or preconcat > MAX_UPS_KERNEL:
        raise ConfigError(f"ups_preconcat_k_size = {preconcat}: must be odd, in 1..{MAX_UPS_KERNEL}")
    return Architecture(
        height=height,
        width=width,
        latent_resolution=latent_resolution,
        n_contexts=n_contexts,
        n_hidden_arm=n_hidden,
        arm_stabiliser=arm_stabiliser,
        synthesis_layers=layers,
        synthesis_stabiliser=synthesis_stabiliser,
        ups_kernel_size=ups,
        ups_preconcat_kernel_size=preconcat,
    )
