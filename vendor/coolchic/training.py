# SPDX-License-Identifier: BSD-3-Clause
"""Overfitting a Cool-chic model to one image: warm-up, phases, evaluation.

Loss = MSE + lambda * rate, with the rate in bits per pixel (latents, plus the
networks once they are quantized). Every ``freq_valid`` iterations the model
is evaluated as the decoder would see it (rounded latents, 8-bit image); the
best evaluated state is kept and restored at the end of each phase.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from coolchic.model import CoolChic, to_8bit
from coolchic.optimizer import make_optimizer
from coolchic.presets import Preset, TrainerPhase
from coolchic.step import make_iteration

MIN_LR = 1e-5


@dataclass(frozen=True)
class Evaluation:
    loss: float
    mse: float
    latent_bits: float
    network_bits: float
    n_pixels: int

    @property
    def psnr_db(self) -> float:
        return -10.0 * math.log10(max(self.mse, 1e-20))

    @property
    def rate_bpp(self) -> float:
        return (self.latent_bits + self.network_bits) / self.n_pixels

    @property
    def latent_bpp(self) -> float:
        return self.latent_bits / self.n_pixels


@dataclass(frozen=True)
class ProgressEvent:
    stage: str  # e.g. "warm-up 1/2, candidate 3/5", "main", "final"
    iteration: int  # iterations done so far, all stages together
    total_iterations: int
    evaluation: Evaluation
    elapsed_s: float


ProgressCallback = Callable[[ProgressEvent], None]
#: What builds candidates: one factory, or one per competing context provider.
Factories = Callable[[], CoolChic] | Sequence[Callable[[], CoolChic]]


@torch.no_grad()
def evaluate(model: CoolChic, target: Tensor, lmbda: float, network_bits: float = 0.0) -> Evaluation:
    """Loss of the model as decoded: rounded latents, image on the 8-bit grid."""
    was_training = model.training
    model.eval()
    out = model()
    model.train(was_training)
    mse = float(torch.mean((to_8bit(out.image) - target) ** 2))
    n_pixels = target.shape[-2] * target.shape[-1]
    latent_bits = float(out.rate_bits.sum())
    loss = mse + lmbda * (latent_bits + network_bits) / n_pixels
    return Evaluation(loss, mse, latent_bits, network_bits, n_pixels)


class Trainer:
    """Runs phases on one target image and reports progress."""

    def __init__(
        self,
        target: Tensor,
        preset: Preset,
        progress: ProgressCallback | None = None,
        cuda_graph: bool = True,
    ) -> None:
        self.target = target
        self.preset = preset
        self.progress = progress
        #: Replay each phase's iterations from a CUDA graph when training on a GPU (coolchic.step).
        self.cuda_graph = cuda_graph
        self.iterations_done = 0
        self.start_time = time.monotonic()

    def _report(self, stage: str, evaluation: Evaluation) -> None:
        if self.progress is not None:
            self.progress(
                ProgressEvent(
                    stage,
                    self.iterations_done,
                    self.preset.total_iterations,
                    evaluation,
                    time.monotonic() - self.start_time,
                )
            )

    def train_phase(self, model: CoolChic, phase: TrainerPhase, stage: str) -> Evaluation:
        """Train ``model`` in place for one phase; leaves the best evaluated state."""
        lmbda = self.preset.lmbda
        best_eval = evaluate(model, self.target, lmbda)
        best_state = model.snapshot()
        latents = list(model.latents.parameters())
        networks = model.network_parameters()
        optimizer = make_optimizer(networks, latents, phase)
        iteration = make_iteration(model, self.target, lmbda, phase, optimizer, networks,
                                   self.cuda_graph)
        scheduler = None
        if phase.schedule_lr:
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=max(phase.max_itr / phase.freq_valid, 1), eta_min=MIN_LR
            )
        temperature = phase.scheduled(phase.softround_temperature, 0)
        noise = phase.scheduled(phase.noise_parameter, 0)
        last_record = 0
        model.train()
        for itr in range(phase.max_itr):
            if itr - last_record > phase.patience:
                if not phase.schedule_lr:
                    break
                # Out of patience with a schedule: restart from the best state.
                model.restore(best_state)
                last_record = itr
            iteration(temperature, noise)
            self.iterations_done += 1
            if (itr + 1) % phase.freq_valid == 0 or itr + 1 == phase.max_itr:
                current = evaluate(model, self.target, lmbda)
                if current.loss < best_eval.loss:
                    best_eval, best_state, last_record = current, model.snapshot(), itr
                self._report(stage, current)
                temperature = phase.scheduled(phase.softround_temperature, itr + 1)
                noise = phase.scheduled(phase.noise_parameter, itr + 1)
                if scheduler is not None:
                    scheduler.step()
        iteration.release()
        model.restore(best_state)
        model.eval()
        return best_eval

    def warmup(self, make_candidates: Factories) -> CoolChic:
        """Train several freshly initialised candidates, keep the best one.

        Candidates are initialised in turn (so their initialisation follows
        the random seed), trained for the first warm-up phase; the best ones
        continue to the next phase. With several factories (a context
        competition) candidate ``i`` comes from factory ``i mod K``; the
        winner keeps its own provider.
        """
        factories = [make_candidates] if callable(make_candidates) else list(make_candidates)
        phases = self.preset.warmup
        if not phases:
            if len(factories) > 1:
                raise ValueError("a context competition needs a warm-up")
            return factories[0]()
        models: list[CoolChic] = []  # one per factory, built when its first candidate comes
        pool: list[tuple[CoolChic, dict]] = []
        for index in range(phases[0].candidates):
            k = index % len(factories)
            if k == len(models):
                models.append(factories[k]())
            else:
                models[k].reset_parameters()
            pool.append((models[k], models[k].snapshot()))
        for number, warm in enumerate(phases, start=1):
            scored = []
            for index, (model, state) in enumerate(pool[: warm.candidates]):
                model.restore(state)
                stage = f"warm-up {number}/{len(phases)}, candidate {index + 1}/{warm.candidates}"
                if len(factories) > 1:
                    stage += f" ({model.provider.name})"
                evaluation = self.train_phase(model, warm.phase, stage)
                scored.append((evaluation.loss, index, model, model.snapshot()))
            scored.sort(key=lambda item: (item[0], item[1]))
            pool = [(model, state) for _, _, model, state in scored]
        model, state = pool[0]
        model.restore(state)
        return model

    def run(self, make_candidates: Factories) -> tuple[CoolChic, Evaluation]:
        model = self.warmup(make_candidates)
        evaluation = evaluate(model, self.target, self.preset.lmbda)
        names = ["main", "final"] + [f"phase {i}" for i in range(3, len(self.preset.phases) + 1)]
        for phase, name in zip(self.preset.phases, names):
            evaluation = self.train_phase(model, phase, name)
        return model, evaluation
