# SPDX-License-Identifier: BSD-3-Clause
"""Synthesis: a small convolutional network from the dense latent to the image.

Layers are described as in Cool-chic, ``<out>-<kernel>-<linear|residual>-<relu|none>``,
comma-separated, with ``X`` standing for the number of image channels, and an
optional ``/stabiliser`` suffix adding a 1x1 linear branch from the input to the
output. Residual layers compute ``x + conv(x)`` and start at zero; the others
start uniform in +-1/(out^2 sqrt(in k^2)). Padding replicates the borders.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from coolchic.errors import ConfigError
from coolchic.native.pointwise import pointwise_pair, supported


@dataclass(frozen=True)
class LayerSpec:
    out_features: int
    kernel_size: int
    residual: bool
    relu: bool

    def describe(self) -> str:
        kind = "residual" if self.residual else "linear"
        return f"{self.out_features}-{self.kernel_size}-{kind}-{'relu' if self.relu else 'none'}"


MAX_SYNTHESIS_FEATURES = 512
MAX_SYNTHESIS_KERNEL = 15


def parse_synthesis_layers(text: str, n_output: int = 3) -> tuple[tuple[LayerSpec, ...], bool]:
    """``"48-1-linear-relu,X-1-linear-none/stabiliser"`` -> (layers, stabiliser)."""
    stabiliser = text.endswith("/stabiliser")
    body = text[: -len("/stabiliser")] if stabiliser else text
    items = [item.strip() for item in body.split(",") if item.strip()]
    if not items:
        raise ConfigError(
            "layers_synthesis is empty; expected e.g. 48-1-linear-relu,X-1-linear-none"
        )
    layers = []
    for item in items:
        parts = item.split("-")
        if len(parts) != 4:
            raise ConfigError(
                f"layers_synthesis: {item!r} is not <out>-<kernel>-<linear|residual>-<relu|none>"
            )
        out, kernel, kind, activation = parts
        out_features = n_output if out == "X" else _positive_int(out, item, "output features")
        kernel_size = _positive_int(kernel, item, "kernel size")
        if out_features > MAX_SYNTHESIS_FEATURES:
            raise ConfigError(
                f"layers_synthesis: {item!r} has more than {MAX_SYNTHESIS_FEATURES} features"
            )
        if kernel_size % 2 == 0 or kernel_size > MAX_SYNTHESIS_KERNEL:
            raise ConfigError(
                f"layers_synthesis: {item!r} needs an odd kernel size <= {MAX_SYNTHESIS_KERNEL}"
            )
        if kind not in ("linear", "residual"):
            raise ConfigError(f"layers_synthesis: {item!r} type must be linear or residual")
        if activation not in ("relu", "none"):
            raise ConfigError(f"layers_synthesis: {item!r} non-linearity must be relu or none")
        layers.append(LayerSpec(out_features, kernel_size, kind == "residual", activation == "relu"))
    if layers[-1].out_features != n_output:
        raise ConfigError(
            f"layers_synthesis: the last layer must output {n_output} channels (use X), "
            f"not {layers[-1].out_features}"
        )
    return tuple(layers), stabiliser


def _positive_int(text: str, item: str, what: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise ConfigError(f"layers_synthesis: {item!r} has {what} {text!r}, not a positive integer")
    return int(text)


class SynthesisConv(nn.Module):
    def __init__(self, in_features: int, out_features: int, kernel_size: int, residual: bool):
        super().__init__()
        if residual and in_features != out_features:
            raise ConfigError(
                f"a residual synthesis layer needs as many outputs as inputs ({in_features}), "
                f"not {out_features}"
            )
        self.residual = residual
        self.pad = kernel_size // 2
        self.weight = nn.Parameter(torch.empty(out_features, in_features, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.bias.zero_()
            if self.residual:
                self.weight.zero_()
                return
            out_features, in_features, kh, kw = self.weight.shape
            bound = 1.0 / (out_features**2 * math.sqrt(in_features * kh * kw))
            self.weight.uniform_(-bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        padded = F.pad(x, (self.pad,) * 4, mode="replicate") if self.pad else x
        y = F.conv2d(padded, self.weight, self.bias)
        return y + x if self.residual else y


class Synthesis(nn.Module):
    def __init__(self, in_features: int, layers: tuple[LayerSpec, ...], stabiliser: bool,
                 output_transform: bool = False):
        super().__init__()
        modules: list[nn.Module] = []
        features = in_features
        for spec in layers:
            modules.append(SynthesisConv(features, spec.out_features, spec.kernel_size, spec.residual))
            modules.append(nn.ReLU() if spec.relu else nn.Identity())
            features = spec.out_features
        self.layers = nn.Sequential(*modules)
        self.stabiliser = SynthesisConv(in_features, features, 1, False) if stabiliser else None
        # Whether training on the CPU runs the leading 1x1 / ReLU / 1x1 layers with the C
        # kernel (coolchic.native.pointwise); the encoder sets it from --cpu_kernels.
        self.native = False
        self._pair = (len(layers) >= 2 and layers[0].kernel_size == 1 and layers[0].relu
                      and not layers[0].residual and layers[1].kernel_size == 1
                      and not layers[1].relu and not layers[1].residual)
        # Cool-chic 5 ends with a fixed 1x1 convolution (identity for RGB images), sent with
        # the synthesis but never trained.
        self.output_transform = None
        if output_transform:
            self.output_transform = SynthesisConv(features, features, 1, False)
            self.output_transform.requires_grad_(False)
            self.reset_fixed_parameters()

    def reset_fixed_parameters(self) -> None:
        """The output transform back to the identity it starts as (decoders start it there)."""
        if self.output_transform is None:
            return
        with torch.no_grad():
            weight = self.output_transform.weight
            features = weight.shape[0]
            weight.copy_(torch.eye(features).view_as(weight))
            self.output_transform.bias.zero_()

    def uses_native(self, x: Tensor) -> bool:
        """Whether this call runs the C kernel: asked for, a training step on the CPU, and
        layers that start with 1x1 / ReLU / 1x1."""
        return self.native and self._pair and torch.is_grad_enabled() and supported(x)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, SynthesisConv) and module is not self.output_transform:
                module.reset_parameters()

    def forward(self, x: Tensor, trunk: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """``trunk`` stands in for ``self.layers`` (a :class:`coolchic.trunk.TrunkCache` of it)."""
        if trunk is None and self.uses_native(x):
            first, second = self.layers[0], self.layers[2]
            y = pointwise_pair(x, first.weight, first.bias, second.weight, second.bias)
            y = self.layers[4:](y)
        else:
            y = (self.layers if trunk is None else trunk)(x)
        if self.stabiliser is not None:
            y = y + self.stabiliser(x)
        if self.output_transform is not None:
            y = self.output_transform(y)
        return y
