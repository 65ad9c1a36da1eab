"""Small helpers shared by the built-in noise models: missing pixels, likelihood terms, parameters."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..types import Observation
from .estimate import as_float

LOG_2PI = math.log(2 * math.pi)


def param(params: dict, name: str, model: str, *, minimum: float | None = 0.0) -> float:
    """``params[name]`` as a float, or an :class:`InputError` naming the model when missing/invalid."""
    if name not in params or params[name] is None:
        raise InputError(f"noise model {model!r} needs parameter {name!r}")
    value = float(params[name])
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        raise InputError(f"noise model {model!r}: parameter {name}={value} is not a finite value >= {minimum}")
    return value


def pairs(noisy: np.ndarray, clean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened float64 ``(noisy, clean)`` values where both are finite (missing pixels ignored)."""
    y = np.asarray(noisy, dtype=np.float64).reshape(-1)
    x = np.asarray(clean, dtype=np.float64).reshape(-1)
    if y.shape != x.shape:
        raise InputError(f"noisy and clean shapes differ: {np.shape(noisy)} vs {np.shape(clean)}")
    ok = np.isfinite(y) & np.isfinite(x)
    if not ok.any():
        raise InputError("no pixel is finite in both the noisy and the clean data")
    return y[ok], x[ok]


def gaussian_logpdf(r: np.ndarray, var: np.ndarray | float) -> np.ndarray:
    """Log density of residuals ``r`` under N(0, var), elementwise."""
    return -0.5 * (r * r / var + np.log(var) + LOG_2PI)


def mean_finite(values: np.ndarray) -> float:
    """Mean of a log-likelihood array; -inf terms are clamped so the result stays finite."""
    v = np.nan_to_num(values, nan=-1e6, neginf=-1e6, posinf=1e6)
    return float(np.mean(np.maximum(v, -1e6)))


def observation(data: np.ndarray, sigma: float, mask: np.ndarray | None = None) -> Observation:
    """An :class:`Observation` whose missing (non-finite) pixels are filled and masked.

    The fill value (the median of the finite values) keeps NaN out of the denoiser; the mask tells
    it that those pixels carry no information. ``mask`` adds further pixels (e.g. impulses).
    """
    out = np.array(data, dtype=as_float(data).dtype, copy=True)
    bad = ~np.isfinite(out)
    if bad.any():
        good = out[~bad]
        out[bad] = float(np.median(good)) if good.size else 0.0
    full = bad if mask is None else (bad | mask)
    return Observation(out, float(sigma), full if full.any() else None)


def simulate_on_finite(clean: np.ndarray, draw) -> np.ndarray:
    """Apply ``draw(values)`` to the finite pixels of ``clean``; missing pixels stay NaN."""
    x = np.asarray(clean, dtype=np.float64)
    ok = np.isfinite(x)
    out = np.full(x.shape, np.nan)
    out[ok] = draw(x[ok])
    return out
