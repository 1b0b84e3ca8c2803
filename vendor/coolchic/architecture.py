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
#: Cool-chic 5 stores output_feature_ifce in 5 bits.
MAX_IFCE_FEATURES = 31


@dataclass(frozen=True)
class CodedGrid:
    """One grid of the bitstream."""

    shape: tuple[int, int]
    #: Index in the latent pyramid (``Architecture.grid_shapes``); None for a hyperlatent.
    level: int | None
    #: Input features of this grid's IFCE (0: no IFCE, zero features in the context).
    ifce_inputs: int = 0

    @property
    def hyper(self) -> bool:
        return self.level is None


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
    #: Downsampling range of the hyperlatents (grids the ARM reads but the synthesis
    #: never sees), or None.
    hyperlatent_resolution: tuple[int, int] | None = None
    #: Downsampling range of the grids whose ARM context gets IFCE features, or None.
    ifce_resolution: tuple[int, int] | None = None
    #: IFCE features appended to the ARM context (0 without IFCE).
    n_ifce_features: int = 0
    #: The synthesis ends with a fixed 1x1 convolution (Cool-chic 5's output transform).
    output_transform: bool = False

    @property
    def n_grids(self) -> int:
        """Latent grids: the pyramid the upsampling and the synthesis see."""
        first, last = self.latent_resolution
        return last - first + 1

    @property
    def grid_shapes(self) -> tuple[tuple[int, int], ...]:
        """``(H_i, W_i)`` of each latent grid, finest first."""
        first, last = self.latent_resolution
        return tuple(self._shape(i) for i in range(first, last + 1))

    def _shape(self, downsampling: int) -> tuple[int, int]:
        return math.ceil(self.height / 2**downsampling), math.ceil(self.width / 2**downsampling)

    @property
    def coded_grids(self) -> tuple[CodedGrid, ...]:
        """Every grid the bitstream carries, in Cool-chic 5's order (decoded last to first).

        Finest resolution first; at a resolution that has both, the latent grid
        comes before the hyperlatent grid.
        """
        hyper = self.hyperlatent_resolution
        ranges = [self.latent_resolution] + ([hyper] if hyper else [])
        low = min(r[0] for r in ranges)
        high = max(r[1] for r in ranges)
        grids: list[CodedGrid] = []
        level = 0
        for i in range(low, high + 1):
            if self.latent_resolution[0] <= i <= self.latent_resolution[1]:
                grids.append(CodedGrid(self._shape(i), level))
                level += 1
            if hyper and hyper[0] <= i <= hyper[1]:
                grids.append(CodedGrid(self._shape(i), None))
        n = len(grids)
        return tuple(
            CodedGrid(g.shape, g.level, self._ifce_inputs(index, g.shape, n))
            for index, g in enumerate(grids)
        )

    def _ifce_inputs(self, index: int, shape: tuple[int, int], n_coded: int) -> int:
        """IFCE input features of coded grid ``index``: the grids decoded before it (>= 1)."""
        if self.ifce_resolution is None:
            return 0
        # Cool-chic 5 derives a grid's resolution from its height.
        downsampling = math.ceil(math.log2(self.height / shape[0]))
        first, last = self.ifce_resolution
        return max(n_coded - 1 - index, 1) if first <= downsampling <= last else 0

    @property
    def coded_shapes(self) -> tuple[tuple[int, int], ...]:
        return tuple(g.shape for g in self.coded_grids)

    @property
    def arm_width(self) -> int:
        """ARM input size: the provider's context values, then the IFCE features."""
        return self.n_contexts + self.n_ifce_features

    @property
    def n_latents(self) -> int:
        """Every coded value, hyperlatents included."""
        return sum(h * w for h, w in self.coded_shapes)

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
            "hyperlatent_resolution": _describe_range(self.hyperlatent_resolution),
            "ifce_resolution": _describe_range(self.ifce_resolution),
            "output_feature_ifce": self.n_ifce_features,
        }


def _describe_range(value: tuple[int, int] | None) -> str:
    return "no" if value is None else f"{value[0]}-{value[1]}"


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


def _coarsest_auto(n_pixels: int) -> int:
    """Cool-chic 5's ``auto`` coarsest grid: 2^-6, -7 or -8 depending on the size."""
    return 6 if n_pixels < 1_000_000 else 7 if n_pixels < 3_000_000 else 8


def _parse_range(key: str, text: str, allowed: str) -> tuple[int, int]:
    parts = text.split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise ConfigError(f"{key} = {text!r}: expected {allowed} or <first>-<last>, e.g. 0-6")
    first, last = (int(p) for p in parts)
    if not 0 <= first <= last <= MAX_DOWNSAMPLING:
        raise ConfigError(f"{key} = {text!r}: need 0 <= first <= last <= {MAX_DOWNSAMPLING}")
    return first, last


def parse_latent_resolution(text: str, n_pixels: int) -> tuple[int, int]:
    """``auto`` (2^0 down to 2^-6, -7 or -8 depending on size) or ``first-last``."""
    if text == "auto":
        return 0, _coarsest_auto(n_pixels)
    return _parse_range("latent_resolution", text, "auto")


def parse_hyperlatent_resolution(text: str, n_pixels: int) -> tuple[int, int] | None:
    """``no``, ``auto`` (2^-4 down to the ``auto`` coarsest latent) or ``first-last``."""
    if text == "no":
        return None
    if text == "auto":
        return 4, _coarsest_auto(n_pixels)
    return _parse_range("hyperlatent_resolution", text, "no, auto")


def parse_ifce_resolution(text: str) -> tuple[int, int] | None:
    """``no`` or ``first-last``: the grids whose context gets IFCE features."""
    if text == "no":
        return None
    return _parse_range("ifce_resolution", text, "no")


def leaves_a_gap(latent: tuple[int, int], hyper: tuple[int, int] | None) -> bool:
    """Whether a resolution lies between the latents and the hyperlatents: IFCE brings each
    coded grid to the next one's size by one x2 step, so it cannot cross a gap."""
    return hyper is not None and (hyper[0] > latent[1] + 1 or latent[0] > hyper[1] + 1)


def architecture_for(decoder: DecoderSettings, height: int, width: int) -> Architecture:
    """Validate the decoder settings for an image of ``height`` x ``width``."""
    n_pixels = height * width
    hyperlatent_resolution = parse_hyperlatent_resolution(
        str(decoder.hyperlatent_resolution), n_pixels)
    ifce_resolution = parse_ifce_resolution(str(decoder.ifce_resolution))
    n_ifce = int(decoder.output_feature_ifce)
    if not 0 <= n_ifce <= MAX_IFCE_FEATURES:
        raise ConfigError(f"output_feature_ifce = {n_ifce}: must be in 0..{MAX_IFCE_FEATURES}")
    if ifce_resolution is None:
        n_ifce = 0  # as Cool-chic 5: no IFCE, no IFCE features
    elif n_ifce == 0:
        raise ConfigError(
            f"ifce_resolution = {decoder.ifce_resolution} needs output_feature_ifce >= 1")
    n_contexts, n_hidden, arm_stabiliser = parse_arm(str(decoder.arm))
    layers, synthesis_stabiliser = parse_synthesis_layers(str(decoder.layers_synthesis))
    latent_resolution = parse_latent_resolution(str(decoder.latent_resolution), n_pixels)
    if ifce_resolution is not None and leaves_a_gap(latent_resolution, hyperlatent_resolution):
        raise ConfigError(
            f"hyperlatent_resolution {_describe_range(hyperlatent_resolution)} and "
            f"latent_resolution {_describe_range(latent_resolution)} leave a resolution between "
            f"them, which IFCE (ifce_resolution) cannot cross")
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
        hyperlatent_resolution=hyperlatent_resolution,
        ifce_resolution=ifce_resolution,
        n_ifce_features=n_ifce,
        output_transform=True,
    )
