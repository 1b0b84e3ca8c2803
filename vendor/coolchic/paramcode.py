# SPDX-License-Identifier: BSD-3-Clause
"""How the networks' quantized parameters are coded (bitstream version 4).

Every set (the weights, or the biases, of one network) is range coded with a
zero-mean Laplace over the integers ``[-MAX_PARAMETER_INT, MAX_PARAMETER_INT]``
whose scale ``2^(s / 4 - 2)`` the header names by its index ``s`` (6 bits, 0.25
to about 13 800), chosen by the encoder to make the set cheapest. The sets
go first into the range coder that then codes the latents, so the file pays
for one coder flush, not two. Versions 1 to 3 wrote signed exp-Golomb codes
(:mod:`coolchic.expgolomb`), one order per set.

What the decoder knows needs no bits: the parameters that are never trained
(the synthesis's output transform, the identity for RGB) are not sent while
they keep the values they start at (a header flag says when they do not, as in
a file of an older version whose parameter RDOQ moved them), and the
upsampling's kernels, which start as a known interpolator and a Dirac, are
sent as their difference from that start, in the set's step.

The encoder's costs (:func:`set_cost`, :func:`symbol_bits`) are the ideal
code lengths under the Laplace; the coder adds a few bits per file.
"""

from __future__ import annotations

import copy

import constriction
import numpy as np
import torch
from torch import Tensor, nn

#: Largest magnitude of a sent parameter integer.
MAX_PARAMETER_INT = 2**16 - 1
SCALE_BITS = 6
N_SCALES = 2**SCALE_BITS
_SCALES = np.exp2(np.arange(N_SCALES) / 4.0 - 2.0)
#: No integer costs more than the coder's 24-bit probability floor.
_MIN_PROBABILITY = 2.0**-24
_FAMILY = constriction.stream.model.QuantizedLaplace(-MAX_PARAMETER_INT, MAX_PARAMETER_INT)
#: Networks whose weights start from values the decoder can compute.
PREDICTED = {("upsampling", "weight")}


def parameter_sets(module: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """Parameters of ``module`` split into weights and biases, in a fixed order."""
    sets: dict[str, list[tuple[str, nn.Parameter]]] = {"weight": [], "bias": []}
    for name, param in module.named_parameters():
        kind = "bias" if name.endswith("bias") else "weight"
        sets[kind].append((name, param))
    return sets


def integers_of(params: list[Tensor], step_exponent: int) -> np.ndarray | None:
    """``round(p / step)`` of every value, flattened; None if one is out of range."""
    if not params:
        return np.zeros(0, dtype=np.int64)
    flat = torch.cat([p.detach().reshape(-1) for p in params]).double()
    ints = torch.round(flat * 2.0 ** (-step_exponent))
    if ints.abs().max() > MAX_PARAMETER_INT:
        return None
    return ints.to(torch.int64).cpu().numpy()


def laplace_scale(index: int) -> float:
    return float(_SCALES[index])


def _bits(magnitudes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """``-log2 P(v)`` of integers of magnitude ``|v|`` under zero-mean Laplaces (broadcast)."""
    zero = -np.expm1(-0.5 / scales)
    other = 0.5 * np.exp(-(magnitudes - 0.5) / scales) * -np.expm1(-1.0 / scales)
    probability = np.where(magnitudes == 0, zero, other)
    return -np.log2(np.maximum(probability, _MIN_PROBABILITY))


def set_cost(values: np.ndarray) -> tuple[int, float]:
    """The scale index that codes ``values`` (integers) cheapest, and their ideal bits."""
    if values.size == 0:
        return 0, 0.0
    magnitudes = np.abs(values.astype(np.float64))[None, :]
    totals = _bits(magnitudes, _SCALES[:, None]).sum(axis=1)
    index = int(np.argmin(totals))
    return index, float(totals[index])


def symbol_bits(value: int, scale_index: int) -> float:
    """Ideal bits of one integer with the set's scale."""
    return float(_bits(np.float64(abs(value)), _SCALES[scale_index]))


def sent_sets(module: nn.Module, fixed: bool = False) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """The parameters a version-4 file carries: those that are trained, and with ``fixed`` the
    ones that are not, at their places in :func:`parameter_sets`."""
    return {kind: [(name, p) for name, p in params if fixed or p.requires_grad]
            for kind, params in parameter_sets(module).items()}


def fixed_at_start(module: nn.Module) -> bool:
    """Whether the never-trained parameters of ``module`` hold the values they start at."""
    fixed = [(name, p) for name, p in module.named_parameters() if not p.requires_grad]
    if not fixed:
        return True
    start = copy.deepcopy(module)
    start.reset_fixed_parameters()
    values = dict(start.named_parameters())
    return all(torch.equal(p, values[name]) for name, p in fixed)


def predictions(network: str, module: nn.Module, kind: str, step_exponent: int,
                fixed: bool = False) -> np.ndarray:
    """The integers a set is sent relative to: the initial values where the decoder knows them
    (:data:`PREDICTED`), zeros elsewhere (``fixed``: as :func:`sent_sets`)."""
    count = sum(p.numel() for _, p in sent_sets(module, fixed)[kind])
    if (network, kind) not in PREDICTED:
        return np.zeros(count, dtype=np.int64)
    start = copy.deepcopy(module)
    start.reset_parameters()
    predicted = integers_of([p for _, p in sent_sets(start)[kind]], step_exponent)
    if predicted is None:  # cannot happen with the shipped steps; fail loudly if it does
        raise ValueError(f"the initial {network} {kind}s do not fit step 2^{step_exponent}")
    return predicted


def residuals_of(ints: np.ndarray | None, network: str, module: nn.Module, kind: str,
                 step_exponent: int, fixed: bool = False) -> np.ndarray | None:
    """What a set sends: its integers minus their :func:`predictions`; None if the integers
    (``None`` from :func:`integers_of`) or the differences leave the coded range."""
    if ints is None:
        return None
    residuals = ints - predictions(network, module, kind, step_exponent, fixed)
    if residuals.size and np.abs(residuals).max() > MAX_PARAMETER_INT:
        return None
    return residuals


def encode_set(encoder, residuals: np.ndarray, scale_index: int) -> None:
    """Range code one set's residuals (integers minus their predictions)."""
    if residuals.size:
        encoder.encode(residuals.astype(np.int32), _FAMILY, np.zeros(residuals.size),
                       np.full(residuals.size, laplace_scale(scale_index)))


def decode_set(decoder, count: int, scale_index: int) -> np.ndarray:
    if not count:
        return np.zeros(0, dtype=np.int64)
    values = decoder.decode(_FAMILY, np.zeros(count), np.full(count, laplace_scale(scale_index)))
    return np.asarray(values, dtype=np.int64)
