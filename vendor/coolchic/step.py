# SPDX-License-Identifier: BSD-3-Clause
"""One training iteration: forward, RD loss, backward, gradient clipping, SOAP step.

Two ways to run the same computation:

* :class:`EagerIteration` launches every operator from Python, on any device;
* :class:`GraphedIteration` (CUDA only) records the iteration once into a
  CUDA graph and replays it. A Cool-chic iteration is a few GFLOP spread
  over about 1300 small kernels (forward, backward, optimizer), so on a GPU
  the time goes to launching them, not to running them; one replay launches
  them all at once.

A graph replays fixed operators on fixed memory, so what changes between
iterations lives in device tensors written before each replay: the
quantizer's temperature and noise level, and SOAP's step size and weight
decay (which follow the step count and the learning-rate schedule; see
:class:`coolchic.optimizer.FixedShapeSoap`). The gradients stay where the
recording put them: each replay overwrites them instead of adding to them.
SOAP's eigenbasis refresh (every few steps, with decompositions a graph
cannot hold) runs outside the graph, in place on the same state tensors.

The first iteration of a phase is the library's SOAP step, which creates
the optimizer's state; the next :data:`EAGER_BEFORE_RECORDING` run the same
operators as the graph will, on a side stream, as CUDA graphs need before a
recording; then the graph is recorded and replayed. Every iteration counts,
and the maths is the eager iteration's up to float rounding (and the order
in which random numbers are drawn).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils import clip_grad_norm_

from coolchic.model import CoolChic, QuantizerSetting
from coolchic.optimizer import FixedShapeSoap
from coolchic.presets import TrainerPhase

GRADIENT_CLIP = 0.1
#: Iterations run operator by operator on a side stream before the graph is recorded.
EAGER_BEFORE_RECORDING = 2


def rd_loss(image: Tensor, target: Tensor, rate_bits: Tensor, lmbda: float) -> Tensor:
    n_pixels = target.shape[-2] * target.shape[-1]
    mse = torch.mean((torch.clamp(image, 0.0, 1.0) - target) ** 2)
    return mse + lmbda * rate_bits.sum() / n_pixels


class EagerIteration:
    """One iteration of one phase, operator by operator."""

    def __init__(self, model: CoolChic, target: Tensor, lmbda: float, phase: TrainerPhase,
                 optimizer: torch.optim.Optimizer, clipped: Sequence[torch.nn.Parameter]) -> None:
        self.model = model
        self.target = target
        self.lmbda = lmbda
        self.phase = phase
        self.optimizer = optimizer
        self.clipped = list(clipped)

    def __call__(self, temperature: float, noise: float) -> None:
        self.model.zero_grad(set_to_none=True)
        self.gradients(temperature, noise)
        self.optimizer.step()

    def gradients(self, temperature: Tensor | float, noise: Tensor | float) -> None:
        """Clipped gradients of the RD loss, in the parameters' ``.grad``."""
        phase = self.phase
        setting = QuantizerSetting(phase.quantizer_type, phase.noise_type, temperature, noise)
        out = self.model(setting)
        rd_loss(out.image, self.target, out.rate_bits, self.lmbda).backward()
        clip_grad_norm_(self.clipped, GRADIENT_CLIP)

    def release(self) -> None:
        """Drop the gradients (and, for a graph, its memory) once the phase is over."""
        self.model.zero_grad(set_to_none=True)


class GraphedIteration(EagerIteration):
    """:class:`EagerIteration` recorded into a CUDA graph, then replayed."""

    def __init__(self, model: CoolChic, target: Tensor, lmbda: float, phase: TrainerPhase,
                 optimizer: torch.optim.Optimizer, clipped: Sequence[torch.nn.Parameter]) -> None:
        if target.device.type != "cuda":
            raise ValueError("a CUDA graph iteration needs the model and image on a CUDA device")
        super().__init__(model, target, lmbda, phase, optimizer, clipped)
        self.soap = FixedShapeSoap(optimizer)
        self._temperature = torch.zeros((), device=target.device)
        self._noise = torch.zeros((), device=target.device)
        self._graph: torch.cuda.CUDAGraph | None = None
        self._eager_left = EAGER_BEFORE_RECORDING

    def __call__(self, temperature: float, noise: float) -> None:
        if not self.soap.started:
            super().__call__(temperature, noise)  # the library's set-up step
            return
        self._temperature.fill_(temperature)
        self._noise.fill_(noise)
        self.soap.prepare()
        if self._graph is None and self._eager_left:
            self._eager_left -= 1
            self._on_side_stream()
        else:
            if self._graph is None:
                self._graph = self._record()
            self._graph.replay()
        self.soap.refresh()

    def _fixed_shape_iteration(self) -> None:
        self.gradients(self._temperature, self._noise)
        self.soap.update()

    def _on_side_stream(self) -> None:
        device = self.target.device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            self.model.zero_grad(set_to_none=True)
            self._fixed_shape_iteration()
        torch.cuda.current_stream(device).wait_stream(side)

    def _record(self) -> torch.cuda.CUDAGraph:
        # Gradients recorded from None are written, not accumulated, by every replay.
        self.model.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._fixed_shape_iteration()
        return graph

    def release(self) -> None:
        super().release()
        self._graph = None


def make_iteration(model: CoolChic, target: Tensor, lmbda: float, phase: TrainerPhase,
                   optimizer: torch.optim.Optimizer, clipped: Sequence[torch.nn.Parameter],
                   cuda_graph: bool) -> EagerIteration:
    """The iteration of one phase: graphed when asked for and the model is on a CUDA device."""
    kind = GraphedIteration if cuda_graph and target.device.type == "cuda" else EagerIteration
    return kind(model, target, lmbda, phase, optimizer, clipped)
