# SPDX-License-Identifier: BSD-3-Clause
"""The optimizer Cool-chic 5.0.1 trains with: SOAP for the networks, Adam for the latents.

SOAP (N. Vyas et al., "SOAP: Improving and Stabilizing Shampoo using Adam",
2024) runs Adam in the eigenbasis of Shampoo's preconditioner: for a weight
matrix with gradient G it keeps L = EMA(G G^T) and R = EMA(G^T G), refreshes
their eigenvectors Q_L, Q_R every ``precondition_frequency`` steps (one round
of power iteration and a QR decomposition; an eigendecomposition the first
time), and moves the weights by ``Q_L (m' / (sqrt(v') + eps)) Q_R^T`` where m'
and v' are Adam's moments of ``Q_L^T G Q_R``. Every dimension gets its own
preconditioner (up to 256, larger ones none), 1-D parameters (biases, the
upsampling's half kernels) none: for them SOAP is Adam. As in SOAP's
reference implementation, the first step only sets the preconditioners up.

Cool-chic 5.0.1's settings, per training phase:

* networks: betas ``betas_model`` ((0.95, 0.95)), decoupled weight decay
  0.01, eigenbasis refresh every ``precondition_frequency_model`` steps (1 in
  the warm-up, 10 afterwards), no merging of dimensions;
* latents: preconditioning off (no dimension is small enough), so Adam with
  betas ``betas_latent`` ((0.725, 0.97) in the warm-up, (0.9, 0.999)
  afterwards) and no weight decay.

The implementation is pytorch-optimizer's ``SOAP``: it keeps Adam's first
moment in the parameters' own space and projects it at each step, where the
reference keeps it projected and rotates it when the basis changes; by
linearity both give the same update (tests/test_optimizer.py checks it
against a derivation from the paper's equations).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from pytorch_optimizer import SOAP
from torch import Tensor, nn

if TYPE_CHECKING:
    from coolchic.presets import TrainerPhase

NETWORK_WEIGHT_DECAY = 0.01
#: Largest dimension that gets a preconditioner (Cool-chic's networks are far smaller).
MAX_PRECONDITIONED_DIM = 256


def make_optimizer(
    networks: list[nn.Parameter], latents: list[nn.Parameter], phase: TrainerPhase
) -> SOAP:
    """SOAP with Cool-chic 5.0.1's two parameter groups for one training phase."""
    common = {"lr": phase.lr, "merge_dims": False, "precondition_1d": False,
              "normalize_gradient": False, "correct_bias": True, "eps": 1e-8}
    return SOAP([
        {"params": networks, "betas": phase.betas_model, "weight_decay": NETWORK_WEIGHT_DECAY,
         "precondition_frequency": phase.precondition_frequency_model,
         "max_precondition_dim": MAX_PRECONDITIONED_DIM, **common},
        {"params": latents, "betas": phase.betas_latent, "weight_decay": 0.0,
         "precondition_frequency": 1, "max_precondition_dim": 0, **common},
    ])


class FixedShapeSoap:
    """The same SOAP steps as fixed tensor operations that a CUDA graph can hold.

    After the library's first ``step()`` (which creates the state), each step
    is split in three:

    * :meth:`prepare` (Python): counts the step and writes this step's step
      size and weight-decay factor, which change with the step count and the
      learning-rate schedule, into device scalars;
    * :meth:`update` (tensors only, no host sync): SOAP's update of every
      parameter and of its preconditioner statistics, on the state tensors in
      place, so that a graph that recorded it once replays it on the current
      values;
    * :meth:`refresh` (Python, not in a graph): when due, the library's own
      eigenbasis refresh (power iteration, QR, reordering of the second
      moment), copied back into the same state tensors.

    Only the settings :func:`make_optimizer` uses are supported (no merged
    dimensions, no 1-D preconditioning, no gradient normalisation, bias
    correction on). The result is the library's up to float rounding.
    """

    def __init__(self, optimizer: SOAP) -> None:
        for group in optimizer.param_groups:
            if (group["merge_dims"] or group["precondition_1d"] or group["normalize_gradient"]
                    or not group["correct_bias"] or optimizer.maximize):
                raise ValueError("FixedShapeSoap supports make_optimizer's SOAP settings only")
        self.optimizer = optimizer
        device = optimizer.param_groups[0]["params"][0].device
        # Per group: minus the step size, and the decoupled weight-decay factor.
        self._scalars = [(torch.zeros((), device=device), torch.ones((), device=device))
                         for _ in optimizer.param_groups]

    @property
    def started(self) -> bool:
        """Whether the library's first step has created the state."""
        return all(group.get("step", 0) >= 1 for group in self.optimizer.param_groups)

    def _stepped(self):
        for group, scalars in zip(self.optimizer.param_groups, self._scalars):
            params = [p for p in group["params"] if p.grad is not None and self.optimizer.state[p]]
            yield group, scalars, params

    def prepare(self) -> None:
        for group, (neg_step, decay) in zip(self.optimizer.param_groups, self._scalars):
            group["step"] += 1
            t = group["step"] - 1
            beta1, beta2 = group["betas"]
            step_size = group["lr"] * math.sqrt(1.0 - beta2**t) / (1.0 - beta1**t)
            neg_step.fill_(-step_size)
            decay.fill_(1.0 - group["weight_decay"] * group["lr"])

    @torch.no_grad()
    def update(self) -> None:
        for group, (neg_step, decay), params in self._stepped():
            beta1, beta2 = group["betas"]
            for p in params:
                state, grad = self.optimizer.state[p], p.grad
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1.0 - beta1)
                exp_avg_sq.lerp_(_rotate(grad, state["Q"]).square(), 1.0 - beta2)
                rotated = _rotate(exp_avg, state["Q"]) / (exp_avg_sq.sqrt() + group["eps"])
                p.addcmul_(_rotate(rotated, state["Q"], back=True), neg_step)
                if group["weight_decay"] != 0.0:
                    p.mul_(decay)
                for axis, stat in enumerate(state["GG"]):
                    if len(stat):
                        others = [d for d in range(grad.dim()) if d != axis]
                        stat.lerp_(torch.tensordot(grad, grad, dims=[others, others]),
                                   1.0 - state["shampoo_beta"])

    @torch.no_grad()
    def refresh(self) -> None:
        for group, _, params in self._stepped():
            t = group["step"] - 1
            for p in params:
                state = self.optimizer.state[p]
                if not (t > 0 and t % state["precondition_frequency"] == 0):
                    continue
                if not any(len(stat) for stat in state["GG"]):
                    continue  # nothing preconditioned: the refresh changes nothing
                second_moment = state["exp_avg_sq"]
                bases = self.optimizer.get_orthogonal_matrix_qr(
                    state, group["max_precondition_dim"], False)
                for old, new in zip(state["Q"], bases):
                    if len(old):
                        old.copy_(new)
                second_moment.copy_(state["exp_avg_sq"])
                state["exp_avg_sq"] = second_moment


def _rotate(x: Tensor, bases: list, back: bool = False) -> Tensor:
    """``x`` in the eigenbases (or back): one contraction per dimension, as SOAP's library does."""
    for basis in bases:
        if len(basis):
            x = torch.tensordot(x, basis, dims=[[0], [1 if back else 0]])
        else:
            x = x.permute(*range(1, x.dim()), 0)
    return x
