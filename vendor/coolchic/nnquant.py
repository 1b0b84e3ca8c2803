# SPDX-License-Identifier: BSD-3-Clause
"""Quantization of the network parameters after training.

Each network (ARM, IFCE when there is one, synthesis, upsampling) gets one
power-of-two step for its weights and one for its biases. The steps are
chosen module by module, in that order (Cool-chic 5's: sorted names), by
trying every pair of candidate steps and keeping the one with the lowest
rate-distortion cost, the cost counting the parameters' own
rate (:mod:`coolchic.paramcode`: a Laplace with the best scale for each set).
Parameters are sent as the integers ``round(p / step)``; decoding multiplies
them back, exactly. Parameters that are never trained are not sent.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from coolchic.model import CoolChic, to_8bit
from coolchic.paramcode import integers_of, residuals_of, sent_sets, set_cost
from coolchic.trunk import TrunkCache

#: Candidate steps, as base-2 exponents (inclusive ranges).
STEP_EXPONENTS: dict[str, dict[str, tuple[int, int]]] = {
    "arm": {"weight": (-8, 0), "bias": (-16, 0)},
    "ifce": {"weight": (-8, 0), "bias": (-16, 0)},
    "synthesis": {"weight": (-12, 0), "bias": (-24, 0)},
    "upsampling": {"weight": (-12, 0), "bias": (0, 0)},
}
SEARCH_ORDER = ("arm", "ifce", "synthesis", "upsampling")


@dataclass(frozen=True)
class ParameterCode:
    """How one set (weights or biases) of one network is sent."""

    step_exponent: int  # step = 2 ** step_exponent
    order: int  # exp-Golomb order (bitstream versions 1 to 3; 0 in version 4)
    bits: float  # the set's size: exact in versions 1 to 3, the Laplace's ideal bits in 4
    scale: int = 0  # version 4: index of the set's Laplace scale (coolchic.paramcode)


class RateDistortion:
    """Loss of the model, re-running only what a trial changes.

    A new ARM or IFCE step changes the rate only; a new synthesis step the
    distortion only; a new upsampling step the distortion only, unless the
    provider's contexts read the upsampling's coarse states (MRC): then
    everything is recomputed. Inside the ARM and the synthesis, only the
    layers from the first one whose parameters changed are re-run
    (:mod:`coolchic.trunk`). ``reuse=False`` re-runs whole decoder steps
    instead (the same losses, bit for bit; for tests and benchmarks).
    """

    def __init__(self, model: CoolChic, target: Tensor, lmbda: float,
                 reuse: bool = True) -> None:
        self.model, self.target, self.lmbda = model, target, lmbda
        self.n_pixels = target.shape[-2] * target.shape[-1]
        self.reuse = reuse
        self.arm_trunk = TrunkCache(model.arm.mlp) if reuse else None
        self.synthesis_trunk = TrunkCache(model.synthesis.layers) if reuse else None
        self.refresh()

    @torch.no_grad()
    def refresh(self) -> None:
        self.inputs = self.model.decoder_inputs(self.model.quantized_latents())
        self.latent_bits = self.rate()
        self.mse = self.distortion()

    @torch.no_grad()
    def rate(self) -> float:
        return float(self.model.latent_rate(self.inputs.flat, self.inputs.context,
                                            self.arm_trunk).sum())

    @torch.no_grad()
    def distortion(self) -> float:
        image = to_8bit(self.model.synthesize(self.inputs.dense, self.synthesis_trunk))
        return float(torch.mean((image - self.target) ** 2))

    def loss(self, changed: str, network_bits: int) -> float:
        if changed == "arm":
            self.latent_bits = self.rate()
        elif changed == "ifce":
            self.inputs.context = self.model.contexts(self.inputs.grids, self.inputs.coarse_states)
            self.latent_bits = self.rate()
        elif changed == "synthesis":
            self.mse = self.distortion()
        elif changed == "upsampling" and self.reuse and not self.model.reads_coarse_states:
            # The contexts, hence the rate, are what they were: only the synthesis input moves.
            self.inputs.dense, self.inputs.coarse_states = self.model.upsample(self.inputs.grids)
            self.mse = self.distortion()
        else:
            self.refresh()
        return self.mse + self.lmbda * (self.latent_bits + network_bits) / self.n_pixels


def _set_quantized(params: list[tuple[str, nn.Parameter]], originals: list[Tensor], exponent: int):
    step = 2.0**exponent
    with torch.no_grad():
        for (_, param), original in zip(params, originals):
            param.copy_(torch.round(original / step) * step)


@torch.no_grad()
def quantize_networks(
    model: CoolChic, target: Tensor, lmbda: float, reuse: bool = True
) -> dict[str, dict[str, ParameterCode]]:
    """Quantize every network of ``model`` in place; return how each set is coded."""
    model.eval()
    rd = RateDistortion(model, target, lmbda, reuse)
    codes: dict[str, dict[str, ParameterCode]] = {}
    networks = model.networks()
    for name in (n for n in SEARCH_ORDER if n in networks):
        sets = sent_sets(networks[name])
        originals = {kind: [p.detach().clone() for _, p in sets[kind]] for kind in sets}
        ranges = STEP_EXPONENTS[name]
        candidates = {
            kind: range(ranges[kind][0], ranges[kind][1] + 1) if sets[kind] else [0]
            for kind in ("weight", "bias")
        }
        other_bits = network_bits(codes)
        best: tuple[float, dict[str, ParameterCode]] | None = None
        for w_exp, b_exp in itertools.product(candidates["weight"], candidates["bias"]):
            trial: dict[str, ParameterCode] = {}
            for kind, exponent in (("weight", w_exp), ("bias", b_exp)):
                residuals = residuals_of(integers_of(originals[kind], exponent), name,
                                         networks[name], kind, exponent)
                if residuals is None:
                    break
                scale, bits = set_cost(residuals)
                trial[kind] = ParameterCode(exponent, 0, bits, scale)
                _set_quantized(sets[kind], originals[kind], exponent)
            else:
                bits = other_bits + sum(c.bits for c in trial.values())
                loss = rd.loss(name, bits)
                if best is None or loss < best[0]:
                    best = (loss, trial)
        if best is None:
            raise RuntimeError(f"no quantization step keeps the {name} parameters in range")
        codes[name] = best[1]
        for kind, code in best[1].items():
            _set_quantized(sets[kind], originals[kind], code.step_exponent)
        rd.loss(name, 0)  # bring the cached pieces up to date with the chosen steps
    return codes


def network_bits(codes: dict[str, dict[str, ParameterCode]]) -> float:
    return sum(code.bits for module in codes.values() for code in module.values())
