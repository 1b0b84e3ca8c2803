# SPDX-License-Identifier: BSD-3-Clause
"""Training schedules ("presets") of the encoder.

``intra`` follows Cool-chic 5.0.1's intra preset: ``n_itr`` counts every
iteration, split into a warm-up (5 candidates, then the best 2, each trained
for a few hundred iterations at a constant learning rate), a main phase
(cosine learning rate from ``start_lr``, softround temperature 0.35 -> 0.08,
gaussian noise 0.22 -> 0.15) and 500 final iterations with hard rounding at
lr 1e-4. It needs ``n_itr >= 2000``.

``fast`` keeps the same structure scaled down to any ``n_itr >= 40``, for
tests, demos and quick looks; its results are not comparable with ``intra``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from coolchic.errors import ConfigError
from coolchic.quantizer import NoiseType, QuantizerType

PRESETS = ("intra", "fast")
MIN_ITERATIONS = {"intra": 2000, "fast": 40}
MAX_ITERATIONS = 10_000_000


@dataclass(frozen=True)
class TrainerPhase:
    lr: float
    max_itr: int
    quantizer_type: QuantizerType
    noise_type: NoiseType
    softround_temperature: tuple[float, float] = (0.3, 0.3)
    noise_parameter: tuple[float, float] = (0.0, 0.0)
    schedule_lr: bool = False
    freq_valid: int = 100
    patience: int = 10_000
    # Optimizer (coolchic.optimizer): Adam's betas for latents and networks, and how often
    # SOAP refreshes the networks' eigenbases.
    betas_latent: tuple[float, float] = (0.9, 0.999)
    betas_model: tuple[float, float] = (0.95, 0.95)
    precondition_frequency_model: int = 10

    def scheduled(self, values: tuple[float, float], itr: int) -> float:
        """Linear ramp from ``values[0]`` at iteration 0 to ``values[1]`` at ``max_itr``."""
        start, end = values
        return start + (end - start) * min(itr, self.max_itr) / max(self.max_itr, 1)


@dataclass(frozen=True)
class WarmupPhase:
    candidates: int
    phase: TrainerPhase


@dataclass(frozen=True)
class Preset:
    name: str
    lmbda: float
    warmup: tuple[WarmupPhase, ...] = field(default_factory=tuple)
    phases: tuple[TrainerPhase, ...] = field(default_factory=tuple)

    @property
    def total_iterations(self) -> int:
        warm = sum(w.candidates * w.phase.max_itr for w in self.warmup)
        return warm + sum(p.max_itr for p in self.phases)


def warmup_noise_level(lmbda: float) -> float:
    """Cool-chic's warm-up noise std, larger at low rates."""
    return (-0.432 * math.log10(lmbda) + 0.747) / 10.0


def make_preset(name: str, lmbda: float, n_itr: int, start_lr: float = 1e-2) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"preset = {name}: unknown; available: {', '.join(PRESETS)}")
    if not lmbda > 0:
        raise ConfigError(f"lmbda = {lmbda}: must be positive")
    if not start_lr > 0:
        raise ConfigError(f"start_lr = {start_lr}: must be positive")
    if not MIN_ITERATIONS[name] <= n_itr <= MAX_ITERATIONS:
        raise ConfigError(
            f"n_itr = {n_itr}: preset {name} needs {MIN_ITERATIONS[name]} to {MAX_ITERATIONS} "
            "iterations" + (" (use --preset fast for shorter runs)" if name == "intra" else "")
        )
    if name == "intra":
        final_itr = 500
        warmup_itr = 50 if n_itr < 4000 else 100 if n_itr < 9000 else 200 if n_itr < 12000 else 400
        freq_valid = 100
    else:
        final_itr = max(2, n_itr // 10)
        warmup_itr = max(2, n_itr // 40)
        freq_valid = 0  # set per phase below
    noise = warmup_noise_level(lmbda)

    def valid_every(itr: int) -> int:
        return freq_valid or max(1, itr // 10)

    warmup = tuple(
        WarmupPhase(
            candidates,
            TrainerPhase(
                lr=start_lr,
                max_itr=warmup_itr,
                quantizer_type="softround",
                noise_type="gaussian",
                softround_temperature=(0.35, 0.35),
                noise_parameter=(noise, noise),
                freq_valid=valid_every(warmup_itr),
                patience=warmup_itr,
                betas_latent=(0.725, 0.97),
                precondition_frequency_model=1,
            ),
        )
        for candidates in (5, 2)
    )
    main_itr = n_itr - final_itr - sum(w.candidates * w.phase.max_itr for w in warmup)
    phases = (
        TrainerPhase(
            lr=start_lr,
            max_itr=main_itr,
            quantizer_type="softround",
            noise_type="gaussian",
            softround_temperature=(0.35, 0.08),
            noise_parameter=(0.22, 0.15),
            schedule_lr=True,
            freq_valid=valid_every(main_itr),
            patience=5000,
        ),
        TrainerPhase(
            lr=1e-4,
            max_itr=final_itr,
            quantizer_type="hardround",
            noise_type="none",
            schedule_lr=True,
            freq_valid=valid_every(final_itr),
            patience=final_itr,
        ),
    )
    return Preset(name=name, lmbda=lmbda, warmup=warmup, phases=phases)
