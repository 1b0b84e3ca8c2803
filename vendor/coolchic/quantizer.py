# SPDX-License-Identifier: BSD-3-Clause
"""Differentiable proxies of rounding used while training the latents.

Modes (``quantizer_type``):
  ``softround``  sr(sr(x, T) + n, T) with noise n: softround, noise, softround
                 again (C3, Kim et al. 2024; Agustsson & Theis 2020);
  ``ste``        round(x) forward, softround's gradient backward;
  ``hardround``  round(x), what the decoder sees.
Noise (``noise_type``): ``gaussian`` (std = noise parameter), ``kumaraswamy``
(parameter a, mode fixed at 1/2, 1 is uniform) or ``none``.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

NoiseType = Literal["gaussian", "kumaraswamy", "none"]
QuantizerType = Literal["softround", "ste", "hardround"]
NOISE_TYPES = ("gaussian", "kumaraswamy", "none")
QUANTIZER_TYPES = ("softround", "ste", "hardround")


def softround(x: Tensor, temperature: Tensor | float) -> Tensor:
    """Smooth staircase: tends to round(x) as T -> 0 and to x as T grows."""
    base = torch.floor(x)
    centred = x - base - 0.5
    t = torch.as_tensor(temperature, dtype=x.dtype, device=x.device)
    return base + 0.5 + 0.5 * torch.tanh(centred / t) / torch.tanh(0.5 / t)


def kumaraswamy_noise(uniform: Tensor, a: Tensor | float) -> Tensor:
    """Map U(0, 1) samples to Kumaraswamy(a, b) samples centred on 0.

    ``b`` is tied to ``a`` so that the mode stays at 1/2.
    """
    a = torch.as_tensor(a, dtype=uniform.dtype, device=uniform.device)
    b = (2**a * (a - 1) + 1) / a
    return (1 - (1 - uniform) ** (1 / b)) ** (1 / a) - 0.5


def quantize(
    x: Tensor,
    quantizer_type: QuantizerType,
    noise_type: NoiseType = "none",
    temperature: Tensor | float = 0.3,
    noise_parameter: Tensor | float = 0.0,
) -> Tensor:
    """Quantize ``x`` with one of the modes of the module docstring."""
    if quantizer_type == "hardround":
        return torch.round(x)
    if quantizer_type == "ste":
        soft = softround(x, temperature)
        return soft + (torch.round(x) - soft).detach()
    if quantizer_type != "softround":
        raise ValueError(f"unknown quantizer type {quantizer_type!r}")
    if noise_type == "gaussian":
        noise = torch.randn_like(x) * noise_parameter
    elif noise_type == "kumaraswamy":
        noise = kumaraswamy_noise(torch.rand_like(x), noise_parameter)
    elif noise_type == "none":
        noise = torch.zeros_like(x)
    else:
        raise ValueError(f"unknown noise type {noise_type!r}")
    return softround(softround(x, temperature) + noise, temperature)
