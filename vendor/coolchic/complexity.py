# SPDX-License-Identifier: BSD-3-Clause
"""Decoder complexity in multiply-accumulates (MAC) per pixel, counted by fvcore.

fvcore calls its unit "flop" but counts one per multiply-accumulate, as
Cool-chic reports it. We trace the model's decoding (:meth:`CoolChic.decode`,
the composition training runs too): the ARM over every value of every coded
grid (hyperlatents included), the IFCE, the upsampling and the synthesis
(with its output transform), in eval mode. A module the model does not have
counts 0.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from coolchic.errors import CoolChicError
from coolchic.model import NETWORKS, CoolChic


class _DecodingPath(nn.Module):
    """The model's own decoding (:meth:`CoolChic.decode`) from flat latents, for tracing.

    The networks are its named submodules, so the count is reported per
    network with short names.
    """

    def __init__(self, model: CoolChic) -> None:
        super().__init__()
        self.arm = model.arm
        self.ifce = model.ifce
        self.upsampling = model.upsampling
        self.synthesis = model.synthesis
        self._model = [model]  # not a submodule: keeps by_module() keys short

    def forward(self, grids_flat: Tensor) -> tuple[Tensor, Tensor]:
        model = self._model[0]
        grids, start = [], 0
        for h, w in model.arch.coded_shapes:
            grids.append(grids_flat[start : start + h * w].view(1, 1, h, w))
            start += h * w
        out = model.decode(grids)
        return out.image, out.rate_bits


@dataclass(frozen=True)
class Complexity:
    n_pixels: int
    per_module: dict[str, float]  # MAC per pixel
    #: MAC per pixel outside the networks (the nearest upsampling around the IFCE).
    other: float = 0.0

    @property
    def total_mac_per_pixel(self) -> float:
        return sum(self.per_module.values()) + self.other


class ComplexityMismatch(CoolChicError):
    """Two decoders that should cost the same do not."""


@torch.no_grad()
def count_macs(model: CoolChic) -> Complexity:
    """MAC per decoded pixel of ``model``'s decoder, per network and in total."""
    from fvcore.nn import FlopCountAnalysis

    was_training = model.training
    model.eval()
    path = _DecodingPath(model)
    grids_flat = torch.cat([g.reshape(-1) for g in model.quantized_latents()])
    analysis = FlopCountAnalysis(path, (grids_flat,))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_module = analysis.by_module()
    model.train(was_training)
    n_pixels = model.arch.height * model.arch.width
    per_module = {name: by_module.get(name, 0) / n_pixels for name in NETWORKS}
    other = by_module.get("", 0) / n_pixels - sum(per_module.values())
    return Complexity(n_pixels=n_pixels, per_module=per_module, other=other)


def compare(name_a: str, a: Complexity, name_b: str, b: Complexity) -> list[str]:
    """One line per module whose MAC/pixel differs between ``a`` and ``b`` (none: equal)."""
    lines = [
        f"{module}: {a.per_module[module]:.4f} MAC/pixel with {name_a}, "
        f"{b.per_module[module]:.4f} with {name_b}"
        for module in NETWORKS
        if a.per_module[module] != b.per_module[module]
    ]
    if a.other != b.other:
        lines.append(f"outside the networks: {a.other:.4f} MAC/pixel with {name_a}, "
                     f"{b.other:.4f} with {name_b}")
    return lines
