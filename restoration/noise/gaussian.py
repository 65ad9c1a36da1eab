"""Additive white Gaussian noise: ``y = x + sigma * n`` with ``sigma`` in the data's units."""

from __future__ import annotations

import numpy as np

from ..types import NoiseModel, Observation
from .common import gaussian_logpdf, mean_finite, observation, pairs, param, simulate_on_finite
from .estimate import as_float, robust_range, wavelet_sigma


def sigma_floor(noisy: np.ndarray) -> float:
    """Smallest sigma a likelihood uses: keeps densities finite on noise-free data."""
    return 1e-6 * robust_range(noisy)


class GaussianNoise(NoiseModel):
    """Additive white Gaussian noise.

    Examples
    --------
    >>> model = GaussianNoise()
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 1, 128), (128, 1))
    >>> noisy = model.simulate(clean, rng, sigma=0.1)
    >>> round(model.estimate(noisy)["sigma"], 2)
    0.1
    """

    name = "gaussian"
    params = ("sigma",)
    example_params = {"sigma": 0.1}

    def simulate(self, clean: np.ndarray, rng: np.random.Generator, **params: float) -> np.ndarray:
        """``clean + sigma * n``; missing (non-finite) pixels stay NaN."""
        sigma = param(params, "sigma", self.name)
        return simulate_on_finite(clean, lambda x: x + sigma * rng.standard_normal(x.shape))

    def estimate(self, noisy: np.ndarray) -> dict[str, float]:
        """``{"sigma": ...}`` from the masked wavelet MAD (:func:`~.estimate.wavelet_sigma`)."""
        return {"sigma": wavelet_sigma(noisy)}

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Mean Gaussian log density per pixel of ``noisy - clean`` (sigma floored, so finite)."""
        sigma = max(param(params, "sigma", self.name), sigma_floor(noisy))
        y, x = pairs(noisy, clean)
        return mean_finite(gaussian_logpdf(y - x, sigma * sigma))

    def to_gaussian(self, noisy: np.ndarray, **params: float) -> Observation:
        """The data itself, with ``sigma``; missing pixels filled and masked."""
        return observation(noisy, param(params, "sigma", self.name))

    def from_gaussian(self, restored: np.ndarray, **params: float) -> np.ndarray:
        """Identity (as float)."""
        return as_float(restored)
