"""A restoration plugin adding the ``uniform`` noise model: ``y = x + U(-amplitude, amplitude)``.

Uniform noise is what coarse quantization and some dithering leave behind. The host finds this
module through the entry point in pyproject.toml and calls the hook below.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import erf

from restoration import NoiseModel, Observation, hookimpl

SQRT3 = float(np.sqrt(3.0))
SMOOTH = 0.33  # std fraction of the residual attributed to the clean estimate's own error


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[np.isfinite(x)]


def _noise_std(noisy: np.ndarray) -> float:
    """Std of white additive noise from the finest diagonal wavelet band (robust to edges).

    The band mixes 16 pixels, so whatever the noise's shape its coefficients are close to
    Gaussian and the median absolute deviation gives their std.
    """
    import pywt

    data = np.nan_to_num(np.asarray(noisy, dtype=np.float64), nan=float(np.nanmedian(noisy)))
    planes = data.reshape(-1, *data.shape[-2:])
    coeffs = np.concatenate([pywt.dwt2(p, "db2")[1][2].ravel() for p in planes])
    return float(np.median(np.abs(coeffs)) / 0.6745)


class UniformNoise(NoiseModel):
    """Additive uniform noise of half-width ``amplitude`` (std ``amplitude / sqrt(3)``)."""

    name: ClassVar[str] = "uniform"
    params: ClassVar[tuple[str, ...]] = ("amplitude",)
    example_params: ClassVar[dict[str, float]] = {"amplitude": 0.15}

    def simulate(self, clean, rng, *, amplitude: float):
        clean = np.asarray(clean, dtype=np.float64)
        return clean + rng.uniform(-amplitude, amplitude, clean.shape)

    def estimate(self, noisy):
        return {"amplitude": SQRT3 * _noise_std(noisy)}

    def log_likelihood(self, noisy, clean, *, amplitude: float):
        r = _finite(np.asarray(noisy, np.float64) - np.asarray(clean, np.float64))
        a = max(float(amplitude), 1e-12)
        # A clean estimate is never exact: its error (a weighted mean of neighbouring noise) is
        # near-Gaussian. Model the residual as a narrower box convolved with a Gaussian holding
        # SMOOTH of the variance, which keeps the density positive (finite log-likelihood).
        s = SMOOTH * a / SQRT3
        half = a * np.sqrt(1 - SMOOTH**2)
        density = (erf((r + half) / (s * np.sqrt(2))) - erf((r - half) / (s * np.sqrt(2)))) / (4 * half)
        return float(np.mean(np.log(np.maximum(density, 1e-300))))

    def to_gaussian(self, noisy, *, amplitude: float):
        # Same variance: a Gaussian denoiser handles it well (the residual is near-Gaussian after
        # any averaging, and a diffusion model's Tweedie step only needs the variance). Missing
        # pixels are filled and masked: the denoiser reconstructs them.
        y = np.asarray(noisy, dtype=np.float64)
        missing = ~np.isfinite(y)
        data = np.where(missing, np.median(y[~missing]) if (~missing).any() else 0.0, y)
        return Observation(data, amplitude / SQRT3, missing if missing.any() else None)

    def from_gaussian(self, restored, *, amplitude: float):
        return restored


@hookimpl
def restoration_noise_models():
    return [UniformNoise()]
