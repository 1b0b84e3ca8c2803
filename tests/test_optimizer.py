# SPDX-License-Identifier: BSD-3-Clause
"""The optimizer computes SOAP's update with Cool-chic 5.0.1's settings.

A small derivation from the SOAP paper's equations (Vyas et al. 2024,
Algorithm 3 with the reference implementation's first-step warm-up), written
independently of the library, is stepped beside coolchic.optimizer on the same
gradients: a weight matrix (two preconditioned dimensions), a bias (Adam), and
a latent grid (the latents' group: Adam with its own betas, no weight decay).
"""

from __future__ import annotations

import math

import pytest
import torch

from coolchic.optimizer import (
    MAX_PRECONDITIONED_DIM,
    NETWORK_WEIGHT_DECAY,
    FixedShapeSoap,
    make_optimizer,
)
from coolchic.presets import TrainerPhase, make_preset

EPS = 1e-8


def _eigenbasis(matrix: torch.Tensor) -> torch.Tensor:
    """Eigenvectors, largest eigenvalue first."""
    _, vectors = torch.linalg.eigh(matrix.double())
    return torch.flip(vectors, dims=[1])


class ReferenceSOAP:
    """SOAP for one parameter, in float64, from the paper's equations."""

    def __init__(self, value, lr, betas, weight_decay, frequency, max_dim):
        self.value = value.clone().double()
        self.lr, (self.beta1, self.beta2) = lr, betas
        self.weight_decay, self.frequency = weight_decay, frequency
        dims = value.shape if value.dim() > 1 else ()
        # One statistic per dimension small enough (1-D parameters: none).
        self.stats = [torch.zeros(d, d, dtype=torch.float64) if d <= max_dim else None
                      for d in dims]
        self.bases = None
        self.m = torch.zeros_like(self.value)  # Adam's first moment, parameter space
        self.v = torch.zeros_like(self.value)  # second moment, rotated space
        self.t = 0

    def _rotate(self, x, back=False):
        for axis, basis in enumerate(self.bases or []):
            if basis is not None:
                x = torch.movedim(torch.tensordot(basis if back else basis.T, torch.movedim(
                    x, axis, 0), dims=1), 0, axis)
        return x

    def _accumulate(self, grad):
        for axis, stat in enumerate(self.stats):
            if stat is not None:
                flat = torch.movedim(grad, axis, 0).reshape(grad.shape[axis], -1)
                stat.mul_(self.beta2).add_(flat @ flat.T, alpha=1 - self.beta2)

    def _refresh(self):
        """One power iteration + QR per dimension, second moment reordered to match."""
        bases = []
        for axis, (stat, basis) in enumerate(zip(self.stats, self.bases)):
            if stat is None:
                bases.append(None)
                continue
            order = torch.argsort(torch.diag(basis.T @ stat @ basis), descending=True)
            self.v = self.v.index_select(axis, order)
            bases.append(torch.linalg.qr(stat @ basis[:, order])[0])
        self.bases = bases

    def step(self, grad):
        grad = grad.double()
        if self.bases is None:  # first step: statistics and eigenbases only
            self._accumulate(grad)
            self.bases = [None if s is None else _eigenbasis(s) for s in self.stats]
            return
        self.t += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * grad
        self.v = self.beta2 * self.v + (1 - self.beta2) * self._rotate(grad) ** 2
        step = (self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t))
        direction = self._rotate(self._rotate(self.m) / (self.v.sqrt() + EPS), back=True)
        self.value -= step * direction
        self.value *= 1 - self.lr * self.weight_decay
        self._accumulate(grad)
        if self.t % self.frequency == 0:
            self._refresh()


@pytest.mark.parametrize("warmup", [True, False], ids=["warm-up phase", "main phase"])
def test_one_step_at_a_time_matches_the_derivation(warmup):
    preset = make_preset("intra", 1e-3, 2000)
    phase: TrainerPhase = preset.warmup[0].phase if warmup else preset.phases[0]
    assert phase.betas_model == (0.95, 0.95)
    assert phase.betas_latent == ((0.725, 0.97) if warmup else (0.9, 0.999))
    assert phase.precondition_frequency_model == (1 if warmup else 10)

    torch.manual_seed(3)
    weight = torch.nn.Parameter(torch.randn(5, 4))
    bias = torch.nn.Parameter(torch.randn(5))
    latent = torch.nn.Parameter(torch.randn(1, 1, 3, 6))
    optimizer = make_optimizer([weight, bias], [latent], phase)
    references = [
        ReferenceSOAP(weight.data, phase.lr, phase.betas_model, NETWORK_WEIGHT_DECAY,
                      phase.precondition_frequency_model, MAX_PRECONDITIONED_DIM),
        ReferenceSOAP(bias.data, phase.lr, phase.betas_model, NETWORK_WEIGHT_DECAY,
                      phase.precondition_frequency_model, MAX_PRECONDITIONED_DIM),
        ReferenceSOAP(latent.data, phase.lr, phase.betas_latent, 0.0, 1, 0),
    ]
    start = [p.detach().clone() for p in (weight, bias, latent)]
    for step in range(12):  # past a refresh of the eigenbases in either phase
        for param, reference in zip((weight, bias, latent), references):
            grad = torch.randn_like(param)
            param.grad = grad.clone()
            reference.step(grad)
        optimizer.step()
        for param, reference in zip((weight, bias, latent), references):
            torch.testing.assert_close(param.data.double(), reference.value, rtol=1e-5,
                                       atol=1e-6, msg=f"step {step + 1}")
        if step == 0:  # the first step moves nothing
            assert all(torch.equal(p.data, s) for p, s in zip((weight, bias, latent), start))
    assert not torch.equal(weight.data, start[0])


def test_latents_are_plain_adam_after_the_first_step():
    """With preconditioning off, the latents' group is Adam (bias-corrected), one step late."""
    phase = make_preset("intra", 1e-3, 2000).phases[0]
    latent = torch.nn.Parameter(torch.zeros(1, 1, 2, 2))
    adam_latent = torch.nn.Parameter(torch.zeros(1, 1, 2, 2))
    optimizer = make_optimizer([], [latent], phase)
    adam = torch.optim.Adam([adam_latent], lr=phase.lr, betas=phase.betas_latent, eps=EPS)
    torch.manual_seed(0)
    grads = [torch.randn(1, 1, 2, 2) for _ in range(6)]
    latent.grad = grads[0]
    optimizer.step()  # set-up only
    for grad in grads[1:]:
        latent.grad, adam_latent.grad = grad.clone(), grad.clone()
        optimizer.step()
        adam.step()
    torch.testing.assert_close(latent.data, adam_latent.data, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("warmup", [True, False], ids=["warm-up phase", "main phase"])
def test_fixed_shape_steps_are_the_library_steps(warmup):
    """What a CUDA graph replays (FixedShapeSoap) moves the parameters as SOAP.step() does."""
    preset = make_preset("intra", 1e-3, 2000)
    phase = preset.warmup[0].phase if warmup else preset.phases[0]
    torch.manual_seed(4)
    values = [torch.randn(6, 4), torch.randn(6), torch.randn(3, 5, 1, 1), torch.randn(1, 1, 3, 6)]
    copies = []
    for _ in range(2):
        params = [torch.nn.Parameter(v.clone()) for v in values]
        copies.append((params, make_optimizer(params[:3], params[3:], phase)))
    (library_params, library), (fixed_params, fixed_optimizer) = copies
    fixed = FixedShapeSoap(fixed_optimizer)
    for step in range(25):  # two refreshes of the eigenbases in the main phase
        if step == 13:  # a learning-rate schedule changes lr between steps
            for optimizer in (library, fixed_optimizer):
                for group in optimizer.param_groups:
                    group["lr"] *= 0.5
        grads = [torch.randn_like(v) for v in values]
        for params in (library_params, fixed_params):
            for param, grad in zip(params, grads):
                param.grad = grad.clone()
        library.step()
        if not fixed.started:
            fixed_optimizer.step()  # the library's set-up step
        else:
            fixed.prepare()
            fixed.update()
            fixed.refresh()
        for a, b in zip(library_params, fixed_params):
            torch.testing.assert_close(b.data, a.data, rtol=1e-5, atol=1e-7, msg=f"step {step}")
    assert not torch.equal(fixed_params[0].data, values[0])
    for a, b in zip(library_params, fixed_params):
        sa, sb = library.state[a], fixed_optimizer.state[b]
        torch.testing.assert_close(sb["exp_avg_sq"], sa["exp_avg_sq"], rtol=1e-5, atol=1e-9)
        for qa, qb in zip(sa["Q"], sb["Q"]):
            if len(qa):
                torch.testing.assert_close(qb, qa, rtol=1e-4, atol=1e-6)


def test_fixed_shape_soap_refuses_other_settings():
    phase = make_preset("intra", 1e-3, 2000).phases[0]
    optimizer = make_optimizer([torch.nn.Parameter(torch.zeros(2, 2))], [], phase)
    optimizer.param_groups[0]["merge_dims"] = True
    with pytest.raises(ValueError, match="make_optimizer's SOAP settings"):
        FixedShapeSoap(optimizer)
