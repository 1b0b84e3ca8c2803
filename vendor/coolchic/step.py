# SPDX-License-Identifier: BSD-3-Clause
"""One training step's gradients: forward, RD loss, backward, gradient clipping.

Two ways to run the same computation:

* :class:`EagerStep` launches every operator from Python, on any device;
* :class:`GraphedStep` (CUDA only) records the step once into a CUDA graph
  and replays it. A 768x512 Cool-chic iteration is a few GFLOP spread over
  about 700 small kernels, so on a GPU the time goes to launching them, not
  to running them; one replay launches them all at once.

A graph replays fixed operators on fixed memory. So the quantizer's
temperature and noise level, which change during a phase, live in two device
tensors that the step fills before each replay, and the gradients stay where
the recording put them: the step overwrites them on every replay instead of
adding to them (no ``zero_grad`` in between). The optimizer's step stays
outside the graph (SOAP refreshes its eigenbases every few steps with
decompositions a graph cannot hold), and reads those gradients in place.

The recording runs two steps first on a side stream, as CUDA graphs need;
their gradients are dropped, so they change no parameter, only how far the
noise generator has advanced. Results are therefore not bit-identical to the
eager step's, as any change of device or thread count is not either.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn.utils import clip_grad_norm_

from coolchic.model import CoolChic, QuantizerSetting
from coolchic.presets import TrainerPhase

GRADIENT_CLIP = 0.1
#: Eager steps run on a side stream before a graph is recorded.
GRAPH_WARMUP_STEPS = 2


def rd_loss(image: Tensor, target: Tensor, rate_bits: Tensor, lmbda: float) -> Tensor:
    n_pixels = target.shape[-2] * target.shape[-1]
    mse = torch.mean((torch.clamp(image, 0.0, 1.0) - target) ** 2)
    return mse + lmbda * rate_bits.sum() / n_pixels


class EagerStep:
    """Gradients of the RD loss for one phase's quantizer, operator by operator."""

    def __init__(self, model: CoolChic, target: Tensor, lmbda: float, phase: TrainerPhase,
                 clipped: Sequence[torch.nn.Parameter]) -> None:
        self.model = model
        self.target = target
        self.lmbda = lmbda
        self.phase = phase
        self.clipped = list(clipped)

    def __call__(self, temperature: float, noise: float) -> None:
        self.model.zero_grad(set_to_none=True)
        self._forward_backward(temperature, noise)

    def _forward_backward(self, temperature: Tensor | float, noise: Tensor | float) -> None:
        phase = self.phase
        setting = QuantizerSetting(phase.quantizer_type, phase.noise_type, temperature, noise)
        out = self.model(setting)
        rd_loss(out.image, self.target, out.rate_bits, self.lmbda).backward()
        clip_grad_norm_(self.clipped, GRADIENT_CLIP)

    def release(self) -> None:
        """Drop the gradients (and, for a graph, its memory) once the phase is over."""
        self.model.zero_grad(set_to_none=True)


class GraphedStep(EagerStep):
    """:class:`EagerStep` recorded into a CUDA graph on its first call, then replayed."""

    def __init__(self, model: CoolChic, target: Tensor, lmbda: float, phase: TrainerPhase,
                 clipped: Sequence[torch.nn.Parameter]) -> None:
        if target.device.type != "cuda":
            raise ValueError("a CUDA graph step needs the model and image on a CUDA device")
        super().__init__(model, target, lmbda, phase, clipped)
        self._temperature = torch.zeros((), device=target.device)
        self._noise = torch.zeros((), device=target.device)
        self._graph: torch.cuda.CUDAGraph | None = None

    def __call__(self, temperature: float, noise: float) -> None:
        self._temperature.fill_(temperature)
        self._noise.fill_(noise)
        if self._graph is None:
            self._graph = self._record()
        self._graph.replay()

    def _record(self) -> torch.cuda.CUDAGraph:
        side = torch.cuda.Stream(device=self.target.device)
        side.wait_stream(torch.cuda.current_stream(self.target.device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_STEPS):
                self.model.zero_grad(set_to_none=True)
                self._forward_backward(self._temperature, self._noise)
        torch.cuda.current_stream(self.target.device).wait_stream(side)
        # Gradients recorded from None are written, not accumulated, by every replay.
        self.model.zero_grad(set_to_none=True)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._forward_backward(self._temperature, self._noise)
        return graph

    def release(self) -> None:
        super().release()
        self._graph = None


def make_step(model: CoolChic, target: Tensor, lmbda: float, phase: TrainerPhase,
              clipped: Sequence[torch.nn.Parameter], cuda_graph: bool) -> EagerStep:
    """The step for one phase: graphed when asked for and the model is on a CUDA device."""
    kind = GraphedStep if cuda_graph and target.device.type == "cuda" else EagerStep
    return kind(model, target, lmbda, phase, clipped)
