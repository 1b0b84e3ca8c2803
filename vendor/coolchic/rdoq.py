# SPDX-License-Identifier: BSD-3-Clause
"""Rate-distortion optimised quantization (RDOQ) of the network parameters.

After :mod:`coolchic.nnquant` has chosen each network's quantization steps,
every sent parameter is an integer ``k`` times its step. As Cool-chic 5.0.1
does, a greedy search then tries, parameter by parameter in a random order,
``k - 1, k - 2, ...`` and ``k + 1, k + 2, ...`` (up to 15 steps away) and keeps
whichever lowers the rate-distortion cost, the parameters' own bits included
(:mod:`coolchic.paramcode`, with the Laplace scale the quantization chose). Each direction
stops at the first shift that does not lower the cost. Networks are visited
in upstream's order (arm, ifce, synthesis, upsampling), weights before
biases.

Only the decoder step a parameter feeds is re-run: an ARM or IFCE parameter
changes the latents' rate, a synthesis parameter the distortion, an upsampling
parameter both. Parameters stay integers times a power-of-two step inside the
coded range, so the file stays decodable exactly as before; the Laplace scales
are chosen again for the final integers, which can only save bits.
"""

from __future__ import annotations

import torch

from coolchic.model import CoolChic
from coolchic.nnquant import ParameterCode, RateDistortion
from coolchic.paramcode import (
    MAX_PARAMETER_INT,
    integers_of,
    predictions,
    residuals_of,
    sent_sets,
    set_cost,
    symbol_bits,
)

#: Networks in the order upstream visits them (sorted names), and the sets of each.
RDOQ_ORDER = ("arm", "ifce", "synthesis", "upsampling")
SET_ORDER = ("weight", "bias")
#: How many steps away from the quantized value a parameter may move.
MAX_SHIFT = 15


@torch.no_grad()
def rdoq_networks(
    model: CoolChic,
    target: torch.Tensor,
    lmbda: float,
    codes: dict[str, dict[str, ParameterCode]],
    generator: torch.Generator,
    reuse: bool = True,
) -> dict[str, dict[str, ParameterCode]]:
    """Refine the quantized parameters of ``model`` in place; return their codes.

    :param codes: what :func:`coolchic.nnquant.quantize_networks` returned.
    :param generator: draws the order in which parameters are tried.
    :param reuse: see :class:`coolchic.nnquant.RateDistortion` (off: the same result, slower).
    """
    model.eval()
    rd = RateDistortion(model, target, lmbda, reuse)
    bits = {(name, kind): code.bits for name, sets in codes.items() for kind, code in sets.items()}
    networks = model.networks()
    for name in (n for n in RDOQ_ORDER if n in networks):
        sets = sent_sets(networks[name])
        for kind in SET_ORDER:
            params = [p for _, p in sets[kind]]
            if not params:
                continue
            code = codes[name][kind]
            step = 2.0**code.step_exponent
            ints = integers_of(params, code.step_exponent).tolist()
            predicted = predictions(name, networks[name], kind, code.step_exponent).tolist()
            # Flat index -> (parameter, index inside it).
            slots = [(p.view(-1), i) for p in params for i in range(p.numel())]
            rd.refresh()  # caches as the parameters now are, whatever was tried last
            best_loss = rd.loss(name, sum(bits.values()))
            for index in torch.randperm(len(ints), generator=generator).tolist():
                flat, position = slots[index]
                initial = best = ints[index]
                for sign in (-1, 1):
                    for shift in range(1, MAX_SHIFT + 1):
                        candidate = initial + sign * shift
                        residual = candidate - predicted[index]
                        if max(abs(candidate), abs(residual)) > MAX_PARAMETER_INT:
                            break
                        flat[position] = candidate * step
                        extra = (symbol_bits(residual, code.scale)
                                 - symbol_bits(ints[index] - predicted[index], code.scale))
                        loss = rd.loss(name, sum(bits.values()) + extra)
                        if loss < best_loss:
                            best_loss, best = loss, candidate
                            bits[(name, kind)] += extra
                            ints[index] = candidate
                        else:
                            break
                    ints[index] = best
                    flat[position] = best * step
    return _final_codes(model, codes)


def _final_codes(model: CoolChic, codes: dict[str, dict[str, ParameterCode]]):
    final: dict[str, dict[str, ParameterCode]] = {}
    for name, sets in codes.items():
        network = model.networks()[name]
        params = sent_sets(network)
        final[name] = {}
        for kind, code in sets.items():
            ints = integers_of([p for _, p in params[kind]], code.step_exponent)
            scale, bits = set_cost(residuals_of(ints, name, network, kind, code.step_exponent))
            final[name][kind] = ParameterCode(code.step_exponent, 0, bits, scale)
    return final
