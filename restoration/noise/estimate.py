"""Estimators shared by the built-in noise models.

Everything here works on float data of any ndim >= 2, treats the last two axes as image planes and
ignores NaN/inf (missing) pixels: a coefficient or window that touches one is dropped, never used.

- :func:`sample_planes` picks a deterministic, bounded-size sample (whole planes, or tiles of huge
  planes) so that estimation cost does not grow with the data.
- :func:`wavelet_sigma` estimates the std of white Gaussian noise: the MAD of the finest diagonal
  db2 wavelet coefficients, restricted to the smoothest regions. Smoothness is judged from the
  horizontal/vertical detail energy, which for an orthonormal transform is independent of the
  diagonal coefficients under white Gaussian noise, so the selection does not bias the estimate,
  while image texture (which makes the plain MAD over-estimate at low sigma) is left out.
- :func:`local_variance_stats` gives (mean, variance) pairs of smooth regions per intensity bin, the
  input of Foi-style variance-versus-mean fits (Poisson-Gaussian, speckle).
"""

from __future__ import annotations

import math

import numpy as np
import pywt
from scipy import ndimage

from ..errors import InputError

_MAD_TO_STD = 0.6745         # median(|N(0, 1)|)
_KEEP = 0.3                  # fraction of the smoothest coefficients used
_BORDER = 3                  # coefficients near a plane's edge see the periodic wrap-around


def as_float(data: np.ndarray) -> np.ndarray:
    """``data`` as a float array (float32 stays float32, everything else becomes float64)."""
    a = np.asarray(data)
    if a.dtype == np.float32 or a.dtype == np.float64:
        return a
    return a.astype(np.float64)


def planes_of(data: np.ndarray) -> np.ndarray:
    """View ``data`` (ndim >= 2) as a stack of 2-D planes over its last two axes."""
    a = np.asarray(data)
    if a.ndim < 2:
        raise InputError(f"expected data with at least 2 dimensions, got shape {a.shape}")
    return a.reshape((-1,) + a.shape[-2:])


def sample_planes(data: np.ndarray, budget: int = 1 << 20, tile: int = 256) -> np.ndarray:
    """A deterministic sample of at most about ``budget`` pixels as a float64 stack of planes.

    Small data is returned whole (as ``(planes, y, x)``); otherwise evenly spaced planes, and for
    planes larger than the budget, evenly spread ``tile x tile`` tiles of them.

    Examples
    --------
    >>> sample_planes(np.zeros((10, 600, 600)), budget=400_000).shape
    (1, 600, 600)
    """
    p = planes_of(data)
    n, h, w = p.shape
    if n * h * w <= budget:
        return p.astype(np.float64)
    if h * w <= budget:
        k = max(1, budget // (h * w))
        idx = np.unique(np.linspace(0, n - 1, k).round().astype(int))
        return p[idx].astype(np.float64)
    t = min(tile, h, w)
    n_tiles = max(1, budget // (t * t))
    idx = np.unique(np.linspace(0, n - 1, min(n, n_tiles)).round().astype(int))
    per_plane = -(-n_tiles // len(idx))
    g = int(np.ceil(np.sqrt(per_plane)))
    ys = np.linspace(0, h - t, g).round().astype(int)
    xs = np.linspace(0, w - t, g).round().astype(int)
    grid = [(y, x) for y in ys for x in xs]
    pick = np.unique(np.linspace(0, len(grid) - 1, per_plane).round().astype(int))
    tiles = [p[i, y:y + t, x:x + t] for i in idx for (y, x) in (grid[j] for j in pick)]
    return np.stack(tiles).astype(np.float64)


def finite_values(data: np.ndarray, limit: int = 1 << 20) -> np.ndarray:
    """The finite values of ``data`` as float64, deterministically strided down to ``limit``."""
    flat = np.asarray(data).reshape(-1)
    if flat.size > limit:
        flat = flat[:: -(-flat.size // limit)]
    flat = flat.astype(np.float64)
    return flat[np.isfinite(flat)]


def robust_range(data: np.ndarray) -> float:
    """The 0.1..99.9 percentile spread of the finite values (> 0; 1.0 for constant data)."""
    v = finite_values(data, limit=1 << 16)
    if v.size == 0:
        return 1.0
    lo, hi = np.percentile(v, [0.1, 99.9])
    if hi > lo:
        return float(hi - lo)
    spread = float(v.max() - v.min())
    return spread if spread > 0 else max(abs(float(v[0])), 1.0)


def quantization_step(data: np.ndarray) -> float:
    """The data's quantization step: the smallest gap between distinct values, at least range/2**16.

    Quantized data (integers, 8-bit images scaled to floats) gives its step; continuous float data
    gives the floor, 1/65536 of its range.
    """
    u = np.unique(finite_values(data, limit=1 << 18))
    if u.size < 2:
        return 1.0
    return float(max(np.diff(u).min(), (u[-1] - u[0]) * 2.0 ** -16))


def _dwt_planes(data: np.ndarray, shifts: int = 1):
    """Finest-level db2 coefficients of every plane: yields (LL, LH, HL, HH) without the borders."""
    for plane in planes_of(data):
        for dy, dx in ((0, 0), (1, 1), (0, 1), (1, 0))[:shifts]:
            q = plane[dy:, dx:]
            h, w = (q.shape[0] // 2) * 2, (q.shape[1] // 2) * 2
            if h < 4 * _BORDER or w < 4 * _BORDER:
                continue
            ll, (lh, hl, hh) = pywt.dwt2(q[:h, :w], "db2", mode="periodization")
            yield ll, lh, hl, hh


def _trim(a: np.ndarray) -> np.ndarray:
    return a[_BORDER:-_BORDER, _BORDER:-_BORDER].reshape(-1)


def _nan_uniform(a: np.ndarray, size: int) -> np.ndarray:
    """Local mean over ``size x size``; NaN wherever the window touches a non-finite value.

    (scipy's running-sum filter would otherwise carry one NaN along the whole row.)
    """
    bad = ~np.isfinite(a)
    if not bad.any():
        return ndimage.uniform_filter(a, size, mode="reflect")
    out = ndimage.uniform_filter(np.where(bad, 0.0, a), size, mode="reflect")
    out[ndimage.uniform_filter(bad.astype(np.float64), size, mode="reflect") > 1e-9] = np.nan
    return out


def _smooth_energy(lh: np.ndarray, hl: np.ndarray, hh: np.ndarray) -> np.ndarray:
    # Local energy of the horizontal/vertical details: high on edges and texture. Coefficients
    # near a missing pixel, and exactly flat ones (noise-free, e.g. clipped regions), get NaN.
    e = _nan_uniform(lh * lh + hl * hl, 5)
    e[(lh == 0) & (hl == 0) & (hh == 0)] = np.nan
    return e


def piled_extremes(data: np.ndarray) -> list[float]:
    """The data's minimum and maximum where values pile up there (at least 0.1 % of them, and
    2): the levels a clip (saturation, a floor) set; constant data has none.

    Examples
    --------
    >>> piled_extremes(np.array([[0.0, 0.0, 0.3], [0.5, 1.0, 1.0]]))
    [0.0, 1.0]
    """
    values = finite_values(data)
    if values.size == 0 or values.min() == values.max():
        return []
    pile = max(2, int(1e-3 * values.size))
    return [float(v) for v in (values.min(), values.max()) if np.count_nonzero(values == v) >= pile]


def _diagonal_mad(planes: np.ndarray, keep: float, clips: list[float], sigma: float | None) -> float | None:
    """The wavelet MAD of :func:`wavelet_sigma`, leaving out the coefficients whose local mean is
    within 2.5 ``sigma`` of a clip level (None: nothing usable)."""
    es, ds = [], []
    for ll, lh, hl, hh in _dwt_planes(planes):
        e = _smooth_energy(lh, hl, hh)
        if sigma is not None:
            near = np.zeros(ll.shape, bool)
            for c in clips:  # db2's LL is twice the local mean
                near |= np.abs(ll / 2.0 - c) < 2.5 * sigma
            e[ndimage.maximum_filter(near, 3)] = np.nan
        es.append(_trim(e))
        ds.append(_trim(hh))
    if not es:
        return None
    e, d = np.concatenate(es), np.concatenate(ds)
    ok = np.isfinite(e) & np.isfinite(d)
    e, d = e[ok], d[ok]
    if d.size == 0:
        return 0.0
    if d.size >= 200:
        sel = e <= np.quantile(e, keep)
        if sel.sum() >= 50:
            d = d[sel]
    return float(np.median(np.abs(d)) / _MAD_TO_STD)


def wavelet_sigma(data: np.ndarray, keep: float = _KEEP) -> float:
    """Std of additive white Gaussian noise, from the smoothest regions' diagonal wavelet details.

    Clipped data (values piled up at the minimum or maximum: :func:`piled_extremes`) is measured
    away from the clip: the clipped pixels carry no noise, and near them the noise is cut short
    (narrower), which the smoothest regions, chosen first, are full of. Coefficients touching a
    clipped pixel, or whose local mean lies within 2.5 sigma of the clip level, are left out
    (sigma from the estimate before, twice).

    Parameters
    ----------
    data : ndarray
        Noisy data, ndim >= 2 (planes over the last two axes); NaN/inf are ignored.
    keep : float
        Fraction of the finest diagonal coefficients, those with the lowest local
        horizontal/vertical detail energy, that enter the MAD.

    Returns
    -------
    float
        The estimated sigma, in the data's units (0.0 when nothing usable is left).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noisy = 0.5 + 0.1 * rng.standard_normal((256, 256))
    >>> round(wavelet_sigma(noisy), 2)
    0.1
    >>> clean = np.tile(np.linspace(0.3, 1.4, 256), (256, 1))   # a ramp, saturated past 1
    >>> round(wavelet_sigma(np.clip(clean + 0.1 * rng.standard_normal(clean.shape), 0, 1)), 2)
    0.1
    """
    planes = sample_planes(data)
    clips = piled_extremes(planes)
    if clips:
        planes = np.where(np.isin(planes, clips), np.nan, planes)
    sigma = _diagonal_mad(planes, keep, clips, None)
    if sigma is None:
        return _small_sigma(data)
    for _ in range(2 if clips else 0):
        sigma = _diagonal_mad(planes, keep, clips, sigma) or sigma
    return sigma


def _small_sigma(data: np.ndarray) -> float:
    """Fallback for planes too small for a wavelet transform: MAD of neighbour differences."""
    p = planes_of(np.asarray(data, dtype=np.float64))
    d = (p[:, :, 1:] - p[:, :, :-1]).reshape(-1)
    d = d[np.isfinite(d)]
    return float(np.median(np.abs(d)) / _MAD_TO_STD / np.sqrt(2)) if d.size else 0.0


def local_variance_stats(data: np.ndarray, nbins: int = 16, keep: float = _KEEP,
                         min_count: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local mean and noise variance of smooth regions, binned by intensity (Foi et al. 2008 style).

    The local mean is the (3x3-smoothed) approximation band, the noise variance the mean square of
    the finest diagonal details; both come from an orthonormal db2 transform at all four polyphase
    shifts, keeping per bin the ``keep`` fraction with the lowest horizontal/vertical detail energy.

    Returns
    -------
    mean, var, count : ndarray
        One entry per usable bin: mean intensity, noise variance, and the number of independent
        coefficients behind it (weights for :func:`fit_variance`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = np.linspace(0.1, 1.0, 256)[None, :].repeat(256, 0)
    >>> m, v, n = local_variance_stats(0.01 * rng.poisson(x / 0.01))
    >>> bool(abs(np.sum(v * m) / np.sum(m * m) / 0.01 - 1) < 0.1)
    True
    """
    parts, shifts = [], 4
    for ll, lh, hl, hh in _dwt_planes(sample_planes(data), shifts=shifts):
        mean = _nan_uniform(ll / 2.0, 3)                  # db2 LL = 2 x local mean
        parts.append((_trim(mean), _trim(_smooth_energy(lh, hl, hh)), _trim(hh)))
    empty = np.zeros(0)
    if not parts:
        return empty, empty, empty
    m, e, d = (np.concatenate(x) for x in zip(*parts))
    ok = np.isfinite(m) & np.isfinite(e) & np.isfinite(d)
    m, e, d = m[ok], e[ok], d[ok]
    if m.size < min_count * shifts:
        return empty, empty, empty
    edges = np.unique(np.quantile(m, np.linspace(0, 1, nbins + 1)))
    idx = np.clip(np.searchsorted(edges, m, side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for k in range(max(len(edges) - 1, 1)):
        inbin = idx == k
        if inbin.sum() * keep < min_count * shifts:
            continue
        ek = e[inbin]
        sel = ek <= np.quantile(ek, keep)
        out.append((m[inbin][sel].mean(), np.mean(d[inbin][sel] ** 2), sel.sum() / shifts))
    if not out:
        return empty, empty, empty
    mean, var, count = (np.array(x) for x in zip(*out))
    return mean, var, count


def fit_variance(mean: np.ndarray, var: np.ndarray, count: np.ndarray, kind: str = "line") -> tuple[float, float]:
    """Weighted least-squares fit of the noise variance as a function of the mean.

    ``kind`` is ``"line"`` (var = a * mean + b), ``"origin"`` (var = a * mean, b = 0) or
    ``"quadratic"`` (var = a * mean**2, b = 0). The weights are the inverse variance of each bin's
    sample variance, ``count / (2 var**2)``, iterated on the fitted curve.

    Examples
    --------
    >>> m = np.linspace(0.1, 1, 10)
    >>> a, b = fit_variance(m, 0.02 * m + 0.001, np.full(10, 100.0))
    >>> round(a, 6), round(b, 6)
    (0.02, 0.001)
    """
    if mean.size == 0:
        return 0.0, 0.0
    if kind == "line" and mean.size < 2:
        return 0.0, float(np.mean(var))
    x = mean * mean if kind == "quadratic" else mean
    cols = [x, np.ones_like(x)] if kind == "line" else [x]
    design = np.stack(cols, axis=1)
    floor = 1e-3 * float(np.max(var)) + np.finfo(float).tiny
    pred = np.maximum(var, floor)
    for _ in range(6):
        sw = np.sqrt(count) / pred
        coef, *_ = np.linalg.lstsq(design * sw[:, None], var * sw, rcond=None)
        pred = np.maximum(design @ coef, floor)
    a = float(coef[0])
    b = float(coef[1]) if kind == "line" else 0.0
    return a, b


def fit_variance_robust(mean: np.ndarray, var: np.ndarray, count: np.ndarray, *,
                        slope: float | None = None) -> tuple[float, float]:
    """Robust fit of the noise level function ``var = a * mean + b`` (Foi et al. 2008's model).

    Texture and edges only ever add variance to a bin, and saturation or a clip distorts single
    bins: such bins are outliers, not evidence. The start is the line through two bins with the
    least median deviation (:func:`_least_median_line`: up to half the bins cannot move it);
    then iteratively reweighted least squares with the inverse variance of each bin's sample
    variance (``count / (2 var**2)``, on the fitted line) times Tukey's biweight of its
    deviation, scaled by the deviations' robust spread. ``slope`` fixes ``a``.

    Returns
    -------
    a, b : float
        Slope and intercept; ``(0, mean var)`` with fewer than two bins.

    Examples
    --------
    >>> m = np.linspace(10, 100, 12)
    >>> v = 2.0 * m + 9.0
    >>> v[3] *= 2.5                                   # a textured bin
    >>> a, b = fit_variance_robust(m, v, np.full(12, 500.0))
    >>> round(a, 3), round(b, 3)
    (2.0, 9.0)
    """
    if mean.size == 0:
        return (slope or 0.0), 0.0
    if mean.size < 2 and slope is None:
        return 0.0, float(np.mean(var))
    n = np.maximum(count, 1.0)
    floor = 1e-3 * float(np.max(np.abs(var))) + np.finfo(float).tiny
    design = np.stack([mean, np.ones_like(mean)], axis=1)

    def deviations(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        pred = np.maximum(a * mean + b, floor)
        return (var / pred - 1.0) * np.sqrt(n / 2.0), pred     # ~N(0, 1) for a bin of pure noise

    def weighted(weight: np.ndarray, pred: np.ndarray, a: float) -> tuple[float, float]:
        sw = np.sqrt(n * weight) / pred
        if slope is None:
            (a, b), *_ = np.linalg.lstsq(design * sw[:, None], var * sw, rcond=None)
            return float(a), float(b)
        return a, float(np.sum(sw * sw * (var - a * mean)) / np.sum(sw * sw))

    robust = _least_median_line(mean, var, n, slope)
    plain = weighted(np.ones_like(var), np.maximum(var, floor), slope if slope is not None else 0.0)
    # The biweight's scale: the larger spread of the deviations about the two starts (a line
    # through two bins can fit a few others far better than the bins' sampling error).
    scale = 4.685 * max(1.4826 * float(np.median(np.abs(deviations(*line)[0]))) for line in (robust, plain))
    scale = max(scale, 4.685)
    best, best_loss = robust, math.inf
    # From both starts (the robust one, and plain least squares: the better one on clean bins,
    # where a line through two scattered bins starts off), the fit with the smaller biweight loss.
    for a, b in (robust, plain):
        for _ in range(10):
            z, pred = deviations(a, b)
            u = z / scale
            weight = np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
            if np.count_nonzero(weight) < 2:
                break
            a, b = weighted(weight, pred, a)
        u = np.minimum(np.abs(deviations(a, b)[0] / scale), 1.0)
        loss = float(np.sum(1.0 - (1.0 - u * u) ** 3))
        if loss < best_loss:
            best, best_loss = (a, b), loss
    return float(best[0]), float(best[1])


def _least_median_line(mean: np.ndarray, var: np.ndarray, n: np.ndarray,
                       slope: float | None) -> tuple[float, float]:
    """The line through two bins at least a quarter of the bins' span apart (with ``slope``:
    through one) whose median deviation over all bins, each in units of its sampling error, is
    least."""
    if slope is None:
        i, j = np.triu_indices(mean.size, 1)
        # Only pairs far apart set a slope: bins crowded at one level (a page, a flat background)
        # fit any line through two of them, and would outvote the rest.
        ok = np.abs(mean[j] - mean[i]) >= 0.25 * np.ptp(mean)
        i, j = i[ok], j[ok]
        if not i.size:
            return 0.0, float(np.median(var))
        a = (var[j] - var[i]) / (mean[j] - mean[i])
        b = var[i] - a * mean[i]
    else:
        a = np.full(mean.size, float(slope))
        b = var - a * mean
    pred = a[:, None] * mean[None, :] + b[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(pred > 0, np.abs(var[None, :] / pred - 1.0), np.inf) * np.sqrt(n / 2.0)[None, :]
    best = int(np.argmin(np.median(z, axis=1)))
    return float(a[best]), float(b[best])
