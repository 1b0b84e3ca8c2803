# SPDX-License-Identifier: BSD-3-Clause
"""The ``.cool`` file: header, quantized networks, range-coded latents."""
