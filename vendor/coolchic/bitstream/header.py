# SPDX-License-Identifier: BSD-3-Clause
"""The ``.cool`` header: everything needed to rebuild the decoder.

Layout of version 4 (little endian)::

    magic "COOL", version u8
    height u16, width u16, bit depth u8
    latent_first u8, latent_last u8
    arm contexts u8, arm hidden layers u8, flags u8 (1: ARM stabiliser, 2: synthesis
        stabiliser, 4: output transform, 8: hyperlatents, 16: IFCE, 32: the never-trained
        parameters are sent, as they differ from their start)
    ups kernel u8, pre-concatenation kernel u8
    if hyperlatents: hyperlatent_first u8, hyperlatent_last u8
    if IFCE: ifce_first u8, ifce_last u8, IFCE features u8
    synthesis layers u8, then per layer: features (varint), kernel * 4 + kind u8
        (kind 1: residual, 2: relu)
    provider name (u8 length + ASCII; empty for the built-in spatial provider), fields u8,
        then per field: name (u8 length + ASCII), value (varint)
    parameter codes, bit-packed most significant bit first and zero-padded to a byte: per
        network (arm, ifce if IFCE, upsampling, synthesis), per set (weight, bias): minus the
        step exponent (5 bits), index of the set's Laplace scale (6 bits)
    coded bytes (varint)

then one range-coded section (32-bit words): every set's integers in the order
above (:mod:`coolchic.paramcode`), then the latents (:mod:`coolchic.bitstream.latents`).

Varints are LEB128: 7 bits per byte, low bits first, high bit set on all but
the last byte, at most 5 bytes.

The sections follow in that order; their sizes must add up to the file size.
Every field is checked against documented bounds before anything is allocated.

The magic names the format of this host, whatever the context provider.
Version 4 (written since) codes the networks' integers with the range coder instead of
exp-Golomb codes, and leaves out what the decoder knows (:mod:`coolchic.paramcode`):
the same models of 256x256 Kodak crops take 2.2% fewer bytes on average
(`benchmarks/results/nn-coding-cpu`). Versions 1 to 3 are read.
Version 3 had, per set, the exp-Golomb order (4 bits) instead of the scale; then network
bytes (varint), latent bytes (varint), the network section (every set's exp-Golomb codes
one after the other, zero-padded to a byte) and the latent section. It packed what
versions 1 and 2 spelt out byte by byte: the header of a Cool-chic 5 hop decoder went from
76 to 47 bytes, and the network section, one bit stream, padded once instead of once per
set. Versions 1 and 2 are read: version 1 (magic
"COOL" or, written before the magic named the format, "MRCC") has flags 1 and 2 only;
both write synthesis layers as features u16, kernel u8, kind u8, the provider's name in
full, and per network and set: step exponent i8, order u8, the set's bytes (varint), each
set byte-aligned in its own section; then latent bytes (varint).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from coolchic.architecture import (
    MAX_ARM_HIDDEN_LAYERS,
    MAX_DOWNSAMPLING,
    MAX_IFCE_FEATURES,
    MAX_UPS_KERNEL,
    Architecture,
    leaves_a_gap,
)
from coolchic.context import MAX_CONTEXTS
from coolchic.errors import BitstreamError
from coolchic.expgolomb import MAX_ORDER, BitReader, BitWriter
from coolchic.hooks import MAX_HEADER_FIELDS, NAME_PATTERN
from coolchic.imageio import MAX_PIXELS
from coolchic.nnquant import SEARCH_ORDER, STEP_EXPONENTS, ParameterCode
from coolchic.paramcode import N_SCALES, SCALE_BITS
from coolchic.spatial import SpatialProvider
from coolchic.synthesis import MAX_SYNTHESIS_FEATURES, MAX_SYNTHESIS_KERNEL, LayerSpec

MAGIC = b"COOL"
#: The magic of version-1 files written before the magic named the format.
EARLIER_MAGIC = b"MRCC"
VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
NETWORK_ORDER = ("arm", "ifce", "upsampling", "synthesis")
PARAMETER_SETS = ("weight", "bias")
MAX_SYNTHESIS_LAYERS = 16
LATENTS_PER_BIT = 1024
FREE_LATENTS = 65536
assert set(NETWORK_ORDER) == set(SEARCH_ORDER)
#: The provider a version-3 file names with the empty string.
DEFAULT_PROVIDER = SpatialProvider.name
#: Bits of minus a step exponent and of an exp-Golomb order in the parameter codes.
EXPONENT_BITS, ORDER_BITS = 5, 4
assert N_SCALES == 2**SCALE_BITS
assert all(-low < 2**EXPONENT_BITS for sets in STEP_EXPONENTS.values() for low, _ in sets.values())
assert MAX_ORDER < 2**ORDER_BITS
assert MAX_CONTEXTS + MAX_IFCE_FEATURES < 256


FLAG_ARM_STABILISER = 1
FLAG_SYNTHESIS_STABILISER = 2
FLAG_OUTPUT_TRANSFORM = 4
FLAG_HYPERLATENTS = 8
FLAG_IFCE = 16
FLAG_FIXED_SENT = 32


def network_order(arch: Architecture) -> tuple[str, ...]:
    """The networks a file of this architecture carries, in file order."""
    return tuple(n for n in NETWORK_ORDER if n != "ifce" or arch.n_ifce_features)


@dataclass(frozen=True)
class Header:
    arch: Architecture
    provider_name: str
    provider_fields: dict[str, int]
    codes: dict[str, dict[str, ParameterCode]]
    network_bytes: int  # the exp-Golomb network section (versions 1 to 3; 0 in version 4)
    latent_bytes: int  # the range-coded section (in version 4 it holds the networks too)
    bit_depth: int = 8
    #: Versions 1 and 2 only: the bytes of each set, coded byte-aligned one after the other.
    set_bytes: dict[str, dict[str, int]] | None = None
    version: int = VERSION
    #: Whether the parameters that are never trained are in the file (always before version 4;
    #: in version 4 only when they differ from the values the decoder starts them at).
    fixed_sent: bool = False


def pack_header(header: Header) -> bytes:
    """The header as the current version writes it (whatever version ``header`` was read from:
    its ``set_bytes`` and ``network_bytes`` are not written)."""
    arch = header.arch
    out = bytearray(MAGIC)
    flags = ((FLAG_ARM_STABILISER if arch.arm_stabiliser else 0)
             | (FLAG_SYNTHESIS_STABILISER if arch.synthesis_stabiliser else 0)
             | (FLAG_OUTPUT_TRANSFORM if arch.output_transform else 0)
             | (FLAG_HYPERLATENTS if arch.hyperlatent_resolution else 0)
             | (FLAG_IFCE if arch.n_ifce_features else 0)
             | (FLAG_FIXED_SENT if header.fixed_sent else 0))
    out += struct.pack(
        "<BHHBBBBBBBB",
        VERSION, arch.height, arch.width, header.bit_depth, *arch.latent_resolution,
        arch.n_contexts, arch.n_hidden_arm, flags, arch.ups_kernel_size,
        arch.ups_preconcat_kernel_size,
    )
    if arch.hyperlatent_resolution:
        out += struct.pack("<BB", *arch.hyperlatent_resolution)
    if arch.n_ifce_features:
        out += struct.pack("<BBB", *arch.ifce_resolution, arch.n_ifce_features)
    out += struct.pack("<B", len(arch.synthesis_layers))
    for layer in arch.synthesis_layers:
        kind = (1 if layer.residual else 0) | (2 if layer.relu else 0)
        out += _pack_varint(layer.out_features) + struct.pack("<B", 4 * layer.kernel_size + kind)
    name = "" if header.provider_name == DEFAULT_PROVIDER else header.provider_name
    out += _pack_name(name)
    out += struct.pack("<B", len(header.provider_fields))
    for key, value in sorted(header.provider_fields.items()):
        out += _pack_name(key) + _pack_varint(value)
    writer = BitWriter()
    for network in network_order(arch):
        for kind in PARAMETER_SETS:
            code = header.codes[network][kind]
            writer.write(-code.step_exponent, EXPONENT_BITS)
            writer.write(code.scale, SCALE_BITS)
    out += writer.to_bytes()
    out += _pack_varint(header.latent_bytes)
    return bytes(out)


def _pack_varint(value: int) -> bytes:
    if not 0 <= value < 2**32:
        raise ValueError(f"{value} does not fit a header varint")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _pack_name(name: str) -> bytes:
    encoded = name.encode("ascii")
    return struct.pack("<B", len(encoded)) + encoded


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise BitstreamError(f"truncated header: {len(self.data)} bytes in the file")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def varint(self, what: str) -> int:
        value = 0
        for index in range(5):
            (byte,) = self.take("<B")
            value |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if value >= 2**32:
                    break
                return value
        raise BitstreamError(f"invalid {what} in the header (over-long number)")

    def name(self, what: str, allow_empty: bool = False) -> str:
        (length,) = self.take("<B")
        if allow_empty and not length:
            return ""
        (raw,) = self.take(f"<{length}s")
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            text = ""
        if not NAME_PATTERN.match(text):
            raise BitstreamError(f"invalid {what} {raw!r} in the header")
        return text


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise BitstreamError(message)


def unpack_header(data: bytes) -> tuple[Header, int]:
    """Parse and validate a header; return it and its size in bytes."""
    reader = _Reader(data)
    (magic,) = reader.take("<4s")
    _check(magic in (MAGIC, EARLIER_MAGIC), "not a .cool bitstream (wrong magic bytes)")
    (version,) = reader.take("<B")
    _check(version in READABLE_VERSIONS and (version == 1 or magic == MAGIC),
           f"unsupported bitstream version {version} (this decoder reads 1 to {VERSION})")
    (height, width, bit_depth, first, last, n_contexts, n_hidden, flags, ups, preconcat) = (
        reader.take("<HHBBBBBBBB")
    )
    _check(height >= 1 and width >= 1 and height * width <= MAX_PIXELS,
           f"image size {width}x{height} is out of bounds (at most {MAX_PIXELS} pixels)")
    _check(bit_depth == 8, f"bit depth {bit_depth} is not supported (only 8)")
    _check(first <= last <= MAX_DOWNSAMPLING, f"latent resolution {first}-{last} is out of bounds")
    _check(1 <= n_contexts <= MAX_CONTEXTS, f"ARM context size {n_contexts} is out of bounds")
    _check(n_hidden <= MAX_ARM_HIDDEN_LAYERS, f"{n_hidden} ARM hidden layers is out of bounds")
    _check(flags < {1: 4, 2: 32, 3: 32}.get(version, 64), f"unknown flags {flags:#x} in the header")
    _check(4 <= ups <= MAX_UPS_KERNEL and ups % 2 == 0, f"upsampling kernel {ups} is invalid")
    _check(1 <= preconcat <= MAX_UPS_KERNEL and preconcat % 2 == 1,
           f"pre-concatenation kernel {preconcat} is invalid")
    hyperlatent_resolution = ifce_resolution = None
    n_ifce = 0
    if flags & FLAG_HYPERLATENTS:
        hyper_first, hyper_last = reader.take("<BB")
        _check(hyper_first <= hyper_last <= MAX_DOWNSAMPLING,
               f"hyperlatent resolution {hyper_first}-{hyper_last} is out of bounds")
        hyperlatent_resolution = (hyper_first, hyper_last)
    if flags & FLAG_IFCE:
        ifce_first, ifce_last, n_ifce = reader.take("<BBB")
        _check(ifce_first <= ifce_last <= MAX_DOWNSAMPLING and 1 <= n_ifce <= MAX_IFCE_FEATURES,
               f"IFCE resolution {ifce_first}-{ifce_last} with {n_ifce} features is out of bounds")
        ifce_resolution = (ifce_first, ifce_last)
        _check(not leaves_a_gap((first, last), hyperlatent_resolution),
               f"latent resolution {first}-{last} and hyperlatent resolution "
               f"{hyperlatent_resolution[0]}-{hyperlatent_resolution[1]} leave a gap IFCE "
               "cannot cross")
    (n_layers,) = reader.take("<B")
    _check(1 <= n_layers <= MAX_SYNTHESIS_LAYERS, f"{n_layers} synthesis layers is out of bounds")
    layers = []
    in_features = last - first + 1
    for index in range(n_layers):
        if version >= 3:
            features = reader.varint("synthesis layer features")
            (packed,) = reader.take("<B")
            kernel, kind = packed >> 2, packed & 3
        else:
            features, kernel, kind = reader.take("<HBB")
        _check(1 <= features <= MAX_SYNTHESIS_FEATURES and kind < 4
               and kernel % 2 == 1 and kernel <= MAX_SYNTHESIS_KERNEL,
               f"synthesis layer {index} ({features}, {kernel}, {kind}) is invalid")
        _check(not (kind & 1) or features == in_features,
               f"synthesis layer {index} is residual with {in_features} -> {features} features")
        layers.append(LayerSpec(features, kernel, bool(kind & 1), bool(kind & 2)))
        in_features = features
    _check(layers[-1].out_features == 3, "the synthesis does not output 3 channels")
    arch = Architecture(
        height=height, width=width, latent_resolution=(first, last), n_contexts=n_contexts,
        n_hidden_arm=n_hidden, arm_stabiliser=bool(flags & FLAG_ARM_STABILISER),
        synthesis_layers=tuple(layers),
        synthesis_stabiliser=bool(flags & FLAG_SYNTHESIS_STABILISER), ups_kernel_size=ups,
        ups_preconcat_kernel_size=preconcat, hyperlatent_resolution=hyperlatent_resolution,
        ifce_resolution=ifce_resolution, n_ifce_features=n_ifce,
        output_transform=bool(flags & FLAG_OUTPUT_TRANSFORM),
    )
    provider_name = reader.name("context provider name", allow_empty=version >= 3)
    provider_name = provider_name or DEFAULT_PROVIDER
    (n_fields,) = reader.take("<B")
    _check(n_fields <= MAX_HEADER_FIELDS, f"{n_fields} provider fields is out of bounds")
    fields = {}
    for _ in range(n_fields):
        key = reader.name("provider field name")
        fields[key] = reader.varint("provider field value")
    if version >= 4:
        codes, set_bytes = _read_packed_codes(reader, arch, SCALE_BITS), None
        network_bytes = 0
    elif version == 3:
        codes, set_bytes = _read_packed_codes(reader, arch, ORDER_BITS), None
        network_bytes = reader.varint("network section size")
    else:
        codes, set_bytes = _read_codes_per_set(reader, arch)
        network_bytes = sum(sum(sets.values()) for sets in set_bytes.values())
    latent_bytes = reader.varint("latent section size")
    _check(latent_bytes % 4 == 0, f"latent section of {latent_bytes} bytes is not 32-bit aligned")
    _check(reader.pos + network_bytes + latent_bytes == len(data),
           f"header announces {reader.pos + network_bytes + latent_bytes} bytes but the file "
           f"has {len(data)}")
    n_latents = arch.n_latents
    # Even the flattest image costs about 0.01 bit per latent: a file claiming far
    # more latents than its bytes can carry is corrupt (and would be slow to decode).
    _check(n_latents <= LATENTS_PER_BIT * 8 * latent_bytes + FREE_LATENTS,
           f"{n_latents} latents cannot be coded in {latent_bytes} bytes")
    fixed_sent = version < 4 or bool(flags & FLAG_FIXED_SENT)
    header = Header(arch, provider_name, fields, codes, network_bytes, latent_bytes, bit_depth,
                    set_bytes, version, fixed_sent)
    return header, reader.pos


def _checked_code(network: str, kind: str, exponent: int, order: int,
                  scale: int = 0) -> ParameterCode:
    low, high = STEP_EXPONENTS[network][kind]
    _check(low <= exponent <= high and order <= MAX_ORDER,
           f"{network} {kind} step 2^{exponent} or code order {order} is out of bounds")
    return ParameterCode(exponent, order, 0, scale)  # bits: known once the section is read


def _read_packed_codes(reader: _Reader, arch: Architecture,
                       code_bits: int) -> dict[str, dict[str, ParameterCode]]:
    """Versions 3 (exp-Golomb orders, ``code_bits`` 4) and 4 (Laplace scales, 6 bits)."""
    networks = network_order(arch)
    n_bits = len(networks) * len(PARAMETER_SETS) * (EXPONENT_BITS + code_bits)
    (raw,) = reader.take(f"<{(n_bits + 7) // 8}s")
    bits = BitReader(raw)
    codes: dict[str, dict[str, ParameterCode]] = {}
    for network in networks:
        codes[network] = {}
        for kind in PARAMETER_SETS:
            exponent = -bits.read(EXPONENT_BITS)
            code = bits.read(code_bits)  # every 6-bit value is a scale index
            codes[network][kind] = (_checked_code(network, kind, exponent, 0, code)
                                    if code_bits == SCALE_BITS
                                    else _checked_code(network, kind, exponent, code))
    return codes


def _read_codes_per_set(reader: _Reader, arch: Architecture):
    """Versions 1 and 2: step exponent, order and byte count of each set."""
    codes: dict[str, dict[str, ParameterCode]] = {}
    set_bytes: dict[str, dict[str, int]] = {}
    for network in network_order(arch):
        codes[network], set_bytes[network] = {}, {}
        for kind in PARAMETER_SETS:
            exponent, order = reader.take("<bB")
            set_bytes[network][kind] = reader.varint("section size")
            codes[network][kind] = _checked_code(network, kind, exponent, order)
    return codes, set_bytes
