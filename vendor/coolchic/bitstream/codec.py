# SPDX-License-Identifier: BSD-3-Clause
"""Writing a trained model as a ``.cool`` file and decoding one.

The decoded image is the float synthesis of the fixed-point upsampling of the
integer latents: the same computation on both sides, on one CPU thread.

The decoder is provider-agnostic: the header names the context provider and
its fields, the registry of installed providers rebuilds it, and the host
gathers the positions the provider names, causal and coarse.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import constriction
import numpy as np
import torch
from torch import Tensor

from coolchic.bitstream.header import (
    network_order,
    PARAMETER_SETS,
    Header,
    pack_header,
    unpack_header,
)
from coolchic.bitstream.fixedpoint import FRAC_BITS, FixedPointUpsampling
from coolchic.bitstream.latents import decode_latents, encode_latents
from coolchic.errors import BitstreamError, CoolChicError
from coolchic.expgolomb import BitReader, read_signed
from coolchic.hooks import ProviderError, ProviderRegistry, build_provider
from coolchic.model import LATENT_BOUND, CoolChic, provider_setup, to_8bit
from coolchic.nnquant import ParameterCode
from coolchic.paramcode import (
    MAX_PARAMETER_INT,
    decode_set,
    encode_set,
    fixed_at_start,
    integers_of,
    parameter_sets,
    predictions,
    residuals_of,
    sent_sets,
    set_cost,
)
from coolchic.threads import single_thread


@dataclass(frozen=True)
class DecodedImage:
    image: Tensor  # [1, 3, H, W] on the 8-bit grid
    header: Header
    n_bytes: int
    model: CoolChic  # the decoder rebuilt from the file, with its decoded latents

    @property
    def rate_bpp(self) -> float:
        return 8.0 * self.n_bytes / (self.header.arch.height * self.header.arch.width)


def on_cpu(model: CoolChic) -> CoolChic:
    """``model`` if it is on the CPU, else a CPU copy: coding never moves the caller's model."""
    if all(p.device.type == "cpu" for p in model.parameters()):
        return model
    return copy.deepcopy(model).cpu()


def integer_latents(model: CoolChic) -> list[Tensor]:
    """The latents the decoder will see, as ``[H_i, W_i]`` int64 grids."""
    with torch.no_grad():
        return [g[0, 0].to(torch.int64).cpu() for g in model.quantized_latents()]


def fixed_dense_state(model: CoolChic, grids: list[Tensor]) -> Tensor:
    """Fixed-point synthesis input ``[1, L, H, W]`` (int64) from the integer coded grids."""
    upsampling = FixedPointUpsampling(model.upsampling)
    latents = model.latent_grids(grids)
    for level in range(len(latents) - 1, -1, -1):
        upsampling.add_grid(level, latents[level])
    return upsampling.dense()


@torch.no_grad()
def synthesize_fixed(model: CoolChic, dense: Tensor) -> Tensor:
    """Float decoder output from the fixed-point dense state (``model`` on the CPU).

    Runs on one CPU thread and in eval mode (restored after): the thread
    count must not change the image.
    """
    was_training = model.training
    model.eval()
    try:
        with single_thread():
            return model.synthesize(dense.to(torch.float32) / 2.0**FRAC_BITS)
    finally:
        model.train(was_training)


def reconstruct(model: CoolChic, grids: list[Tensor]) -> Tensor:
    """The decoded image of integer grids, on the 8-bit grid."""
    model = on_cpu(model)
    return to_8bit(synthesize_fixed(model, fixed_dense_state(model, grids)))


def write_bitstream(model: CoolChic, codes: dict[str, dict[str, ParameterCode]]) -> bytes:
    """Bytes of the ``.cool`` file of a trained model with quantized networks.

    The caller's model stays where it is, in the mode it is in.
    """
    model = on_cpu(model)
    encoder = constriction.stream.queue.RangeEncoder()
    sent: dict[str, dict[str, ParameterCode]] = {}
    fixed = not all(fixed_at_start(module) for module in model.networks().values())
    for network in network_order(model.arch):
        module = model.networks()[network]
        sets = sent_sets(module, fixed)
        sent[network] = {}
        for kind in PARAMETER_SETS:
            exponent = codes[network][kind].step_exponent
            residuals = residuals_of(integers_of([p for _, p in sets[kind]], exponent), network,
                                     module, kind, exponent, fixed)
            if residuals is None:
                raise ValueError(f"{network} {kind} parameters are out of the coded range")
            scale, bits = set_cost(residuals)  # whatever scale the caller had: the best one
            sent[network][kind] = ParameterCode(exponent, 0, bits, scale)
            encode_set(encoder, residuals, scale)
    encode_latents(model, integer_latents(model), encoder)
    coded = encoder.get_compressed().astype("<u4").tobytes()
    header = Header(
        arch=model.arch,
        provider_name=model.provider.name,
        provider_fields=dict(model.provider.header_fields()),
        codes=sent,
        network_bytes=0,
        latent_bytes=len(coded),
        fixed_sent=fixed,
    )
    return pack_header(header) + coded


def read_bitstream(data: bytes, registry: ProviderRegistry, max_batch: int = 0) -> DecodedImage:
    """Decode a ``.cool`` file; malformed input raises :class:`BitstreamError`."""
    header, position = unpack_header(data)
    arch = header.arch
    if header.provider_name not in registry:
        raise BitstreamError(
            f"the bitstream needs context provider {header.provider_name!r}, which is not "
            f"installed (installed: {', '.join(registry.names())})"
        )
    try:
        provider = build_provider(registry, header.provider_name, provider_setup(arch),
                                  fields=header.provider_fields)
        model = CoolChic(arch, provider)
    except (ProviderError, ValueError, CoolChicError) as error:
        raise BitstreamError(f"cannot rebuild the decoder (context provider "
                             f"{header.provider_name!r}): {error}") from None
    model.eval()
    if header.version >= 4:
        decoder = range_decoder(data[position:])
        codes = _decode_networks(model, header, decoder)
        grids, dense = decode_latents(model, decoder, max_batch=max_batch)
    else:
        start = position + header.network_bytes
        codes = _read_networks(model, header, data[position:start])
        grids, dense = decode_latents(model, range_decoder(data[start:]), max_batch=max_batch)
    header = replace(header, codes=codes)
    for grid in grids:
        if grid.numel() and (grid.min() < -LATENT_BOUND or grid.max() >= LATENT_BOUND):
            raise BitstreamError("decoded latent out of range")
    image = to_8bit(synthesize_fixed(model, dense))
    if not torch.isfinite(image).all():
        raise BitstreamError("the decoded networks produce a non-finite image")
    with torch.no_grad():  # the model holds what it decoded: write_bitstream() gives the file back
        for latent, grid in zip(model.latents, grids):
            latent.copy_(grid.view_as(latent).to(latent.dtype) / model.encoder_gain)
    return DecodedImage(image=image, header=header, n_bytes=len(data), model=model)


def _decode_networks(model: CoolChic, header: Header,
                     decoder) -> dict[str, dict[str, ParameterCode]]:
    """Version 4: set the networks' sent parameters from the range decoder; return the codes
    with the sets' ideal bits."""
    codes: dict[str, dict[str, ParameterCode]] = {}
    for network in network_order(header.arch):
        module = model.networks()[network]
        sets = sent_sets(module, header.fixed_sent)
        codes[network] = {}
        for kind in PARAMETER_SETS:
            code = header.codes[network][kind]
            params = [p for _, p in sets[kind]]
            try:
                residuals = decode_set(decoder, sum(p.numel() for p in params), code.scale)
            except Exception as error:  # constriction raises its own types
                raise BitstreamError(f"corrupt {network} {kind} parameters ({error})") from None
            ints = residuals + predictions(network, module, kind, code.step_exponent,
                                           header.fixed_sent)
            if ints.size and np.abs(ints).max() > MAX_PARAMETER_INT:
                raise BitstreamError(f"corrupt {network} {kind} parameters (out of range)")
            codes[network][kind] = replace(code, bits=set_cost(residuals)[1])
            _assign(params, ints, code.step_exponent)
    return codes


def _read_networks(model: CoolChic, header: Header, data: bytes):
    """Versions 1 to 3: set the networks' parameters from their exp-Golomb section; return
    the codes with their bits."""
    codes: dict[str, dict[str, ParameterCode]] = {}
    reader = BitReader(data)
    for network in network_order(header.arch):
        sets = parameter_sets(model.networks()[network])
        codes[network] = {}
        for kind in PARAMETER_SETS:
            code = header.codes[network][kind]
            if header.set_bytes is not None:  # versions 1 and 2: each set byte-aligned
                reader = BitReader(data[:header.set_bytes[network][kind]])
                data = data[header.set_bytes[network][kind]:]
            params = [p for _, p in sets[kind]]
            count = sum(p.numel() for p in params)
            start = reader.bits_read
            try:
                ints = read_signed(reader, count, code.order, MAX_PARAMETER_INT)
            except (EOFError, ValueError) as error:
                raise BitstreamError(f"corrupt {network} {kind} section ({error})") from None
            codes[network][kind] = replace(code, bits=reader.bits_read - start)
            if header.set_bytes is not None:
                _check_padding(reader, f"{network} {kind}")
            _assign(params, ints, code.step_exponent)
    _check_padding(reader, "network")
    return codes


def range_decoder(data: bytes):
    """A range decoder over the 32-bit words of ``data``."""
    try:
        return constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").copy())
    except Exception as error:  # constriction raises its own types
        raise BitstreamError(f"corrupt range-coded section ({error})") from None


def _check_padding(reader: BitReader, what: str) -> None:
    """At the end of a byte-aligned section, fewer than 8 bits of zeros may be left."""
    if reader.bits_left >= 8 or reader.read(reader.bits_left):
        raise BitstreamError(f"corrupt {what} section (it does not end where its size says)")


@torch.no_grad()
def _assign(params: list[torch.nn.Parameter], ints: np.ndarray, exponent: int) -> None:
    values = torch.from_numpy(ints).to(torch.float32) * 2.0**exponent
    start = 0
    for param in params:
        param.copy_(values[start : start + param.numel()].view_as(param))
        start += param.numel()
