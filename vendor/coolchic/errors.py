# SPDX-License-Identifier: BSD-3-Clause
"""Errors a user can cause. The CLI prints them as one line and exits non-zero."""


class CoolChicError(Exception):
    """Base class: bad input, impossible configuration, unreadable file."""


class ConfigError(CoolChicError):
    """A configuration key has a value we cannot use."""


class ImageError(CoolChicError):
    """An input image is missing, unreadable or of an unsupported kind."""


class BitstreamError(CoolChicError):
    """A bitstream is malformed, truncated or of an unsupported version."""


class OutputError(CoolChicError):
    """An output file cannot be written."""
