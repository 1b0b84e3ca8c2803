# SPDX-License-Identifier: BSD-3-Clause
"""Encoding one image: settings -> trained, quantized model -> bitstream -> results.

The provider is built once, from the settings, before training; every
warm-up candidate shares it.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from coolchic.architecture import architecture_for
from coolchic.bitstream.codec import (
    DecodedImage,
    integer_latents,
    read_bitstream,
    reconstruct,
    write_bitstream,
)
from coolchic.complexity import count_macs
from coolchic.errors import ConfigError
from coolchic.hooks import ContextProvider, ProviderRegistry, build_provider
from coolchic.imageio import psnr_8bit
from coolchic.latent_rdoq import LatentRdoqReport, rdoq_latents
from coolchic.model import CoolChic, encoder_gain_for, provider_setup
from coolchic.native import NativeUnavailable, library
from coolchic.nnquant import ParameterCode, network_bits, quantize_networks
from coolchic.presets import make_preset
from coolchic.rdoq import rdoq_networks
from coolchic.settings import EncoderSettings
from coolchic.training import Evaluation, ProgressCallback, Trainer, evaluate


@dataclass
class EncodedModel:
    model: CoolChic
    codes: dict[str, dict[str, ParameterCode]]
    evaluation: Evaluation
    estimate: Evaluation  # before network quantization, for reference
    encode_time_s: float
    latent_rdoq: LatentRdoqReport | None = None  # None: not run


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device = {name}: CUDA is not available on this machine")
    if name != "cpu" and not name.startswith("cuda"):
        raise ConfigError(f"device = {name}: use auto, cpu or cuda[:N]")
    return torch.device(name)


def native_kernels(choice: str, device: torch.device) -> bool:
    """Whether CPU training uses ``coolchic.native``'s C kernels (``--cpu_kernels``).

    ``native`` fails with a one-line reason where they cannot be built; ``auto``
    then says so once on stderr and trains with torch's operators.
    """
    if choice == "torch" or device.type != "cpu":
        return False
    try:
        library()
    except NativeUnavailable as reason:
        if choice == "native":
            raise
        _say_once(f"mrc-coolchic: {reason}; training with torch's operators instead "
                  "(--cpu_kernels torch says so and stays quiet)")
        return False
    return True


@functools.cache
def _say_once(message: str) -> None:
    print(message, file=sys.stderr)


def candidate_factories(settings: EncoderSettings, registry: ProviderRegistry, height: int,
                        width: int, device: torch.device) -> list[Callable[[], CoolChic]]:
    """What builds the encoder's freshly initialised models for an image of this size.

    One factory per context provider the settings name (several for a context
    competition, ``coolchic.competition``). Each provider is built (and
    checked) once, here; every candidate of that provider shares it.
    """
    arch = architecture_for(settings.decoder, height, width)
    gain = encoder_gain_for(settings.training.lmbda)
    floor = settings.training.rate_floor_bits
    coarse_gradient = settings.training.coarse_gradient
    use_native = native_kernels(settings.cpu_kernels, device)

    def factory(provider: ContextProvider) -> Callable[[], CoolChic]:
        def build() -> CoolChic:
            model = CoolChic(arch, provider, encoder_gain=gain, rate_floor_bits=floor,
                             coarse_gradient=coarse_gradient).to(device)
            model.use_native_kernels(use_native)
            return model

        return build

    return [factory(build_provider(registry, candidate.name, provider_setup(arch),
                                   options=candidate.provider_options(settings.options)))
            for candidate in settings.context_candidates]


def candidate_factory(settings: EncoderSettings, registry: ProviderRegistry, height: int,
                      width: int, device: torch.device) -> Callable[[], CoolChic]:
    """:func:`candidate_factories` for settings that name one provider."""
    factories = candidate_factories(settings, registry, height, width, device)
    if len(factories) != 1:
        raise ConfigError(f"context_provider = {settings.context_provider}: this needs one "
                          "provider, not a competition")
    return factories[0]


def train_model(
    target: Tensor,
    settings: EncoderSettings,
    registry: ProviderRegistry,
    progress: ProgressCallback | None = None,
) -> EncodedModel:
    """Overfit a model to ``target`` ([1, 3, H, W] in [0, 1]) and quantize its networks."""
    device = resolve_device(settings.device)
    training = settings.training
    preset = make_preset(training.preset, training.lmbda, training.n_itr, training.start_lr)
    factories = candidate_factories(settings, registry, *target.shape[-2:], device)
    room = preset.warmup[0].candidates if preset.warmup else 1
    if len(factories) > room:
        raise ConfigError(f"context_provider = {settings.context_provider}: {len(factories)} "
                          f"providers compete, but the warm-up trains {room} candidates")
    torch.manual_seed(training.seed)
    start = time.monotonic()
    target = target.to(device)
    model, _ = Trainer(target, preset, progress, settings.cuda_graph).run(factories)
    estimate = evaluate(model, target, training.lmbda)
    codes = quantize_networks(model, target, training.lmbda)
    if training.network_rdoq:
        generator = torch.Generator().manual_seed(training.seed)
        codes = rdoq_networks(model, target, training.lmbda, codes, generator)
    latent_rdoq = None
    if training.latent_rdoq:
        latent_rdoq = rdoq_latents(model, target, training.lmbda, training.latent_rdoq)
    evaluation = evaluate(model, target, training.lmbda, network_bits(codes))
    return EncodedModel(model, codes, evaluation, estimate, time.monotonic() - start,
                        latent_rdoq)


@dataclass(frozen=True)
class WrittenBitstream:
    data: bytes
    decoded: DecodedImage
    decode_time_s: float
    psnr_db: float


def make_bitstream(
    encoded: EncodedModel, target: Tensor, registry: ProviderRegistry
) -> WrittenBitstream:
    """Write the bitstream and decode it back, checking it against the encoder's image."""
    data = write_bitstream(encoded.model, encoded.codes)
    start = time.monotonic()
    decoded = read_bitstream(data, registry)
    decode_time = time.monotonic() - start
    expected = reconstruct(encoded.model, integer_latents(encoded.model))
    if not torch.equal(decoded.image, expected):
        raise RuntimeError("the decoded bitstream differs from the encoder's reconstruction")
    return WrittenBitstream(data, decoded, decode_time, psnr_8bit(decoded.image, target))


def results_record(
    encoded: EncodedModel,
    settings: EncoderSettings,
    image_name: str,
    bitstream: WrittenBitstream | None = None,
) -> dict[str, Any]:
    """The ``--results`` JSON of one encode."""
    model, evaluation = encoded.model, encoded.evaluation
    complexity = count_macs(model)
    record = {
        "image": image_name,
        "height": model.arch.height,
        "width": model.arch.width,
        "n_pixels": evaluation.n_pixels,
        "lmbda": settings.training.lmbda,
        "n_itr": settings.training.n_itr,
        "preset": settings.training.preset,
        "seed": settings.training.seed,
        "rate_floor_bits": settings.training.rate_floor_bits,
        "coarse_gradient": settings.training.coarse_gradient,
        "network_rdoq": settings.training.network_rdoq,
        "cpu_kernels": "native" if model.native_kernels else "torch",
        "latent_rdoq": (dataclasses.asdict(encoded.latent_rdoq) if encoded.latent_rdoq
                        else None),
        "context_provider": model.provider.name,
        "context_candidates": [c.spec for c in settings.context_candidates],
        "provider_fields": model.provider.header_fields(),
        "architecture": model.arch.describe(),
        "psnr_db": evaluation.psnr_db,
        "rate_bpp": evaluation.rate_bpp,
        "rate_source": "estimate",
        "rate_latent_bpp": evaluation.latent_bpp,
        "rate_nn_bpp": evaluation.network_bits / evaluation.n_pixels,
        "loss": evaluation.loss,
        "encode_time_s": encoded.encode_time_s,
        "mac_per_pixel": complexity.total_mac_per_pixel,
        "mac_per_pixel_by_module": complexity.per_module,
    }
    if bitstream is not None:
        header = bitstream.decoded.header
        coded = header.network_bytes + header.latent_bytes
        # Version 4 codes the networks and the latents in one range-coded section: the
        # networks' share is their ideal bits (what the coder spends on them, give or take a
        # few bits), the latents' the rest.
        nn_bytes = header.network_bytes or round(network_bits(header.codes) / 8)
        n_bytes = len(bitstream.data)
        record |= {
            "psnr_db": bitstream.psnr_db,
            "psnr_db_estimate": evaluation.psnr_db,
            "rate_bpp": bitstream.decoded.rate_bpp,
            "rate_source": "bitstream",
            "rate_bpp_estimate": evaluation.rate_bpp,
            "bitstream_bytes": n_bytes,
            "header_bytes": n_bytes - coded,
            "nn_bytes": nn_bytes,
            "latent_bytes": coded - nn_bytes,
            "decode_time_s": bitstream.decode_time_s,
        }
    else:
        record["rate_bpp_estimate"] = evaluation.rate_bpp
    return record
