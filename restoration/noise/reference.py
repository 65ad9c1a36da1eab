"""The host's clean estimate for likelihood-based noise selection, and where to trust it.

:func:`clean_estimate` is a linear, impulse- and NaN-aware local average whose residual
``noisy - estimate`` carries exactly the noise variance; :func:`smooth_pixels` picks the pixels where
that residual is noise rather than texture the average cannot follow.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .estimate import local_variance_stats, planes_of

#: Size of the clean estimate's kernel (see :func:`_calibrated_kernel`).
KERNEL_RADIUS, KERNEL_WIDTH = 2, 1.2
#: Likelihoods are compared where local residual energy <= this times the expected noise variance.
STRUCTURE_RATIO = 1.3
#: Fraction of the smoothest wavelet coefficients per intensity bin that set the expected noise
#: variance: stricter than the estimators' 0.3, since in some bins every region is textured.
REFERENCE_KEEP = 0.15
_OUTLIER = 0.2   # an extreme value this far (fraction of the range) from its 3x3 median is an impulse


def _calibrated_kernel(radius: int, width: float) -> np.ndarray:
    """Gaussian-weighted neighbours plus a centre weight w0 chosen so that sum(w**2) == 2 * w0.

    Then ``noisy - kernel * noisy`` has exactly the noise variance (for any spatially smooth noise
    variance), so each model's likelihood sees residuals of the right spread; a wider kernel makes
    the estimate itself less noisy (it sets the variance of heteroscedastic models) but follows
    texture less well. With u the neighbour weights (summing to 1) and q = sum(u**2),
    w0 = 1 - 1/sqrt(1 + q).
    """
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    u = np.exp(-(yy * yy + xx * xx) / (2.0 * width * width))
    u[radius, radius] = 0.0
    u /= u.sum()
    w0 = 1.0 - 1.0 / math.sqrt(1.0 + float(np.sum(u * u)))
    kernel = (1.0 - w0) * u
    kernel[radius, radius] = w0
    return kernel


_KERNEL = _calibrated_kernel(KERNEL_RADIUS, KERNEL_WIDTH)


def reference(noisy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clean estimate (NaN where no neighbour is usable) and the impulse-like outliers it ignored.

    Returns
    -------
    estimate, outlier : ndarray
        float64 estimate and bool mask, both of ``noisy``'s shape.
    """
    a = np.asarray(noisy, dtype=np.float64)
    p = planes_of(a)
    finite = np.isfinite(p)
    if not finite.any():
        return np.full(a.shape, np.nan), np.zeros(a.shape, bool)
    lo, hi = float(p[finite].min()), float(p[finite].max())
    filled = np.where(finite, p, 0.0)
    size = (1, 3, 3)
    med = ndimage.median_filter(np.where(finite, p, np.median(p[finite])), size=size, mode="reflect")
    # Impulses (extreme values far from their neighbourhood) and missing pixels get no weight:
    # a linear average would smear impulses, while Poisson zeros near dark regions stay in.
    outlier = ((p == lo) | (p == hi)) & (np.abs(p - med) > _OUTLIER * (hi - lo))
    valid = (finite & ~outlier).astype(np.float64)
    k = _KERNEL[None]
    num = ndimage.correlate(filled * valid, k, mode="reflect")
    den = ndimage.correlate(valid, k, mode="reflect")
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(den > 1e-9, num / den, np.nan)
    return est.reshape(a.shape), outlier.reshape(a.shape)


def smooth_pixels(sample: np.ndarray, ref: np.ndarray, outlier: np.ndarray) -> np.ndarray:
    """Pixels where the clean estimate's error (texture a local average cannot follow) is small.

    That error is not noise, and where it is large it would decide the selection. A pixel is kept
    when the mean square residual of its 7x7 neighbourhood (itself and impulses left out, so the
    choice hardly depends on its own noise) is at most :data:`STRUCTURE_RATIO` times the noise
    variance expected at its intensity, read off the smooth-region statistics of
    :func:`~.estimate.local_variance_stats` (no model assumed).
    """
    finite = np.isfinite(ref) & np.isfinite(sample)
    # Impulses would dominate the local variances: measure them on the data without impulses.
    mean, var, _ = local_variance_stats(np.where(outlier, ref, sample), keep=REFERENCE_KEEP)
    if mean.size < 2:
        return finite
    r = np.where(finite & ~outlier, sample - ref, np.nan)
    use = np.isfinite(r)
    r2 = np.where(use, r * r, 0.0)
    size = (1,) * (r.ndim - 2) + (7, 7)
    num = ndimage.uniform_filter(r2, size, mode="reflect") * 49 - r2
    den = ndimage.uniform_filter(use.astype(np.float64), size, mode="reflect") * 49 - use
    x = np.where(finite, ref, 0.0)
    expected = np.interp(x, mean, np.maximum(var, np.finfo(float).tiny))
    # Below the darkest bin the variance may fall as fast as x**2 (speckle): extrapolate that way,
    # so edges next to noise-free black regions are not taken for smooth.
    if mean[0] > 0:
        below = x < mean[0]
        expected[below] *= (np.maximum(x[below], 0.0) / mean[0]) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        keep = finite & (den > 10) & (num / np.maximum(den, 1) <= STRUCTURE_RATIO * expected)
    if keep.sum() < 0.05 * finite.sum():       # nothing smooth enough: compare on every pixel
        return finite
    return keep


def clean_estimate(noisy: np.ndarray) -> np.ndarray:
    """A fast clean estimate: an impulse- and NaN-aware 5x5 weighted mean over the last two axes.

    The weights (see :func:`_calibrated_kernel`) make ``noisy - clean_estimate(noisy)`` carry
    exactly the noise variance, so a likelihood evaluated on it is not biased towards models with a
    smaller or larger spread. Impulses (extreme values far from their 3x3 median) and missing pixels
    are left out of the averages; pixels with no usable neighbour keep their value.

    Parameters
    ----------
    noisy : ndarray
        Data of any ndim >= 2 (planes over the last two axes); NaN/inf are missing.

    Returns
    -------
    ndarray
        float64, same shape; missing pixels get their neighbours' average (NaN if none is finite).

    Examples
    --------
    >>> x = np.full((4, 4), 0.5); x[1, 1] = 1.0; x[2, 2] = np.nan
    >>> est = clean_estimate(x)
    >>> float(est[1, 1]), float(est[2, 2])
    (0.5, 0.5)
    """
    est, _ = reference(noisy)
    a = np.asarray(noisy, dtype=np.float64)
    return np.where(np.isfinite(est), est, a)
