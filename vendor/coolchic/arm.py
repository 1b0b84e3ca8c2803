# SPDX-License-Identifier: BSD-3-Clause
"""Auto-regressive module (ARM): context -> Laplace (mu, scale) -> rate.

The MLP keeps the context size ``N`` as its width: ``hidden`` residual linear
layers (``y = x + Wx + b``, zero-initialised so they start as identity), each
followed by a ReLU, then a linear layer to two outputs (mu, raw log-scale).
An optional linear "stabiliser" maps the context straight to the two outputs
and is added to the trunk. ``scale = exp(clamp(raw - 4, -5, 5))``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coolchic.native.arm import arm_mlp, supported

LOG_SCALE_SHIFT = -4.0
LOG_SCALE_MIN = -5.0
LOG_SCALE_MAX = 5.0
#: As in Cool-chic, no latent costs more than 16 bits in the rate the encoder trains with:
#: probabilities are floored at 2^-16 (``--rate_floor_bits`` changes it).
RATE_FLOOR_BITS = 16
MIN_PROBABILITY = 2.0**-RATE_FLOOR_BITS
#: The range coder's own floor: constriction's quantized Laplace has 24-bit probabilities.
CODER_FLOOR_BITS = 24


class ArmLinear(nn.Module):
    """``y = Wx + b (+ x)``; residual layers start at zero, others at N(0, 1/out^4)."""

    def __init__(self, in_features: int, out_features: int, residual: bool = False) -> None:
        super().__init__()
        if residual and in_features != out_features:
            raise ValueError("a residual ARM layer needs as many outputs as inputs")
        self.residual = residual
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.bias.zero_()
            if self.residual:
                self.weight.zero_()
            else:
                self.weight.normal_().div_(self.weight.shape[0] ** 2)

    def forward(self, x: Tensor) -> Tensor:
        y = F.linear(x, self.weight, self.bias)
        return y + x if self.residual else y


class Arm(nn.Module):
    """MLP from ``[B, N]`` contexts to ``[B, 2]`` raw (mu, log-scale)."""

    def __init__(self, n_contexts: int, n_hidden: int, stabiliser: bool) -> None:
        super().__init__()
        self.n_contexts = n_contexts
        self.n_hidden = n_hidden
        layers: list[nn.Module] = []
        for _ in range(n_hidden):
            layers += [ArmLinear(n_contexts, n_contexts, residual=True), nn.ReLU()]
        layers.append(ArmLinear(n_contexts, 2))
        self.mlp = nn.Sequential(*layers)
        self.stabiliser = ArmLinear(n_contexts, 2) if stabiliser else None
        # Whether training on the CPU runs the MLP with the C kernel (coolchic.native.arm);
        # the encoder sets it from --cpu_kernels.
        self.native = False

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, ArmLinear):
                module.reset_parameters()

    def uses_native(self, context: Tensor) -> bool:
        """Whether this call runs the C kernel: asked for, and a training step on the CPU."""
        return self.native and torch.is_grad_enabled() and supported(context)

    def forward(self, context: Tensor, trunk: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """``trunk`` stands in for ``self.mlp`` (a :class:`coolchic.trunk.TrunkCache` of it)."""
        if trunk is None and self.uses_native(context):
            layers = [m for m in self.mlp if isinstance(m, ArmLinear)]
            stabiliser = self.stabiliser
            return arm_mlp(context, [(m.weight, m.bias) for m in layers[:-1]],
                           (layers[-1].weight, layers[-1].bias),
                           (stabiliser.weight, stabiliser.bias) if stabiliser else None)
        out = (self.mlp if trunk is None else trunk)(context)
        if self.stabiliser is not None:
            out = out + self.stabiliser(context)
        return out


def mu_and_scale(raw: Tensor) -> tuple[Tensor, Tensor]:
    """Split the ARM output into the Laplace mean and scale."""
    log_scale = torch.clamp(raw[:, 1] + LOG_SCALE_SHIFT, LOG_SCALE_MIN, LOG_SCALE_MAX)
    return raw[:, 0], torch.exp(log_scale)


def laplace_cdf(x: Tensor, mu: Tensor, scale: Tensor) -> Tensor:
    centred = x - mu
    return 0.5 - 0.5 * torch.sign(centred) * torch.expm1(-centred.abs() / scale)


def laplace_rate_bits(x: Tensor, mu: Tensor, scale: Tensor,
                      min_probability: float = MIN_PROBABILITY) -> Tensor:
    """Bits to code each integer of ``x`` with a Laplace(mu, scale) over unit bins.

    A value costs at most ``-log2(min_probability)`` bits.
    """
    probability = laplace_cdf(x + 0.5, mu, scale) - laplace_cdf(x - 0.5, mu, scale)
    return -torch.log2(torch.clamp_min(probability, min_probability))


def arm_macs_per_latent(n_contexts: int, n_hidden: int, stabiliser: bool) -> int:
    """Multiply-accumulates of one ARM evaluation, counted from the layer sizes."""
    macs = n_hidden * n_contexts * n_contexts + 2 * n_contexts
    return macs + (2 * n_contexts if stabiliser else 0)


__all__ = [
    "Arm",
    "ArmLinear",
    "arm_macs_per_latent",
    "laplace_cdf",
    "laplace_rate_bits",
    "mu_and_scale",
]
