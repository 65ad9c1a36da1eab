"""Poisson and Poisson-Gaussian noise, stabilized by the generalized Anscombe transform (GAT).

Model (data units): ``y = gain * Poisson((x - offset) / gain) + offset + sigma * n``; ``gain`` is
input units per detected event (ADU per photon for a camera), ``sigma`` the read noise and
``offset`` the dark level (pedestal). ``poisson`` is the case ``sigma = 0``.

Parameters. ``poisson-gaussian`` has three: ``gain``, ``sigma``, ``offset`` (all noise.csv columns,
all fixable by the user: ``--gain``, ``--read-noise`` / ``--sigma``, ``--offset``, ``--dark``). The
variance-mean line ``var = gain * (mean - offset) + sigma**2`` only identifies
``b = sigma**2 - gain * offset``, and the GAT only depends on ``b`` (its exact inverse and noise
level at a few counts also on the split); the split is
estimated by :func:`~.camera.estimate_camera` (the dark background for count data) and
:meth:`PoissonGaussianNoise.estimate` also returns the note ``offset_basis`` (how the offset was
found; ``unidentified`` when the data cannot tell, the pair then being one member of the class).
``estimate`` takes the user's fixed values as keywords and estimates the rest consistently.
``poisson`` has only ``gain`` and assumes no pedestal when estimating (a through-origin fit,
markedly more accurate); pass ``offset`` to its maps to use a known one.

Likelihoods. ``poisson`` is discrete: the Poisson pmf of ``k = round((y - offset) / gain)`` minus
``log(gain)`` (the log of the unit step), so it is a density in data units; negative counts get a
steep, finite penalty (10 nats plus the squared count deficit) instead of -inf.
``poisson-gaussian`` is the density of Poisson counts plus Gaussian noise of variance
``(sigma/gain)**2 + 1/12`` counts (the 1/12 spreads each count over its step and keeps the density
finite when sigma = 0), summed exactly below 30 mean counts and by its Gaussian approximation
(variance ``counts + (sigma/gain)**2 + 1/12``) above, minus ``log(gain)``.

Noise level. The GAT's noise has unit variance only at many counts; ``to_gaussian`` reports
the exact RMS std over the data's local levels where that is above 1 (:func:`stabilized_std`).

Inverse. The exact unbiased inverse (:func:`gat_inverse`) is not clamped at zero counts: with read noise the restored
dark level fluctuates around the offset, and cutting off its lower half would lift the mean of
every dark region (an unbiased estimate of the dark level may lie slightly below the offset).
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage
from scipy.special import gammaln, ndtr

from ..types import NoiseModel, Observation
from .camera import clip_floor, estimate_camera, gain_floor as _gain_floor, is_counts
from .common import LOG_2PI, gaussian_logpdf, mean_finite, observation, pairs, param, simulate_on_finite
from .estimate import as_float, finite_values, fit_variance, local_variance_stats

_SQRT_3_2 = math.sqrt(1.5)


def gat(y: np.ndarray, gain: float, sigma: float = 0.0, offset: float = 0.0) -> np.ndarray:
    """Generalized Anscombe transform to unit-variance noise: ``2 sqrt(z + 3/8 + (sigma/gain)**2)``.

    ``z = (y - offset) / gain`` is in counts; the argument of the root is clamped at 0.

    Examples
    --------
    >>> float(gat(np.array(1.0), gain=1.0))
    2.345207879911715
    """
    z = (as_float(y) - offset) / gain
    return 2.0 * np.sqrt(np.maximum(z + 3.0 / 8.0 + (sigma / gain) ** 2, 0.0))


def _closed_form_inverse(d: np.ndarray, s2: float) -> np.ndarray:
    """Makitalo & Foi's closed-form approximation of the exact unbiased inverse, in counts: the
    Poisson one minus the read variance ``s2`` (counts squared). Accurate where ``D`` is large."""
    return (0.25 * d * d + 0.25 * _SQRT_3_2 / d - 1.375 / (d * d)
            + 0.625 * _SQRT_3_2 / (d * d * d) - 0.125 - s2)


# The exact inverse is tabulated up to this many counts; above, the closed form is exact to
# better than 1e-4 counts for any read noise.
_TABLE_COUNTS = 300.0
_TABLE_POINTS = 1200
_QUADRATURE = np.linspace(-8.0, 8.0, 801)   # read-noise quadrature nodes, in read-noise sigmas


@functools.lru_cache(maxsize=64)
def _exact_table(s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(D, lam, var)``: the mean ``D`` and variance of ``f = 2 sqrt(max(z + a, 0))`` for
    ``z = Poisson(lam) + N(0, s**2)`` counts (``a = 3/8 + s**2``, the clamp of :func:`gat`),
    ``D`` increasing, for ``lam`` from ``-s**2`` to :data:`_TABLE_COUNTS`. Below zero counts the
    level is a dark level without photons (``z = lam + N(0, s**2)``), the estimate an unbiased
    dark level may take (module docstring)."""
    a = 3.0 / 8.0 + s * s
    w = np.exp(-0.5 * _QUADRATURE ** 2)
    w /= w.sum()
    noise = s * _QUADRATURE

    def smeared(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:   # E[f], E[f**2] over the read noise
        inside = np.maximum(mean[:, None] + noise[None, :] + a, 0.0)
        return (2.0 * np.sqrt(inside)) @ w, (4.0 * inside) @ w

    lam = np.linspace(0.0, math.sqrt(_TABLE_COUNTS), _TABLE_POINTS) ** 2
    k = np.arange(int(_TABLE_COUNTS + 12 * math.sqrt(_TABLE_COUNTS) + 30), dtype=np.float64)
    pmf = np.exp(k[None, :] * np.log(np.maximum(lam[:, None], 1e-300)) - lam[:, None] - gammaln(k + 1.0)[None, :])
    pmf[0] = 0.0
    pmf[0, 0] = 1.0
    f1, f2 = smeared(k)
    d, d2 = pmf @ f1, pmf @ f2
    if s > 0:
        below = -np.linspace(math.sqrt(s * s), 0.0, 60, endpoint=False) ** 2    # -s**2 up to (not at) 0
        b1, b2 = smeared(below)
        d, d2, lam = np.concatenate([b1, d]), np.concatenate([b2, d2]), np.concatenate([below, lam])
    return d, lam, np.maximum(d2 - d * d, 0.0)


# Local mean window (pixels) of the count level that sets each pixel's stabilized variance.
_LEVEL_WINDOW = 7


def stabilized_std(z: np.ndarray, s: float) -> float:
    """The noise std to tell a denoiser of :func:`gat` of counts ``z`` (read noise ``s`` counts):
    the RMS of the exact std at each pixel's local mean level, but not below the nominal 1.

    The GAT's noise has unit variance only at many counts: at a few counts it is up to 17 %
    larger with read noise of a count or more (the square root's curvature and the clamp). A
    denoiser told 1 where the dark background holds 1.08 under-smooths it (2 dB lost at 5
    photons, ``benchmarks/results/microscopy.md``). With less read noise the std falls at a
    few counts (to 0 at zero counts without read noise), but a level below the bright regions'
    would leave their noise in (20 dB lost on a photograph that is mostly black), and flat dark
    regions restore alike at any level: hence the floor.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(stabilized_std(rng.poisson(0.5, (64, 64)) + 1.5 * rng.standard_normal((64, 64)), 1.5), 2)
    1.08
    >>> round(stabilized_std(np.full((64, 64), 500.0), 1.5), 2)
    1.0
    """
    z = np.asarray(z, dtype=np.float64)
    finite = np.isfinite(z)
    size = (1,) * (z.ndim - 2) + (_LEVEL_WINDOW,) * min(z.ndim, 2)
    level = ndimage.uniform_filter(np.where(finite, np.maximum(z, 0.0), 0.0), size, mode="reflect")
    _, lam, var = _exact_table(round(float(s), 9))
    v = np.interp(level[finite], lam, var)
    return max(1.0, float(math.sqrt(v.mean()))) if v.size else 1.0


def gat_inverse(d: np.ndarray, gain: float, sigma: float = 0.0, offset: float = 0.0) -> np.ndarray:
    """Exact unbiased inverse of :func:`gat` for Poisson-Gaussian data (Makitalo & Foi, 2013).

    Maps ``D``, an estimate of ``E[gat(y)]``, to the level whose expected GAT is ``D``: tabulated
    (Poisson sum times read-noise quadrature, zero-count clamp included) below 300 counts, the
    closed form ``1/4 D^2 + 1/4 sqrt(3/2) D^-1 - 11/8 D^-2 + 5/8 sqrt(3/2) D^-3 - 1/8 -
    (sigma/gain)^2`` above, where the two agree. The closed form alone, which treats the read
    noise as a shift of the Poisson case, is biased at a few counts (0.035 counts low at 1 photon
    with 1.5 counts of read noise). Not clamped at 0 counts (see the module docstring): the result may lie below ``offset`` by up to
    ``sigma**2 / gain``; values of ``D`` below the table's least map to that floor.

    Examples
    --------
    >>> round(float(gat_inverse(np.array(10.0), gain=1.0)), 3)
    24.875

    One photon (2 ADU) on a camera with 3 ADU read noise and an offset of 100 ADU: the mean
    GAT maps back to 102 ADU.

    >>> rng = np.random.default_rng(0)
    >>> y = 2.0 * rng.poisson(1.0, 10**6) + 100.0 + 3.0 * rng.standard_normal(10**6)
    >>> round(float(gat_inverse(gat(y, 2.0, 3.0, 100.0).mean(), 2.0, 3.0, 100.0)), 2)
    102.0
    """
    s = sigma / gain
    table_d, table_lam, _ = _exact_table(round(float(s), 9))
    d = as_float(d)
    counts = np.where(d > table_d[-1], _closed_form_inverse(np.maximum(d, table_d[-1]), s * s),
                      np.interp(d, table_d, table_lam))
    return gain * counts + offset


_NEGATIVE_PENALTY = 10.0   # nats lost by a pixel below zero counts under the pure Poisson model
_EXACT_BELOW = 30.0   # mean counts under which the Poisson-Gaussian density is summed exactly


def _poisson_gaussian_logpdf(z: np.ndarray, lam: np.ndarray, s2: float) -> np.ndarray:
    """log sum_k Poisson(k; lam) N(z - k; 0, s2), in counts, summed over the k that matter.

    At low counts the Poisson part is skewed and the Gaussian approximation loses to a plain
    Poisson model on Poisson-Gaussian data; summing is exact and cheap there. The terms are
    summed relative to the one at the (Gaussian-approximate) posterior mode of k, which avoids
    overflow and the cost of a running logaddexp.
    """
    s = math.sqrt(s2)
    sd = np.sqrt(lam)
    k0 = np.floor(np.maximum(np.minimum(lam - 5 * sd - 1, z - 5 * s), 0.0))
    k1 = np.ceil(np.maximum(lam + 5 * sd + 5, z + 5 * s))
    spans = np.minimum(k1 - k0, 400).astype(np.intp) + 1
    # Pixels sorted by the number of terms they need: term j is summed over those needing more
    # than j only (a far outlier does not make every pixel sum 400 terms).
    order = np.argsort(spans, kind="stable")
    z, lam, k0, spans = z[order], lam[order], k0[order], spans[order]
    table = gammaln(np.arange(int((k0 + spans).max()) + 1) + 1.0)
    loglam = np.log(np.maximum(lam, 1e-300))

    def term(k: np.ndarray, i: int = 0) -> np.ndarray:
        return k * loglam[i:] - lam[i:] - table[k.astype(np.intp)] - 0.5 * (z[i:] - k) ** 2 / s2

    mode = np.clip(np.rint(lam * (s2 + z) / (lam + s2)), k0, k0 + spans - 1)
    ref = term(mode)
    acc = np.zeros(z.shape)
    for j in range(int(spans[-1])):
        i = int(np.searchsorted(spans, j, side="right"))      # the first pixel needing term j
        acc[i:] += np.exp(np.minimum(term(k0[i:] + j, i) - ref[i:], 700.0))
    out = np.empty_like(acc)
    out[order] = ref + np.log(acc) - 0.5 * (math.log(s2) + LOG_2PI)
    return out


class PoissonNoise(NoiseModel):
    """Scaled Poisson (shot) noise: ``y = gain * Poisson(x / gain)``.

    Examples
    --------
    >>> model = PoissonNoise()
    >>> clean = np.tile(np.linspace(0.05, 1, 128), (128, 1))
    >>> noisy = model.simulate(clean, np.random.default_rng(0), gain=0.01)
    >>> abs(model.estimate(noisy)["gain"] / 0.01 - 1) < 0.1
    True
    """

    name = "poisson"
    params = ("gain",)
    example_params = {"gain": 0.01}

    def _gs(self, params: dict) -> tuple[float, float, float]:
        return param(params, "gain", self.name, minimum=None), 0.0, float(params.get("offset", 0.0))

    def simulate(self, clean: np.ndarray, rng: np.random.Generator, **params: float) -> np.ndarray:
        """``gain * Poisson((x - offset) / gain) + offset (+ sigma n)``; negative means count 0."""
        gain, sigma, offset = self._gs(params)

        def draw(x: np.ndarray) -> np.ndarray:
            counts = rng.poisson(np.maximum(x - offset, 0.0) / gain)
            out = gain * counts + offset
            return out + sigma * rng.standard_normal(x.shape) if sigma > 0 else out
        return simulate_on_finite(clean, draw)

    def estimate(self, noisy: np.ndarray) -> dict[str, float]:
        """``{"gain": ...}``: slope of a through-origin variance-mean fit on smooth regions."""
        gain, _ = fit_variance(*local_variance_stats(noisy), kind="origin")
        return {"gain": max(gain, _gain_floor(noisy))}

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Mean of ``log Poisson(k; lambda) - log(gain)`` with counts ``k``, ``lambda`` from ``clean``."""
        gain, _, offset = self._gs(params)
        gain = max(gain, _gain_floor(noisy))
        y, x = pairs(noisy, clean)
        k = np.rint((y - offset) / gain)
        # Negative counts are impossible: score them as count 0 with a steep, finite penalty
        # (keeping the total mass below 1, or they would beat models that allow them).
        below = np.minimum(k, 0.0)
        k = k - below
        penalty = np.where(below < 0, _NEGATIVE_PENALTY + below * below, 0.0)
        lam = np.maximum((x - offset) / gain, 1e-3)      # lam = 0 would make every k > 0 impossible
        return mean_finite(k * np.log(lam) - lam - gammaln(k + 1.0) - penalty - math.log(gain))

    def to_gaussian(self, noisy: np.ndarray, **params: float) -> Observation:
        """GAT of the data minus its value at zero counts, and its noise std there
        (:func:`stabilized_std`: 1 at many counts, more at a few with read noise).

        Shifted so that zero counts map to 0 and computed as ``2 z / (sqrt(z + a) + sqrt(a))``: with
        a small gain (read noise dominating) the plain GAT is a huge constant plus a small signal,
        which channels of different gains would not share and float32 would round away.
        """
        gain, sigma, offset = self._gs(params)
        a = 3.0 / 8.0 + (sigma / gain) ** 2
        z = np.maximum((as_float(noisy) - offset) / gain, -a)
        return observation(2.0 * z / (np.sqrt(z + a) + math.sqrt(a)), stabilized_std(z, sigma / gain))

    def from_gaussian(self, restored: np.ndarray, **params: float) -> np.ndarray:
        """Closed-form exact unbiased inverse GAT (:func:`gat_inverse`) of the shifted values."""
        gain, sigma, offset = self._gs(params)
        shift = 2.0 * math.sqrt(3.0 / 8.0 + (sigma / gain) ** 2)
        return gat_inverse(as_float(restored) + shift, gain, sigma, offset)


class PoissonGaussianNoise(PoissonNoise):
    """Poisson-Gaussian (camera) noise: ``y = gain * Poisson((x - offset) / gain) + offset + sigma * n``.

    Examples
    --------
    >>> model = PoissonGaussianNoise()
    >>> clean = np.tile(np.linspace(0.05, 1, 128), (128, 1))
    >>> noisy = model.simulate(clean, np.random.default_rng(0), gain=0.01, sigma=0.02)
    >>> est = model.estimate(noisy)
    >>> abs(est["gain"] / 0.01 - 1) < 0.1
    True
    """

    name = "poisson-gaussian"
    params = ("gain", "sigma", "offset")
    nests = ("gaussian", "poisson")   # gain -> 0; sigma = 0
    example_params = {"gain": 0.01, "sigma": 0.03, "offset": 0.0}

    def _gs(self, params: dict) -> tuple[float, float, float]:
        return (param(params, "gain", self.name, minimum=None), param(params, "sigma", self.name),
                float(params.get("offset", 0.0)))

    def estimate(self, noisy: np.ndarray, **fixed: float) -> dict[str, float | str]:
        """``{"gain", "sigma", "offset", "offset_basis"}`` given any ``fixed`` of them
        (:func:`~.camera.estimate_camera`)."""
        return estimate_camera(noisy, **{k: fixed.get(k) for k in self.params})

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Poisson-Gaussian density per pixel (exact at low counts), in data units; count data
        piled up at its minimum (clipped at the detector's floor) scores the probability of
        every value at or below it."""
        gain, sigma, offset = self._gs(params)
        gain = max(gain, _gain_floor(noisy))
        y, x = pairs(noisy, clean)
        lam = np.maximum((x - offset) / gain, 0.0)
        s2 = (sigma / gain) ** 2 + 1.0 / 12.0            # read noise + spreading over one count
        z = (y - offset) / gain
        out = gaussian_logpdf(z - lam, lam + s2)         # many counts: Gaussian approximation
        low = lam < _EXACT_BELOW
        if low.any():
            out[low] = _poisson_gaussian_logpdf(z[low], lam[low], s2)
        out -= math.log(gain)
        floor = clip_floor(finite_values(noisy)) if is_counts(noisy) else None
        if floor is not None:
            at = y <= floor        # a mass over the unit steps at and below the floor
            out[at] = np.log(np.maximum(ndtr(((floor + 0.5 - offset) / gain - lam[at]) / np.sqrt(lam[at] + s2)), 1e-300))
        return mean_finite(out)
