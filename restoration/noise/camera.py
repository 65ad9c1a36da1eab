"""Camera (Poisson-Gaussian) parameters: gain, read noise and offset, estimated separately.

A scientific camera records ``y = gain * Poisson(photons) + N(0, sigma**2) + offset``, rounded to
integers. The variance-mean line of homogeneous regions, ``var = gain * (mean - offset) + sigma**2``,
gives ``gain`` (its slope) but only ``b = sigma**2 - gain * offset``: every (offset, sigma) pair with
the same ``b`` gives the same stabilizing transform (the *equivalence class*; the exact inverse
and the stabilized noise level at a few counts depend on the split). Separating them takes the dark
background, where ``mean = offset`` and ``var = sigma**2`` if no photon arrives there:

1. :func:`dark_region` finds the darkest homogeneous region (its darkest tenth, grown over as much
   of a photon-free field as stays as dark) and measures it without selection bias
   (it is chosen on one checkerboard parity and measured on the other, so the noise of the pixels
   measured never decides which are measured). Where the dark region is clipped at the data floor
   (offset near 0), a censored Gaussian is fitted instead of plain moments.
2. The gain is the slope of the variance-mean line through that dark point (clipped and saturated
   bins left out).
3. Whether the dark region is really photon-free is tested by its skewness: the third cumulant of
   ``y`` is ``gain**2 * (mean - offset)`` (zero for read noise alone). When that cumulant is
   measured finely enough to resolve a quarter of a photon, the offset is *identified*:
   ``dark region`` (no photons found) or ``skewness`` (photons found and removed, where they are
   counted finely enough to leave the read variance known to :data:`SKEWNESS_READ`). Otherwise the
   pair reported is one member of the class, marked ``unidentified``: the offset at the darkest
   region's mean where that region is flat (its local means spread by their own noise alone), else
   no higher than the darkest signal (the :data:`LOWEST_SIGNAL` quantile of the local means), so
   that the variance function it states holds over all the data.

This path is for count data (every value an integer). Other data keep the variance-mean line
alone: ``sigma = sqrt(b)`` with no offset, or a pedestal ``offset = -b / gain`` with ``sigma = 0``
when ``b < 0`` (``unidentified`` either way). Parameters the caller fixes are used as given and the
others estimated consistently with them (``given``; an offset derived from a given read noise is
``from read noise``).

``sigma`` is the dark-pixel standard deviation in data units, quantization included: what the std
of a dark frame measures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize, special

from .estimate import finite_values, fit_variance_robust, local_variance_stats, planes_of, robust_range

#: Darkest fraction of the (smoothed) data taken as the dark region.
DARK_FRACTION = 0.1
#: Wider darkest fractions the dark region grows to while as dark as the first (:func:`dark_region`).
DARK_WIDEN = (0.2, 0.3, 0.45, 0.6)
#: Smoothing (Gaussian sigma, pixels) of the parity that chooses the dark region.
DARK_SMOOTH = 2.0
#: The offset counts as identified when the skewness test resolves this many photons (1 s.e.).
IDENTIFY_PHOTONS = 0.25
#: Photons in the dark region are removed only when found at this many standard errors.
PHOTONS_Z = 3.0
#: ... and only where they leave the read variance known to this fraction (one standard error):
#: the exact inverse at a few counts turns a read noise 4 % off into 0.9 dB lost on a dim
#: fluorescence image, while the class member at the dark region's mean restores as well as the
#: truth (``benchmarks/results/microscopy_auto.md``).
SKEWNESS_READ = 0.02
PARITIES = (0, 1)
#: Quantile of the local means taken as the darkest signal (an unidentified offset stays below it).
LOWEST_SIGNAL = 0.001
#: A rank score's variance per unit pixel variance: the other parity's Gaussian-weighted mean
#: (:data:`DARK_SMOOTH`) averages that parity's pixels with weights whose squares sum to this.
_SCORE_W2 = 1.0 / (2.0 * math.pi * DARK_SMOOTH ** 2)
#: Fractions of a rank bin's smoothest pixels tried beyond the smoothest ``keep``
#: (:func:`parity_variance_stats`), and the sampling errors their variance may exceed it by.
WIDEN = (0.5, 0.75, 1.0)
WIDEN_Z = 2.0
#: Sampling errors the four-neighbour variance of a rank bin may exceed the quadratic one's by
#: and still be used (:func:`parity_variance_stats`; on the validation set 2 lost two camera
#: photographs' parameters, 1 lost one, for a gain spread of 4.1 and 4.8 % on dim phantoms).
NEAR_Z = 1.0
#: The spread of the difference of a bin's two noise variances (four-neighbour residual less
#: quadratic) over one variance's independent-pixel error ``sqrt(2 / n)`` (pure noise, 100 draws).
_NEAR_SE = 0.92
#: The dark region's sampling errors of mean and variance over the independent-pixel ones (the
#: residuals share neighbours; measured on pure noise, 200 draws): for :func:`_widened`.
_DARK_SE = (1.15, 1.25)
_BLOCKS = 16           # blocks for the standard error of the third cumulant
_W3 = 1.0 - 4.0 / 64   # sum of cubed weights of "pixel minus the mean of its 4 diagonal neighbours"
_W2 = 1.0 + 4.0 / 16   # sum of squared weights of the same residual
_W2_FLAT = 1.0 + 4.0 / 4 + 4.0 / 16   # ... of the residual that also cancels quadratic trends


def gain_floor(data: np.ndarray) -> float:
    """The smallest usable gain: a non-positive slope (e.g. Gaussian data) still needs one."""
    return 1e-6 * robust_range(data)


def is_counts(data: np.ndarray) -> bool:
    """True when every finite value (of a deterministic sample) is an integer: detector counts."""
    v = finite_values(data, limit=1 << 18)
    return bool(v.size) and bool(np.all(v == np.rint(v)))


def clip_floor(values: np.ndarray) -> float | None:
    """The data's lower clip: its minimum when at least 0.1 % of the values pile up there."""
    if not values.size:
        return None
    lo = float(values.min())
    return lo if np.count_nonzero(values == lo) >= max(2, 1e-3 * values.size) else None


def _censored_gaussian(y: np.ndarray, floor: float) -> tuple[float, float]:
    """Mean and variance of the integer-rounded Gaussian whose values below ``floor`` read ``floor``."""
    at = y <= floor
    k, counts = np.unique(y[~at], return_counts=True)
    n0 = int(at.sum())
    m0, s0 = float(np.mean(y)), max(float(np.std(y)), 0.5)

    def nll(p: np.ndarray) -> float:
        mu, s = p[0], math.exp(p[1])
        cdf0 = special.ndtr((floor + 0.5 - mu) / s)
        mass = special.ndtr((k + 0.5 - mu) / s) - special.ndtr((k - 0.5 - mu) / s)
        return -(n0 * math.log(max(cdf0, 1e-300)) + float(np.sum(counts * np.log(np.maximum(mass, 1e-300)))))

    res = optimize.minimize(nll, [m0, math.log(s0)], method="Nelder-Mead",
                            options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    return float(res.x[0]), float(math.exp(res.x[1])) ** 2


@dataclass
class DarkRegion:
    """The darkest region: its mean and variance (of the latent values when clipped at the floor),
    third cumulant and its standard error (NaN when clipped), the pixels behind them, and the
    spread (std) of their rank scores."""

    mean: float
    var: float
    kappa3: float
    kappa3_se: float
    pixels: int
    clipped: bool
    score_sd: float


@dataclass
class ParityStats:
    """Per measured pixel: the rank score (the other parity's local mean), the other parity's local
    roughness, the value, the value minus the mean of its four diagonal neighbours (``resid``), and
    a residual that also cancels quadratic trends (``flat``: the value minus twice that mean plus
    the mean of the four pixels two steps away along the axes)."""

    score: np.ndarray
    rough: np.ndarray
    value: np.ndarray
    resid: np.ndarray
    flat: np.ndarray


def parity_stats(data: np.ndarray) -> ParityStats:
    """Checkerboard statistics: pixels of one parity are ranked by the other parity's local mean.

    The even parity ``(y + x) % 2 == 0`` is smoothed (Gaussian, :data:`DARK_SMOOTH` pixels) into a
    local mean, and the local energy of its residuals measures roughness; the odd pixels are measured: their values and residuals
    ``y - mean(4 diagonal neighbours)`` (odd pixels too). The noise of a measured pixel never
    decides whether it is measured, so means and variances per rank are free of selection bias,
    and the residuals ignore linear (``resid``, variance :data:`_W2` times the pixel's) or
    quadratic (``flat``, :data:`_W2_FLAT` times) trends.
    """
    parts = []
    for p in planes_of(np.asarray(data, dtype=np.float64)):
        if min(p.shape) < 5:
            continue
        ok = np.isfinite(p)
        yy, xx = np.indices(p.shape)
        c = p[2:-2, 2:-2]
        diag = 0.25 * (p[1:-3, 1:-3] + p[3:-1, 3:-1] + p[1:-3, 3:-1] + p[3:-1, 1:-3])
        axis2 = 0.25 * (p[:-4, 2:-2] + p[4:, 2:-2] + p[2:-2, :-4] + p[2:-2, 4:])
        r = c - diag
        flat = c - 2.0 * diag + axis2
        inner = (slice(2, -2), slice(2, -2))
        for parity in PARITIES:     # each parity ranks the other (the residuals use their own parity)
            a = ok & ((yy + xx) % 2 == parity)
            num = ndimage.gaussian_filter(np.where(a, p, 0.0), DARK_SMOOTH, mode="reflect")
            den = ndimage.gaussian_filter(a.astype(np.float64), DARK_SMOOTH, mode="reflect")
            smooth = num / np.maximum(den, 1e-12)
            # Roughness (texture, edges) seen by the ranking parity alone: its residuals' local energy.
            ra = np.where(a[inner] & np.isfinite(r), r, 0.0)
            rough = (ndimage.gaussian_filter(ra * ra, DARK_SMOOTH, mode="reflect")
                     / np.maximum(ndimage.gaussian_filter((ra != 0).astype(np.float64), DARK_SMOOTH, mode="reflect"), 1e-12))
            use = ok[inner] & (~a[inner]) & np.isfinite(r) & np.isfinite(flat) & (den[inner] > 0.05)
            parts.append((smooth[inner][use], rough[use], c[use], r[use], flat[use]))
    if not parts:
        empty = np.zeros(0)
        return ParityStats(empty, empty, empty, empty, empty)
    return ParityStats(*(np.concatenate(x) for x in zip(*parts)))


def parity_variance_stats(stats: ParityStats, nbins: int = 32, keep: float = 0.3,
                          min_count: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and noise variance per rank bin, like :func:`~.estimate.local_variance_stats` but
    without selection bias: the smoothest ``keep`` of each bin, widened to the smoothest
    :data:`WIDEN` fractions while the variance they measure stays within :data:`WIDEN_Z` sampling
    errors of the smoothest ``keep``'s.

    Texture only adds variance, and more of it to rougher pixels: a bin where the rougher pixels
    measure no more than the smoothest holds noise alone, and all of it is used (a few photons
    on a large read noise change the variance by a few percent over the whole range, and the
    gain needs every pixel); a textured bin keeps the smoothest ``keep``. The variance is the
    four-neighbour residual's (``resid``) where it exceeds the quadratic one's (``flat``) by no
    more than :data:`NEAR_Z` sampling errors of their difference, else the quadratic one's: the
    first spreads less (its residuals share fewer neighbours: the gain found on 30 phantoms at 5
    photons spreads 4.8 % instead of 5.7 %), the second ignores curvature.
    """
    empty = np.zeros(0)
    if stats.score.size < nbins * min_count:
        return empty, empty, empty
    edges = np.unique(np.quantile(stats.score, np.linspace(0, 1, nbins + 1)))
    idx = np.clip(np.searchsorted(edges, stats.score, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for k in range(max(len(edges) - 1, 1)):
        inbin = np.flatnonzero(idx == k)
        if inbin.size * keep < min_count:
            continue
        order = inbin[np.argsort(stats.rough[inbin], kind="stable")]      # smoothest first
        total = np.cumsum(stats.flat[order] ** 2) / _W2_FLAT
        n0 = int(keep * order.size)
        base, use = total[n0 - 1] / n0, n0
        for fraction in WIDEN:
            n = int(fraction * order.size)
            # The smoothest n0 are among the n: their means differ by sampling error 2 (1/n0 - 1/n).
            if n > n0 and total[n - 1] / n <= base * (1.0 + WIDEN_Z * math.sqrt(2.0 * (1.0 / n0 - 1.0 / n))):
                use = n
        sel = order[:use]
        var = total[use - 1] / use
        near = float(np.mean(stats.resid[sel] ** 2)) / _W2
        if near <= var * (1.0 + NEAR_Z * _NEAR_SE * math.sqrt(2.0 / use)):
            var = near
        out.append((stats.value[sel].mean(), var, float(use)))
    if not out:
        return empty, empty, empty
    mean, var, count = (np.array(x) for x in zip(*out))
    return mean, var, count


def _darkest(stats: ParityStats, fraction: float, rough: float | None = None) -> np.ndarray:
    """The darkest ``fraction`` of the measured pixels by rank score, less its rougher half (or
    those rougher than ``rough``; roughness seen by the other parity): edges and texture at the
    darkest levels would pass for read noise and, being skewed, for photons."""
    sel = np.flatnonzero(stats.score <= np.quantile(stats.score, fraction))
    return sel[stats.rough[sel] <= (np.median(stats.rough[sel]) if rough is None else rough)]


def _moments(stats: ParityStats, sel: np.ndarray) -> tuple[float, float]:
    """Mean and noise variance (from the residuals about their mean) of the pixels ``sel``."""
    r = stats.resid[sel]
    return float(np.mean(stats.value[sel])), float(np.mean((r - r.mean()) ** 2)) / _W2


def _widened(stats: ParityStats, base: np.ndarray) -> np.ndarray:
    """The widest of :data:`DARK_WIDEN` darkest regions still as dark as ``base``, else ``base``.

    A region measures the offset and read noise to a precision set by its pixel count (a tenth of
    a 256² image leaves the offset 0.05 ADU and the read noise 1 % uncertain at 3 ADU, and a dark
    field restores visibly worse for either), and a photon-free field is often most of a
    fluorescence image. Each wider region keeps the pixels no rougher than the base's roughest,
    so it holds the base, and is taken while neither its mean nor its noise variance exceeds the
    base's by :data:`WIDEN_Z` sampling errors of their difference (:data:`_DARK_SE`): photons
    raise both, so the first that does ends the widening.
    """
    m0, v0 = _moments(stats, base)
    rough = float(np.max(stats.rough[base]))
    best = base
    for fraction in DARK_WIDEN:
        sel = _darkest(stats, fraction, rough)
        m, v = _moments(stats, sel)
        shrink = max(1.0 / base.size - 1.0 / sel.size, 0.0)    # the spread of a nested difference
        se_mean, se_var = _DARK_SE[0] * math.sqrt(v0 * shrink), _DARK_SE[1] * v0 * math.sqrt(2.0 * shrink)
        if m - m0 > WIDEN_Z * se_mean or v - v0 > WIDEN_Z * se_var:
            break
        best = sel
    return best


def dark_region(stats: ParityStats, floor: float | None) -> DarkRegion | None:
    """The darkest :data:`DARK_FRACTION` of the measured pixels (see :func:`parity_stats`), grown
    while as dark (:func:`_widened`): mean, variance, and third cumulant with a blockwise standard
    error; a censored Gaussian fit instead, on the first tenth's darker half, when it reaches the
    data's lower clip ``floor``. None below 2000 measured pixels."""
    if stats.score.size < 2000:
        return None
    sel = _darkest(stats, DARK_FRACTION)
    y = stats.value[sel]
    if floor is not None and np.count_nonzero(y <= floor) >= max(2, 1e-3 * y.size):
        # Its darker half: the censored fit needs no third cumulant (no pixel count to resolve a
        # photon), and photons where the region meets the signal would widen its Gaussian.
        score_sd = float(np.std(stats.score[sel]))
        y = y[stats.score[sel] <= np.median(stats.score[sel])]
        mean, var = _censored_gaussian(y, floor)
        return DarkRegion(mean, var, math.nan, math.nan, int(y.size), True, score_sd)
    sel = _widened(stats, sel)
    mean, var = _moments(stats, sel)
    r = stats.resid[sel] - stats.resid[sel].mean()
    blocks = [float(np.mean((c - c.mean()) ** 3)) / _W3 for c in np.array_split(r, _BLOCKS)]
    return DarkRegion(mean, var, float(np.mean(r ** 3)) / _W3, float(np.std(blocks, ddof=1) / math.sqrt(_BLOCKS)),
                      int(sel.size), False, float(np.std(stats.score[sel])))


def _unclipped(stats: tuple[np.ndarray, np.ndarray, np.ndarray],
               values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The variance-mean bins not distorted by a clip at the data's floor or a saturated ceiling."""
    mean, var, count = stats
    keep = np.ones(mean.shape, bool)
    sd = np.sqrt(np.maximum(var, 0.0))
    floor = clip_floor(values)
    if floor is not None:
        keep &= mean - 2.0 * sd > floor + 0.5
    top = float(values.max()) if values.size else 0.0
    if np.count_nonzero(values == top) >= max(2, 1e-3 * values.size):
        keep &= mean + 2.0 * sd < top - 0.5
    return mean[keep], var[keep], count[keep]


def _slope_through(mean: np.ndarray, var: np.ndarray, count: np.ndarray, m0: float, v0: float) -> float | None:
    """Weighted least-squares slope of ``var - v0 = gain * (mean - m0)`` (weights iterated on the line)."""
    x, t = mean - m0, var - v0
    use = x > 0
    if use.sum() < 1:
        return None
    x, t, n = x[use], t[use], count[use]
    pred = np.maximum(var[use], 1e-12)
    gain = 0.0
    for _ in range(6):
        w = n / (2.0 * pred * pred)
        gain = float(np.sum(w * x * t) / np.sum(w * x * x))
        pred = np.maximum(v0 + gain * x, 1e-12)
    return gain


def estimate_camera(noisy: np.ndarray, *, gain: float | None = None, sigma: float | None = None,
                    offset: float | None = None) -> dict:
    """Gain, read noise and offset of Poisson-Gaussian data, with how the offset was found.

    Parameters
    ----------
    noisy : ndarray
        Noisy data, ndim >= 2 (planes over the last two axes); NaN/inf are ignored.
    gain, sigma, offset : float, optional
        Values the caller fixes (calibration); the others are estimated consistently with them.

    Returns
    -------
    dict
        ``gain``, ``sigma``, ``offset`` (floats, data units) and ``offset_basis`` (str): ``given``,
        ``dark region``, ``skewness``, ``from read noise`` or ``unidentified`` (see the module
        docstring). ``sigma**2 - gain * offset`` is the intercept of the noise level function
        whatever the basis.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> photons = 100 * fluorescence_phantom(rng, (512, 512), nuclei=30)
    >>> est = estimate_camera(camera_counts(rng, photons, gain=2.0, sigma=3.0, offset=100.0))
    >>> round(est["gain"], 1), round(est["sigma"], 1), round(est["offset"]), est["offset_basis"]
    (2.0, 3.0, 100, 'dark region')
    """
    values = finite_values(noisy)
    given = {k: float(v) for k, v in (("gain", gain), ("sigma", sigma), ("offset", offset)) if v is not None}
    if not is_counts(noisy) or (dark := dark_region(stats := parity_stats(noisy), clip_floor(values))) is None:
        return _from_line(*_unclipped(local_variance_stats(noisy), values), values, given)
    mean, var, count = _unclipped(parity_variance_stats(stats), values)
    if offset is not None and sigma is not None:    # the variance function through the given point
        g = gain if gain is not None else _slope_through(mean, var, count, offset, sigma * sigma)
        if g is None or not g > 0:
            g = max(fit_variance_robust(mean, var, count)[0], gain_floor(values))
        return {"gain": g, "sigma": sigma, "offset": offset, "offset_basis": "given"}
    if dark.clipped:
        # The floor hides the dark level's lower half: the censored fit of the dark region is the
        # one point at the bottom of the variance function, and the line goes through it. Its
        # slope: the texture-robust fit's (a plain fit through the point follows the textured bins
        # up), or where that finds none (data nearly all at the floor), the plain one.
        g = gain if gain is not None else fit_variance_robust(mean, var, count)[0]
        if not g > gain_floor(values):
            g = _slope_through(mean, var, count, dark.mean, dark.var)
            g = g if g is not None and g > 0 else gain_floor(values)
        b = dark.var - g * dark.mean
    else:
        # The noise level function from the signal itself (every intensity, texture-robust), with
        # the dark region as one more bin: homogeneous, photons or not, it lies on the line, and
        # its many pixels pin the line's low end (a few photons span too short a range to give
        # the slope of a free line).
        g, b = fit_variance_robust(np.append(mean, dark.mean), np.append(var, dark.var),
                                   np.append(count, dark.pixels), slope=gain)
        g = max(g, gain_floor(values))
    if sigma is not None:   # the offset where the variance function meets the given read noise
        return {"gain": g, "sigma": sigma, "offset": (sigma * sigma - b) / g, "offset_basis": "from read noise"}
    if offset is not None:
        return {"gain": g, "sigma": math.sqrt(max(b + g * offset, 0.0)), "offset": offset, "offset_basis": "given"}
    o, basis = dark.mean, "unidentified"
    if math.isfinite(dark.kappa3_se) and dark.kappa3_se / g ** 3 <= IDENTIFY_PHOTONS:
        basis = "dark region"
        photons = dark.kappa3 / g ** 3
        read_var = dark.var - g * g * photons
        if photons > PHOTONS_Z * dark.kappa3_se / g ** 3:
            if dark.kappa3_se / g <= SKEWNESS_READ * read_var:
                # Photons in the darkest region: the offset lies that many gains below its mean
                # (never so far that the read variance would turn negative).
                o, basis = dark.mean - min(g * photons, dark.var / g), "skewness"
            else:
                basis = "unidentified"      # photons, too coarsely counted to split off (SKEWNESS_READ)
        # An identified dark level measures the read noise directly, far more precisely than the
        # line's intercept far from the data (a large offset): the line is moved through it.
        b = dark.var - g * dark.mean
    elif dark.score_sd > math.sqrt(max(dark.var, 0.0) * _SCORE_W2):
        # One member of the class. Where the darkest region is not flat (its local means spread
        # beyond their own noise), its mean lies above darker signal: the offset goes no higher
        # than the darkest signal, for an offset above data calls those pixels photon-free with
        # the whole read variance, which they do not show, and the model's likelihood would lose
        # to models of the wrong shape. (A flat region is the darkest level: its mean stays.)
        o = min(o, float(np.quantile(stats.score, LOWEST_SIGNAL)))
    if basis == "unidentified" and g * o + b < 0:
        o = -b / g     # the darkest level cannot have a negative read variance: the line's zero
    return {"gain": g, "sigma": math.sqrt(max(b + g * o, 0.0)), "offset": o, "offset_basis": basis}


def _from_line(mean: np.ndarray, var: np.ndarray, count: np.ndarray, values: np.ndarray, given: dict) -> dict:
    """Non-count data (or no dark region): the variance-mean line alone, offset 0 unless forced."""
    if "gain" in given:
        g, b = fit_variance_robust(mean, var, count, slope=given["gain"])
    else:
        g, b = fit_variance_robust(mean, var, count)
        g = max(g, gain_floor(values))
    if "sigma" in given and "offset" in given:
        return {"gain": g, "sigma": given["sigma"], "offset": given["offset"], "offset_basis": "given"}
    if "sigma" in given:
        return {"gain": g, "sigma": given["sigma"], "offset": (given["sigma"] ** 2 - b) / g,
                "offset_basis": "from read noise"}
    if "offset" in given:
        return {"gain": g, "sigma": math.sqrt(max(b + g * given["offset"], 0.0)), "offset": given["offset"],
                "offset_basis": "given"}
    if b >= 0:
        return {"gain": g, "sigma": math.sqrt(b), "offset": 0.0, "offset_basis": "unidentified"}
    return {"gain": g, "sigma": 0.0, "offset": -b / g, "offset_basis": "unidentified"}


def fluorescence_phantom(rng: np.random.Generator, shape: tuple[int, int] = (256, 256), nuclei: int = 12,
                         background: float = 0.0) -> np.ndarray:
    """A synthetic fluorescence image (photon rate, peak 1): textured, blurred nuclei on a dark field.

    For tests and benchmarks of camera-noise estimation: ellipses of varied size, orientation and
    brightness, with a chromatin-like texture, blurred by a 2-pixel optical PSF, on a background of
    ``background`` (0 = photon-free).

    Examples
    --------
    >>> rate = fluorescence_phantom(np.random.default_rng(0))
    >>> rate.shape, float(rate.max()), bool((rate == 0).mean() > 0.3)
    ((256, 256), 1.0, True)
    """
    yy, xx = np.indices(shape)
    img = np.zeros(shape)
    for _ in range(nuclei):
        cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        a, b = rng.uniform(0.05, 0.12) * shape[0], rng.uniform(0.04, 0.1) * shape[1]
        t = rng.uniform(0, np.pi)
        u = ((yy - cy) * np.cos(t) + (xx - cx) * np.sin(t)) / a
        v = (-(yy - cy) * np.sin(t) + (xx - cx) * np.cos(t)) / b
        img = np.maximum(img, (u * u + v * v <= 1) * rng.uniform(0.4, 1.0))
    texture = 1.0 + 2.0 * ndimage.gaussian_filter(rng.standard_normal(shape), 3.0)
    img = np.clip(ndimage.gaussian_filter(img, 2.0) * texture, 0.0, None)
    img[img < 1e-3 * img.max()] = 0.0          # the blur's far tails: photon-free background
    return background + (1.0 - background) * img / img.max()


def camera_counts(rng: np.random.Generator, photons: np.ndarray, *, gain: float, sigma: float, offset: float,
                  dtype=np.uint16) -> np.ndarray:
    """What a camera records of a photon-rate image: ``gain * Poisson + N(offset, sigma**2)``,
    rounded and clipped to ``dtype``.

    Examples
    --------
    >>> y = camera_counts(np.random.default_rng(0), np.zeros((64, 64)), gain=2.0, sigma=3.0, offset=100.0)
    >>> y.dtype, round(float(y.mean()))
    (dtype('uint16'), 100)
    """
    info = np.iinfo(dtype)
    y = gain * rng.poisson(photons) + rng.normal(offset, sigma, photons.shape)
    return np.clip(np.rint(y), info.min, info.max).astype(dtype)
