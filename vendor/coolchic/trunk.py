# SPDX-License-Identifier: BSD-3-Clause
"""Re-running a sequential network from the first layer whose parameters changed.

The quantization of the networks and their RDOQ (:mod:`coolchic.nnquant`,
:mod:`coolchic.rdoq`) change one parameter or one step at a time and evaluate
the whole decoder step again. A :class:`TrunkCache` stands in for an
``nn.Sequential`` trunk (the ARM's MLP, the synthesis's layers): it keeps the
output of every layer and, on the next call, starts from the first layer whose
parameters were written since (torch counts every in-place write to a tensor,
views included, in ``Tensor._version``). The layers it re-runs are the same
calls on the same tensors, so the output is the trunk's, bit for bit. Layers
must not write their input in place (``nn.ReLU(inplace=True)`` would change a
kept output).
"""

from __future__ import annotations

from torch import Tensor, nn


def _stamp(layer: nn.Module) -> tuple[tuple[int, int], ...]:
    """Which parameter tensors ``layer`` holds, and how often each has been written."""
    return tuple((id(p), p._version) for p in layer.parameters())


class TrunkCache:
    """Callable like ``trunk``; re-runs only from the first changed layer.

    The input must be the same tensor object from call to call to be reused;
    a different one re-runs every layer.
    """

    def __init__(self, trunk: nn.Sequential) -> None:
        self.layers = list(trunk)
        self.reruns = 0  # layers evaluated, for tests and benchmarks
        self._input: Tensor | None = None
        # _outputs[i]: output of layer i, computed when its parameters had _stamps[i].
        self._outputs: list[Tensor | None] = [None] * len(self.layers)
        self._stamps: list[tuple | None] = [None] * len(self.layers)

    def __call__(self, x: Tensor) -> Tensor:
        start = 0 if x is not self._input else self._first_changed()
        self._input = x
        value = x if start == 0 else self._outputs[start - 1]
        for index in range(start, len(self.layers)):
            layer = self.layers[index]
            value = layer(value)
            self._outputs[index], self._stamps[index] = value, _stamp(layer)
            self.reruns += 1
        return value

    def _first_changed(self) -> int:
        for index, layer in enumerate(self.layers):
            if self._outputs[index] is None or self._stamps[index] != _stamp(layer):
                return index
        return len(self.layers)
