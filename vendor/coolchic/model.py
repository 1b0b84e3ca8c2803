# SPDX-License-Identifier: BSD-3-Clause
"""The Cool-chic model: latent pyramid, ARM, upsampling and synthesis.

One forward pass quantizes the coded grids, gathers each latent's context
(the positions its provider names: causal neighbours, and values of the
upsampled coarser grids; then the IFCE features), evaluates the ARM for the
rate, and decodes the image from the latent grids (hyperlatents, when the
architecture has them, are coded and give context but never reach the
synthesis)::

    coded grids -> quantize -> latent grids -> upsampling -> synthesis -> image
                      |                            | coarse states
                      +--> contexts <-- provider's positions, IFCE features
                              |
                             ARM -> Laplace(mu, scale) -> rate (bits)

:meth:`CoolChic.decode` is that composition, written once: training calls it
through ``forward``, the complexity count traces it, and the quantization of
the networks reuses its steps (:meth:`CoolChic.decoder_inputs`,
:meth:`CoolChic.latent_rate`, :meth:`CoolChic.synthesize`) to re-run only
the one that a trial changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coolchic.architecture import Architecture
from coolchic.arm import RATE_FLOOR_BITS, Arm, laplace_rate_bits, mu_and_scale
from coolchic.context import spatial_offsets
from coolchic.hooks import ContextProvider, ProviderSetup, check_provider, gather, gather_coarse
from coolchic.ifce import Ifce
from coolchic.quantizer import NoiseType, QuantizerType, quantize
from coolchic.synthesis import Synthesis
from coolchic.upsampling import Upsampling

#: Latents are coded in [-LATENT_BOUND, LATENT_BOUND - 1].
LATENT_BOUND = 64
#: Modules whose parameters are quantized and sent (``ifce`` only with IFCE).
NETWORKS = ("arm", "ifce", "upsampling", "synthesis")


def encoder_gain_for(lmbda: float) -> float:
    """Scale applied to the latents before rounding; larger at high rates."""
    if lmbda < 2e-4:
        return 24.0
    if lmbda < 5e-4:
        return 20.0
    return 16.0


@dataclass(frozen=True)
class QuantizerSetting:
    """How the latents are quantized in a training forward pass."""

    quantizer_type: QuantizerType
    noise_type: NoiseType
    temperature: Tensor | float  # a device tensor when a CUDA graph replays the step
    noise_parameter: Tensor | float


@dataclass
class ModelOutput:
    image: Tensor  # [1, 3, H, W], not clamped
    rate_bits: Tensor  # [n_latents], one value per latent


@dataclass
class DecoderInputs:
    """What the ARM and the synthesis read, from given latent grids."""

    flat: Tensor  # every coded value, in coded order, [n_latents]
    context: Tensor  # ARM input of every latent, [n_latents, N]
    dense: Tensor  # synthesis input, [1, n_grids, H_0, W_0]
    grids: list[Tensor]  # the coded grids they come from
    coarse_states: list[Tensor | None]  # the upsampling's coarse state of each latent level


def provider_setup(arch: Architecture) -> ProviderSetup:
    return ProviderSetup(n_contexts=arch.n_contexts, grid_shapes=arch.grid_shapes)


class CoolChic(nn.Module):
    def __init__(self, arch: Architecture, provider: ContextProvider, encoder_gain: float = 16.0,
                 rate_floor_bits: int = RATE_FLOOR_BITS, coarse_gradient: bool = True):
        super().__init__()
        check_provider(provider, provider_setup(arch))
        self.arch = arch
        self.provider = provider
        self.encoder_gain = encoder_gain
        #: The most bits the rate estimate charges one latent (training, RDOQ); not sent.
        self.rate_floor_bits = rate_floor_bits
        #: Whether the rate's gradient flows back through the coarse values of the contexts
        #: (into the upsampling and the coarser latents); training only, not sent.
        self.coarse_gradient = coarse_gradient
        # Every coded grid, in coded order (latents and hyperlatents interleaved).
        self.latents = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, h, w)) for h, w in arch.coded_shapes
        )
        self.arm = Arm(arch.arm_width, arch.n_hidden_arm, arch.arm_stabiliser)
        self.ifce = Ifce(arch) if arch.n_ifce_features else None
        self.upsampling = Upsampling(
            arch.n_grids, arch.ups_kernel_size, arch.ups_preconcat_kernel_size
        )
        self.synthesis = Synthesis(arch.n_grids, arch.synthesis_layers, arch.synthesis_stabiliser,
                                   arch.output_transform)
        self.levels = [g.level for g in arch.coded_grids]
        # The provider serves the latent pyramid; hyperlatents keep Cool-chic's spatial context.
        spatial = spatial_offsets(arch.n_contexts)
        self.causal_offsets = [
            list(provider.causal_offsets(j)) if j is not None else list(spatial)
            for j in self.levels
        ]
        self.coarse_positions = [
            list(provider.coarse_positions(j)) if j is not None else [] for j in self.levels
        ]

    # ----- parameters
    def reset_parameters(self) -> None:
        """A fresh random start: zero latents, newly drawn network weights."""
        with torch.no_grad():
            for grid in self.latents:
                grid.zero_()
        for module in self.networks().values():
            module.reset_parameters()

    def use_native_kernels(self, on: bool) -> None:
        """Train the ARM, the upsampling and the synthesis's leading 1x1 layers with the C
        kernels of :mod:`coolchic.native` (CPU training steps only; evaluation, quantization,
        RDOQ and decoding stay torch's)."""
        self.arm.native = on
        self.synthesis.native = on
        for tconv in self.upsampling.tconvs:
            tconv.native = on

    @property
    def native_kernels(self) -> bool:
        return self.synthesis.native

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in NETWORKS if getattr(self, name) is not None}

    def network_parameters(self) -> list[nn.Parameter]:
        """The trained network parameters (the fixed output transform is sent, not trained)."""
        return [p for module in self.networks().values() for p in module.parameters()
                if p.requires_grad]

    def snapshot(self) -> dict[str, Any]:
        """A detached copy of every parameter, to restore with :meth:`restore`."""
        return copy.deepcopy(self.state_dict())

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.load_state_dict(snapshot)

    # ----- forward pieces
    def quantized_latents(self, setting: QuantizerSetting | None = None) -> list[Tensor]:
        """Decoder-side latents; ``setting=None`` rounds and clamps as the decoder does."""
        flat = torch.cat([grid.reshape(-1) for grid in self.latents]) * self.encoder_gain
        if setting is None:
            flat = torch.clamp(torch.round(flat), -LATENT_BOUND, LATENT_BOUND - 1)
        else:
            flat = quantize(
                flat,
                setting.quantizer_type,
                setting.noise_type,
                setting.temperature,
                setting.noise_parameter,
            )
        grids, start = [], 0
        for h, w in self.arch.coded_shapes:
            grids.append(flat[start : start + h * w].view(1, 1, h, w))
            start += h * w
        return grids

    def grid_context(self, grid: int, values: Tensor, coarse_state: Tensor | None) -> Tensor:
        """``[H * W, n_contexts]`` provider context of coded grid ``grid``: causal then coarse."""
        causal = gather(values, [(0, dy, dx) for dy, dx in self.causal_offsets[grid]])
        if not self.coarse_positions[grid]:
            return causal
        return torch.cat([causal, gather_coarse(coarse_state, self.coarse_positions[grid])], dim=1)

    def contexts(self, grids: list[Tensor], coarse_states: list[Tensor | None]) -> Tensor:
        """``[n_latents, arm_width]`` ARM input of every coded value.

        ``coarse_states`` are those of the latent pyramid (indexed by level).
        """
        if not self.coarse_gradient:
            coarse_states = [None if s is None else s.detach() for s in coarse_states]
        parts = [
            self.grid_context(k, grids[k], None if j is None else coarse_states[j])
            for k, j in enumerate(self.levels)
        ]
        if self.ifce is not None:
            parts = [torch.cat([p, f], dim=1) for p, f in zip(parts, self.ifce.features(grids))]
        return torch.cat(parts)

    def latent_grids(self, grids: list[Tensor]) -> list[Tensor]:
        """The coded grids the synthesis sees (hyperlatents left out), finest first."""
        return [grids[k] for k, j in enumerate(self.levels) if j is not None]

    def synthesize(self, dense: Tensor, trunk: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """The image from the dense latent; ``trunk`` stands in for the synthesis's layers."""
        image = self.synthesis(dense, trunk)
        if image.shape[-2:] != (self.arch.height, self.arch.width):
            image = F.interpolate(image, size=(self.arch.height, self.arch.width), mode="bicubic")
        return image

    def latent_rate(self, flat: Tensor, context: Tensor,
                    trunk: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """Bits of each latent under the Laplace the ARM predicts from its context.

        ``trunk`` stands in for the ARM's MLP.
        """
        mu, scale = mu_and_scale(self.arm(context, trunk))
        return laplace_rate_bits(flat, mu, scale, 2.0**-self.rate_floor_bits)

    @property
    def reads_coarse_states(self) -> bool:
        """Whether any ARM context holds values of the upsampling's coarse states."""
        return any(self.coarse_positions)

    def upsample(self, grids: list[Tensor]) -> tuple[Tensor, list[Tensor | None]]:
        """From the coded grids: the synthesis input and the upsampling's coarse states."""
        return self.upsampling(self.latent_grids(grids))

    def decoder_inputs(self, grids: list[Tensor]) -> DecoderInputs:
        """From the coded grids (coded order): everything the ARM and the synthesis read."""
        dense, coarse_states = self.upsample(grids)
        return DecoderInputs(
            flat=torch.cat([grid.reshape(-1) for grid in grids]),
            context=self.contexts(grids, coarse_states),
            dense=dense,
            grids=grids,
            coarse_states=coarse_states,
        )

    def decode(self, grids: list[Tensor]) -> ModelOutput:
        """The decoder's computation on the coded grids: image and rate of every coded value."""
        inputs = self.decoder_inputs(grids)
        return ModelOutput(image=self.synthesize(inputs.dense),
                           rate_bits=self.latent_rate(inputs.flat, inputs.context))

    def forward(self, setting: QuantizerSetting | None = None) -> ModelOutput:
        return self.decode(self.quantized_latents(setting))


def to_8bit(image: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to the 8-bit grid, as a decoded PNG holds it."""
    return torch.round(torch.clamp(image, 0.0, 1.0) * 255.0) / 255.0
