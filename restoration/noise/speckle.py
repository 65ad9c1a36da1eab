"""Multiplicative (speckle) noise: ``y = x (1 + sigma n)``, ``sigma`` relative (unitless).

Stabilized by the log transform: ``log y = log x + log(1 + sigma n)``, additive noise whose mean
``m(sigma)`` and std ``s(sigma)`` are computed numerically (``log(1 + sigma n)`` is not exactly
Gaussian and has mean ``~ -sigma**2 / 2``). :meth:`from_gaussian` removes that bias:
``x = exp(restored - m(sigma))``. Values ``<= 0`` (dark pixels, or ``1 + sigma n < 0``) are floored
at ``1e-3`` of the data's 99th percentile before the log.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..types import NoiseModel, Observation
from .common import gaussian_logpdf, mean_finite, observation, pairs, param, simulate_on_finite
from .estimate import as_float, finite_values, fit_variance, local_variance_stats, robust_range

_CLAMP = 0.02   # 1 + sigma n below this is treated as this (matches the floor applied to the data)


@lru_cache(maxsize=256)
def log_noise_moments(sigma: float) -> tuple[float, float]:
    """Mean and std of ``log(max(1 + sigma n, 0.02))`` for standard normal ``n`` (numerical).

    Examples
    --------
    >>> m, s = log_noise_moments(0.1)
    >>> round(m, 4), round(s, 4)
    (-0.0051, 0.1013)
    """
    if sigma <= 0:
        return 0.0, 0.0
    n = np.linspace(-10.0, 10.0, 20001)
    w = np.exp(-0.5 * n * n)
    w /= w.sum()
    v = np.log(np.maximum(1.0 + sigma * n, _CLAMP))
    mean = float(np.sum(w * v))
    return mean, float(math.sqrt(np.sum(w * (v - mean) ** 2)))


def _log_floor(noisy: np.ndarray) -> float:
    v = finite_values(noisy)
    top = float(np.percentile(v, 99)) if v.size else 1.0
    return 1e-3 * top if top > 0 else 1e-3


class SpeckleNoise(NoiseModel):
    """Multiplicative Gaussian noise ``y = x (1 + sigma n)``.

    Examples
    --------
    >>> model = SpeckleNoise()
    >>> clean = np.tile(np.linspace(0.1, 1, 128), (128, 1))
    >>> noisy = model.simulate(clean, np.random.default_rng(0), sigma=0.2)
    >>> abs(model.estimate(noisy)["sigma"] / 0.2 - 1) < 0.1
    True
    """

    name = "speckle"
    params = ("sigma",)
    example_params = {"sigma": 0.2}

    def simulate(self, clean: np.ndarray, rng: np.random.Generator, **params: float) -> np.ndarray:
        """``clean * (1 + sigma n)``; missing pixels stay NaN."""
        sigma = param(params, "sigma", self.name)
        return simulate_on_finite(clean, lambda x: x * (1.0 + sigma * rng.standard_normal(x.shape)))

    def estimate(self, noisy: np.ndarray) -> dict[str, float]:
        """``{"sigma": ...}`` from a fit of ``var = sigma**2 mean**2`` over smooth regions."""
        s2, _ = fit_variance(*local_variance_stats(noisy), kind="quadratic")
        return {"sigma": math.sqrt(max(s2, 0.0))}

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Gaussian density with std ``sigma * max(|x|, 1e-3 * data range)`` (finite at x = 0)."""
        sigma = max(param(params, "sigma", self.name), 1e-6)
        y, x = pairs(noisy, clean)
        scale = np.maximum(np.abs(x), 1e-3 * robust_range(noisy))
        return mean_finite(gaussian_logpdf(y - x, (sigma * scale) ** 2))

    def to_gaussian(self, noisy: np.ndarray, **params: float) -> Observation:
        """``log(max(y, floor))`` with the std of ``log(1 + sigma n)``."""
        sigma = param(params, "sigma", self.name)
        y = as_float(noisy)
        with np.errstate(invalid="ignore"):
            data = np.log(np.maximum(y, _log_floor(y)))       # NaN stays NaN, then is masked
        return observation(data, log_noise_moments(round(sigma, 12))[1])

    def from_gaussian(self, restored: np.ndarray, **params: float) -> np.ndarray:
        """``exp(restored - m(sigma))``: undoes the log and its bias."""
        sigma = param(params, "sigma", self.name)
        return np.exp(as_float(restored) - log_noise_moments(round(sigma, 12))[0])
