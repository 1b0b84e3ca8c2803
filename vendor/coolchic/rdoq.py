# SPDX-License-Identifier: BSD-3-Clause
"""Rate-distortion optimised quantization (RDOQ) of the network parameters.

After :mod:`coolchic.nnquant` has chosen each network's quantization steps,
every sent parameter is an integer ``k`` times its step. As Cool-chic 5.0.1
does, a greedy search then tries, parameter by parameter in a random order,
``k - 1, k - 2, ...`` and ``k + 1, k + 2, ...`` (up to 15 steps away) and keeps
whichever lowers the rate-distortion cost, the parameters' own exp-Golomb bits
included (with the code order chosen by the quantization). Each direction
stops at the first shift that does not lower the cost. Networks are visited
in upstream's order (arm, ifce, synthesis, upsampling), weights before
biases.

Only the decoder step a parameter feeds is re-run: an ARM or IFCE parameter
changes the latents' rate, a synthesis parameter the distortion, an upsampling
parameter both. Parameters stay integers times a power-of-two step inside the
coded range, so the file stays decodable exactly as before; the code orders
are chosen again for the final integers, which can only save bits.
"""

from __future__ import annotations

import torch

from coolchic.expgolomb import best_order
from coolchic.model import CoolChic
from coolchic.nnquant import (
    MAX_PARAMETER_INT,
    ParameterCode,
    RateDistortion,
    integers_of,
    parameter_sets,
)

#: Networks in the order upstream visits them (sorted names), and the sets of each.
RDOQ_ORDER = ("arm", "ifce", "synthesis", "upsampling")
SET_ORDER = ("weight", "bias")
#: How many steps away from the quantized value a parameter may move.
MAX_SHIFT = 15


def _symbol_bits(value: int, order: int) -> int:
    """Bits of one signed exp-Golomb symbol (see coolchic.expgolomb)."""
    magnitude = abs(value)
    return 2 * ((magnitude + (1 << order)).bit_length() - 1) - order + 1 + (magnitude != 0)


@torch.no_grad()
def rdoq_networks(
    model: CoolChic,
    target: torch.Tensor,
    lmbda: float,
    codes: dict[str, dict[str, ParameterCode]],
    generator: torch.Generator,
) -> dict[str, dict[str, ParameterCode]]:
    """Refine the quantized parameters of ``model`` in place; return their codes.

    :param codes: what :func:`coolchic.nnquant.quantize_networks` returned.
    :param generator: draws the order in which parameters are tried.
    """
    model.eval()
    rd = RateDistortion(model, target, lmbda)
    bits = {(name, kind): code.bits for name, sets in codes.items() for kind, code in sets.items()}
    networks = model.networks()
    for name in (n for n in RDOQ_ORDER if n in networks):
        sets = parameter_sets(networks[name])
        for kind in SET_ORDER:
            params = [p for _, p in sets[kind]]
            if not params:
                continue
            code = codes[name][kind]
            step = 2.0**code.step_exponent
            ints = integers_of(params, code.step_exponent).tolist()
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
                        if abs(candidate) > MAX_PARAMETER_INT:
                            break
                        flat[position] = candidate * step
                        extra = _symbol_bits(candidate, code.order) - _symbol_bits(
                            ints[index], code.order)
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
        params = parameter_sets(model.networks()[name])
        final[name] = {}
        for kind, code in sets.items():
            ints = integers_of([p for _, p in params[kind]], code.step_exponent)
            order, n_bits = best_order(ints)
            final[name][kind] = ParameterCode(code.step_exponent, order, n_bits)
    return final
