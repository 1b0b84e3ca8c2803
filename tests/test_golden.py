# SPDX-License-Identifier: BSD-3-Clause
"""The encoder still writes the golden files byte for byte (see tests/golden.py)."""

from __future__ import annotations

import json

import pytest
import torch

from coolchic.bitstream.codec import read_bitstream, write_bitstream
from coolchic.bitstream.header import MAGIC, VERSION
from coolchic.cli import main
from coolchic.machine import float_identity
from coolchic.plugins import installed_providers

from .golden import (
    CASES,
    FOLDER,
    LEGACY,
    MANIFEST,
    OLD_MAGIC,
    encode_arguments,
    image_path,
)

MANIFEST_DATA = json.loads(MANIFEST.read_text())
same_machine = pytest.mark.skipif(
    float_identity() != MANIFEST_DATA["machine"],
    reason=f"float training may round differently on {float_identity()} than on the golden files' "
    f"{MANIFEST_DATA['machine']}",
)


def _payload(data: bytes) -> bytes:
    """Everything after the 4 magic bytes (which name the format, not the content)."""
    return data[4:]


@same_machine
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_fresh_encode_writes_the_golden_file(name, tmp_path):
    golden = (FOLDER / f"{name}.cool").read_bytes()
    output = tmp_path / "out.cool"
    assert main(encode_arguments(name, image_path(tmp_path), output, tmp_path)) == 0
    assert output.read_bytes() == golden


@pytest.mark.parametrize("name", sorted(CASES))
def test_decoding_then_writing_gives_the_golden_file_back(name):
    """On any machine: the file format and the integer coding path are unchanged."""
    golden = (FOLDER / f"{name}.cool").read_bytes()
    decoded = read_bitstream(golden, installed_providers())
    assert write_bitstream(decoded.model, decoded.header.codes) == golden


def _rewritten_as_current_version(old: bytes):
    """Decode an older file, write it again: the current version, the same decoded image."""
    decoded = read_bitstream(old, installed_providers())
    again = write_bitstream(decoded.model, decoded.header.codes)
    assert again[:5] == MAGIC + bytes([VERSION])
    redecoded = read_bitstream(again, installed_providers())
    assert torch.equal(redecoded.image, decoded.image)
    assert _steps(redecoded.header.codes) == _steps(decoded.header.codes)
    assert write_bitstream(redecoded.model, redecoded.header.codes) == again
    return decoded, again


def _steps(codes):
    return {name: {kind: code.step_exponent for kind, code in sets.items()}
            for name, sets in codes.items()}


@pytest.mark.parametrize("path", sorted(LEGACY.glob("cool-v1-*.cool")), ids=lambda p: p.stem)
def test_version_1_files_are_read_and_written_again_as_the_current_version(path):
    """Files written before version 2 (Cool-chic 5's features)."""
    old = path.read_bytes()
    assert old[:5] == MAGIC + b"\x01"
    decoded, again = _rewritten_as_current_version(old)
    assert decoded.model.arch.hyperlatent_resolution is None
    assert not decoded.model.arch.output_transform
    assert len(again) < len(old)


@pytest.mark.parametrize("path", sorted(LEGACY.glob("cool-v2-*.cool")), ids=lambda p: p.stem)
def test_version_2_files_are_read_and_written_again_as_the_current_version(path):
    """Files written before version 3 packed the header and the network section."""
    old = path.read_bytes()
    assert old[:5] == MAGIC + b"\x02"
    decoded, again = _rewritten_as_current_version(old)
    assert decoded.model.arch.hyperlatent_resolution is not None
    assert decoded.model.arch.n_ifce_features
    # Version 3's packed header alone saved 24 to 32 bytes on these files.
    assert len(again) <= len(old) - 24


@pytest.mark.parametrize("path", sorted(LEGACY.glob("cool-v3-*.cool")), ids=lambda p: p.stem)
def test_version_3_files_are_read_and_written_again_as_the_current_version(path):
    """Files written before version 4 range coded the networks' integers."""
    old = path.read_bytes()
    assert old[:5] == MAGIC + b"\x03"
    decoded, again = _rewritten_as_current_version(old)
    assert decoded.header.version == 3 and decoded.header.fixed_sent
    assert len(again) < len(old)


@pytest.mark.parametrize("path", sorted(LEGACY.glob("mrcc-*.cool")), ids=lambda p: p.stem)
def test_files_from_before_the_magic_named_the_format_are_still_read(path):
    """Files of version 1 written as MRCC (before the magic named the format)."""
    old = path.read_bytes()
    assert old[:4] == OLD_MAGIC
    _rewritten_as_current_version(old)
