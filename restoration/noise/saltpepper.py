"""Salt-and-pepper (impulse) noise: a fraction ``amount`` of pixels replaced by the data's min or max.

Impulses are told from clean saturated regions by their neighbourhood: an extreme-valued pixel is an
impulse when the 3x3 median around it is not at that extreme. Their ``amount`` is estimated where the
clean image is far from the extremes (the median is more than 10 % of the range away), so clean
pile-ups at the extremes do not count, and impulses are uniform, so that region's rate is unbiased.

The model behind :meth:`log_likelihood`: with probability ``amount / 2`` each extreme, a point mass
spread over one quantization step; otherwise Gaussian, with the RMS residual of the non-extreme
pixels as std (floored at 1e-3 of the range). :meth:`to_gaussian` reports as sigma the Gaussian noise
left once impulses are replaced by their 3x3 median (wavelet MAD), with the same floor.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ..types import NoiseModel, Observation
from .common import gaussian_logpdf, mean_finite, observation, pairs, param
from .estimate import as_float, quantization_step, robust_range, sample_planes, wavelet_sigma


def extremes(data: np.ndarray) -> tuple[float, float]:
    """The finite minimum and maximum of ``data``."""
    a = np.asarray(data, dtype=np.float64)
    finite = a[np.isfinite(a)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)


def _median3(data: np.ndarray) -> np.ndarray:
    """3x3 median over the last two axes; missing pixels are filled first so they do not spread."""
    a = np.array(data, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        a[bad] = np.median(a[~bad]) if (~bad).any() else 0.0
    size = (1,) * (a.ndim - 2) + (3, 3)
    return ndimage.median_filter(a, size=size, mode="reflect")


def impulse_mask(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, median)``: extreme-valued pixels outside clean saturated regions, and the 3x3 median.

    Examples
    --------
    >>> x = np.full((5, 5), 0.5); x[2, 2] = 1.0; x[0, 0] = 0.0
    >>> int(impulse_mask(x)[0].sum())
    2
    """
    a = np.asarray(data, dtype=np.float64)
    lo, hi = extremes(a)
    med = _median3(a)
    with np.errstate(invalid="ignore"):
        mask = ((a >= hi) & (med < hi)) | ((a <= lo) & (med > lo))
    return mask & (hi > lo), med


def residual_sigma(noisy: np.ndarray) -> float:
    """Std of the non-impulse noise: wavelet MAD with impulses replaced by their 3x3 median."""
    sample = sample_planes(noisy)
    mask, med = impulse_mask(sample)
    filled = np.where(mask, med, sample)
    return max(wavelet_sigma(filled), 1e-3 * robust_range(noisy))


class SaltPepperNoise(NoiseModel):
    """Salt-and-pepper impulse noise.

    Examples
    --------
    >>> model = SaltPepperNoise()
    >>> clean = np.tile(np.linspace(0, 1, 128), (128, 1))
    >>> noisy = model.simulate(clean, np.random.default_rng(0), amount=0.1)
    >>> abs(model.estimate(noisy)["amount"] / 0.1 - 1) < 0.1
    True
    """

    name = "salt-and-pepper"
    params = ("amount",)
    nests = ("gaussian",)          # amount = 0
    impulse_fraction = "amount"
    example_params = {"amount": 0.1}

    def simulate(self, clean: np.ndarray, rng: np.random.Generator, **params: float) -> np.ndarray:
        """Replace each finite pixel with probability ``amount/2`` by the max, ``amount/2`` by the min."""
        amount = param(params, "amount", self.name)
        x = np.array(clean, dtype=np.float64)
        lo, hi = extremes(x)
        u = rng.random(x.shape)
        finite = np.isfinite(x)
        x[(u < amount / 2) & finite] = hi
        x[(u >= amount / 2) & (u < amount) & finite] = lo
        return x

    def estimate(self, noisy: np.ndarray) -> dict[str, float]:
        """``{"amount": ...}``: the rate of each extreme where the clean data is far from it."""
        a = sample_planes(noisy)
        lo, hi = extremes(a)
        if hi <= lo:
            return {"amount": 0.0}
        med = _median3(a)
        finite = np.isfinite(a)
        margin = 0.1 * (hi - lo)
        amount = 0.0
        with np.errstate(invalid="ignore"):
            sides = ((a >= hi, med < hi - margin, med < hi), (a <= lo, med > lo + margin, med > lo))
        for at, far, not_saturated in sides:
            region = far & finite
            if region.sum() < 0.01 * finite.sum():      # nearly all near this extreme: use the rest
                region = not_saturated & finite
            # A continuous clean distribution reaches each extreme once: that pixel is not noise.
            amount += max(int((at & region).sum()) - 1, 0) / max(int(region.sum()), 1)
        return {"amount": float(min(amount, 1.0))}

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Mixture: impulses as ``amount/2`` over one quantization step at each extreme, else Gaussian."""
        amount = min(param(params, "amount", self.name), 1.0)
        lo, hi = extremes(noisy)
        step = quantization_step(noisy)
        y, x = pairs(noisy, clean)
        at = (y >= hi) | (y <= lo)
        r = y - x
        # The non-impulse part: Gaussian with the RMS residual of the other pixels (its ML std
        # given ``clean``), floored at 1e-3 of the range for noise-free data.
        rest = r[~at]
        sigma = max(math.sqrt(float(np.mean(rest * rest))) if rest.size else 0.0, 1e-3 * robust_range(noisy))
        terms = gaussian_logpdf(r, sigma * sigma)
        terms = terms + (math.log1p(-amount) if amount < 1 else -1e6)
        if amount > 0:
            impulse = math.log(amount / 2 / step)
            terms[at] = np.logaddexp(terms[at], impulse)
        return mean_finite(terms)

    def to_gaussian(self, noisy: np.ndarray, **params: float) -> Observation:
        """The data with impulses (and missing pixels) masked; sigma is the residual noise std."""
        mask, _ = impulse_mask(noisy)
        return observation(noisy, residual_sigma(noisy), mask)

    def from_gaussian(self, restored: np.ndarray, **params: float) -> np.ndarray:
        """Identity (as float)."""
        return as_float(restored)
