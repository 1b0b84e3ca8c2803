# SPDX-License-Identifier: BSD-3-Clause
"""Bjontegaard delta rate (BD-rate) between two rate-distortion curves.

The rate is interpolated as a function of PSNR, in log domain, over the PSNR
range both curves cover; the BD-rate is ``exp(mean log-rate difference) - 1``
in percent (negative: the candidate needs less rate for the same quality).

* ``pchip``: piecewise cubic Hermite interpolation through the points with
  Fritsch-Carlson slopes (monotone, no overshoot), integrated exactly;
* ``cubic``: Bjontegaard's original least-squares cubic fit (needs 4 points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

INTERPOLATIONS = ("pchip", "cubic")


class CurveError(ValueError):
    """A rate-distortion curve cannot be used for a BD-rate."""


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    h = np.diff(x)
    delta = np.diff(y) / h
    n = len(x)
    slopes = np.zeros(n)
    if n == 2:
        return np.full(n, delta[0])
    for k in range(1, n - 1):
        if delta[k - 1] * delta[k] > 0:
            w1 = 2 * h[k] + h[k - 1]
            w2 = h[k] + 2 * h[k - 1]
            slopes[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    slopes[0] = _end_slope(h[0], h[1], delta[0], delta[1])
    slopes[-1] = _end_slope(h[-1], h[-2], delta[-1], delta[-2])
    return slopes


def _end_slope(h0: float, h1: float, d0: float, d1: float) -> float:
    """One-sided three-point slope at an end, kept shape-preserving."""
    slope = ((2 * h0 + h1) * d0 - h0 * d1) / (h0 + h1)
    if np.sign(slope) != np.sign(d0):
        return 0.0
    if np.sign(d0) != np.sign(d1) and abs(slope) > abs(3 * d0):
        return 3 * d0
    return slope


def pchip_integral(x: Sequence[float], y: Sequence[float], low: float, high: float) -> float:
    """Integral over [low, high] of the pchip interpolant through (x, y), x increasing."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    slopes = _pchip_slopes(x, y)
    total = 0.0
    for k in range(len(x) - 1):
        a, b = max(low, x[k]), min(high, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        # Hermite cubic on [x_k, x_k+1] in t = (s - x_k) / h, integrated over [ta, tb].
        cubic = (y[k], slopes[k] * h,
                 3 * (y[k + 1] - y[k]) - (2 * slopes[k] + slopes[k + 1]) * h,
                 2 * (y[k] - y[k + 1]) + (slopes[k] + slopes[k + 1]) * h)
        total += h * (_cubic_antiderivative(cubic, (b - x[k]) / h)
                      - _cubic_antiderivative(cubic, (a - x[k]) / h))
    return total


def _cubic_antiderivative(cubic: tuple[float, float, float, float], t: float) -> float:
    """The antiderivative at ``t`` of ``c0 + c1 t + c2 t^2 + c3 t^3``, zero at 0."""
    c0, c1, c2, c3 = cubic
    return c0 * t + c1 * t**2 / 2 + c2 * t**3 / 3 + c3 * t**4 / 4


def _prepare(rate: Sequence[float], psnr: Sequence[float], what: str) -> tuple[np.ndarray, ...]:
    rate, psnr = np.asarray(rate, float), np.asarray(psnr, float)
    if rate.shape != psnr.shape or rate.ndim != 1:
        raise CurveError(f"{what}: rate and PSNR lists differ in length")
    if len(rate) < 2:
        raise CurveError(f"{what}: a BD-rate needs at least 2 points, found {len(rate)}")
    if not (np.all(np.isfinite(rate)) and np.all(np.isfinite(psnr)) and np.all(rate > 0)):
        raise CurveError(f"{what}: rates must be positive and PSNRs finite")
    order = np.argsort(psnr)
    psnr, log_rate = psnr[order], np.log(rate[order])
    if np.any(np.diff(psnr) <= 0):
        raise CurveError(f"{what}: two points have the same PSNR")
    return psnr, log_rate


def bd_rate(
    ref_rate: Sequence[float],
    ref_psnr: Sequence[float],
    rate: Sequence[float],
    psnr: Sequence[float],
    interpolation: str = "pchip",
) -> float:
    """BD-rate in percent of (rate, psnr) against the reference curve."""
    if interpolation not in INTERPOLATIONS:
        raise CurveError(f"interpolation {interpolation!r}: use one of {INTERPOLATIONS}")
    ref_q, ref_lr = _prepare(ref_rate, ref_psnr, "reference")
    q, lr = _prepare(rate, psnr, "candidate")
    low, high = max(ref_q[0], q[0]), min(ref_q[-1], q[-1])
    if high <= low:
        raise CurveError(
            f"the curves share no PSNR range (reference {ref_q[0]:.2f}-{ref_q[-1]:.2f} dB, "
            f"candidate {q[0]:.2f}-{q[-1]:.2f} dB)"
        )
    if interpolation == "pchip":
        ref_area = pchip_integral(ref_q, ref_lr, low, high)
        area = pchip_integral(q, lr, low, high)
    else:
        if len(ref_q) < 4 or len(q) < 4:
            raise CurveError("the cubic BD-rate needs at least 4 points per curve")
        ref_fit, fit = np.polyint(np.polyfit(ref_q, ref_lr, 3)), np.polyint(np.polyfit(q, lr, 3))
        ref_area = np.polyval(ref_fit, high) - np.polyval(ref_fit, low)
        area = np.polyval(fit, high) - np.polyval(fit, low)
    return 100.0 * (math.exp((area - ref_area) / (high - low)) - 1.0)
