# SPDX-License-Identifier: BSD-3-Clause
"""A Cool-chic-compatible overfitted image codec with pluggable ARM contexts."""

__version__ = "0.1.0"
