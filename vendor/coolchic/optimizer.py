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

from typing import TYPE_CHECKING

from pytorch_optimizer import SOAP
from torch import nn

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
