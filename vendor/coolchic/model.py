# SPDX-License-Identifier: BSD-3-Clause
"""The Cool-chic model: latent pyramid, ARM, upsampling and synthesis.

One forward pass quantizes the latents, gathers each latent's context (the
positions its provider names: causal neighbours, and values of the upsampled
coarser grids), evaluates the ARM for the rate, and decodes the image::

    latents -> quantize -> upsampling -> synthesis -> image
                  |            | coarse states
                  +--> contexts <-- provider's positions
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
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coolchic.architecture import Architecture
from coolchic.arm import Arm, laplace_rate_bits, mu_and_scale
from coolchic.hooks import ContextProvider, ProviderSetup, check_provider, gather, gather_coarse
from coolchic.quantizer import NoiseType, QuantizerType, quantize
from coolchic.synthesis import Synthesis
from coolchic.upsampling import Upsampling

#: Latents are coded in [-LATENT_BOUND, LATENT_BOUND - 1].
LATENT_BOUND = 64
#: Modules whose parameters are quantized and sent.
NETWORKS = ("arm", "upsampling", "synthesis")


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
    temperature: float
    noise_parameter: float


@dataclass
class ModelOutput:
    image: Tensor  # [1, 3, H, W], not clamped
    rate_bits: Tensor  # [n_latents], one value per latent


@dataclass
class DecoderInputs:
    """What the ARM and the synthesis read, from given latent grids."""

    flat: Tensor  # every latent, finest grid first, [n_latents]
    context: Tensor  # ARM input of every latent, [n_latents, N]
    dense: Tensor  # synthesis input, [1, n_grids, H_0, W_0]


def provider_setup(arch: Architecture) -> ProviderSetup:
    return ProviderSetup(n_contexts=arch.n_contexts, grid_shapes=arch.grid_shapes)


class CoolChic(nn.Module):
    def __init__(self, arch: Architecture, provider: ContextProvider, encoder_gain: float = 16.0):
        super().__init__()
        check_provider(provider, provider_setup(arch))
        self.arch = arch
        self.provider = provider
        self.encoder_gain = encoder_gain
        self.latents = nn.ParameterList(
            nn.Parameter(torch.zeros(1, 1, h, w)) for h, w in arch.grid_shapes
        )
        self.arm = Arm(arch.n_contexts, arch.n_hidden_arm, arch.arm_stabiliser)
        self.upsampling = Upsampling(
            arch.n_grids, arch.ups_kernel_size, arch.ups_preconcat_kernel_size
        )
        self.synthesis = Synthesis(arch.n_grids, arch.synthesis_layers, arch.synthesis_stabiliser)
        self.causal_offsets = [list(provider.causal_offsets(i)) for i in range(arch.n_grids)]
        self.coarse_positions = [list(provider.coarse_positions(i)) for i in range(arch.n_grids)]

    # ----- parameters
    def reset_parameters(self) -> None:
        """A fresh random start: zero latents, newly drawn network weights."""
        with torch.no_grad():
            for grid in self.latents:
                grid.zero_()
        for module in self.networks().values():
            module.reset_parameters()

    def networks(self) -> dict[str, nn.Module]:
        return {name: getattr(self, name) for name in NETWORKS}

    def network_parameters(self) -> list[nn.Parameter]:
        return [p for module in self.networks().values() for p in module.parameters()]

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
        for h, w in self.arch.grid_shapes:
            grids.append(flat[start : start + h * w].view(1, 1, h, w))
            start += h * w
        return grids

    def grid_context(self, grid: int, values: Tensor, coarse_state: Tensor | None) -> Tensor:
        """``[H_i * W_i, N]`` ARM input of grid ``grid``: causal then coarse values."""
        causal = gather(values, [(0, dy, dx) for dy, dx in self.causal_offsets[grid]])
        if not self.coarse_positions[grid]:
            return causal
        return torch.cat([causal, gather_coarse(coarse_state, self.coarse_positions[grid])], dim=1)

    def contexts(self, grids: list[Tensor], coarse_states: list[Tensor | None]) -> Tensor:
        return torch.cat(
            [self.grid_context(i, grids[i], coarse_states[i]) for i in range(len(grids))]
        )

    def synthesize(self, dense: Tensor) -> Tensor:
        image = self.synthesis(dense)
        if image.shape[-2:] != (self.arch.height, self.arch.width):
            image = F.interpolate(image, size=(self.arch.height, self.arch.width), mode="bicubic")
        return image

    def latent_rate(self, flat: Tensor, context: Tensor) -> Tensor:
        """Bits of each latent under the Laplace the ARM predicts from its context."""
        mu, scale = mu_and_scale(self.arm(context))
        return laplace_rate_bits(flat, mu, scale)

    def decoder_inputs(self, grids: list[Tensor]) -> DecoderInputs:
        dense, coarse_states = self.upsampling(grids)
        return DecoderInputs(
            flat=torch.cat([grid.reshape(-1) for grid in grids]),
            context=self.contexts(grids, coarse_states),
            dense=dense,
        )

    def decode(self, grids: list[Tensor]) -> ModelOutput:
        """The decoder's computation on latent grids: image and rate of every latent."""
        inputs = self.decoder_inputs(grids)
        return ModelOutput(image=self.synthesize(inputs.dense),
                           rate_bits=self.latent_rate(inputs.flat, inputs.context))

    def forward(self, setting: QuantizerSetting | None = None) -> ModelOutput:
        return self.decode(self.quantized_latents(setting))


def to_8bit(image: Tensor) -> Tensor:
    """Clamp to [0, 1] and round to the 8-bit grid, as a decoded PNG holds it."""
    return torch.round(torch.clamp(image, 0.0, 1.0) * 255.0) / 255.0
