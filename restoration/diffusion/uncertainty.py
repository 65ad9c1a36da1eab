"""Calibrated per-pixel std: the spread of K posterior samples turned into an error bar.

The spread of K samples understates the error of their mean: its square averages (K - 1) / K of
the samples' variance, the mean carries a Monte-Carlo variance of 1 / K of it, and the model's
posterior is narrower than its actual error (most of all at low noise, where the restored mean
misses detail it is sure of). The calibrated variance is

    std² = c(σ, K)² · spread² + (b(σ, K) · σ)²

with σ the observation's noise level (model units) and ``spread²`` the samples' variance averaged
over a :data:`POOL` x :data:`POOL` window (:func:`pool_spread`): K samples estimate a pixel's
variance with a relative error of about ``1 / sqrt(2 (K - 1))``, and an error bar that noisy gives
the errors measured in it heavy tails (at K = 8, ±1 std held 0.72 where ±2 held 0.94; at K = 2,
0.78 and 0.93), while the posterior's variance changes slowly from pixel to pixel. ``c`` and ``b``
are fitted per noise level and sample count on a validation set (``benchmarks/uncertainty_fit.py``: ±1 std should hold 68.3 % of
the errors and ±2 std 95.4 %) and stored next to the model they belong to
(``models/default_uncertainty.json`` for the shipped one, keyed by its sha256). Between the
fitted levels the coefficients are interpolated in log σ (held at the ends); between the fitted
sample counts in 1 / K; above the largest, ``c`` follows the finite-sample law
``c² = K / (K - 1) · (a² + 1 / K)`` with ``a`` the model's excess spread fitted there. A model
without a table gets the finite-sample law alone (a = 1, b = 0: exact for a perfect sampler).

A table's top-level rows are fitted on Gaussian noise; its ``families`` hold rows of the same form
fitted on data other noise models stabilized (``noise``: the models' names), used for data of
those models (:func:`rows_for`): the Anscombe transform's noise is Gaussian only at many photons,
and its errors, mapped back to counts, are not a Gaussian's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import ndimage

#: Calibration tables shipped with the package, one per model file (matched by content hash).
TABLES = (Path(__file__).resolve().parent.parent / "models" / "default_uncertainty.json",)
#: ``uncertainty`` choices: ``calibrated`` (an error bar) or ``spread`` (the samples' std as drawn).
MODES = ("calibrated", "spread")
#: What the calibration aims at: (std multiple, share of errors within it, the target's tolerance).
TARGETS = ((1.0, 0.6827, 0.05), (2.0, 0.9545, 0.02))
#: Side of the window the samples' variance is averaged over (chosen on the validation set over 1,
#: 3, 5 and 7: 5 and 7 alike, both far better than 1 at every level and K).
POOL = 5
#: The table format these coefficients need (fitted on pooled spreads).
FORMAT = "restoration-std-calibration/2"


@lru_cache(maxsize=None)
def _tables() -> tuple[dict, ...]:
    tables = (json.loads(p.read_text()) | {"file": p.name} for p in TABLES if p.is_file())
    return tuple(t for t in tables if t.get("format") == FORMAT)


def find_table(model_id: str) -> dict | None:
    """The calibration table fitted for the model ``NAME@sha256:DIGEST`` (its digest's prefix), or None.

    Examples
    --------
    >>> find_table("other.pt@sha256:0123456789abcdef") is None
    True
    """
    digest = model_id.rpartition("@sha256:")[2]
    return next((t for t in _tables() if digest and t["model_sha256"].startswith(digest)), None)


def rows_for(table: dict | None, noise: str | None) -> dict | None:
    """The rows of ``table`` fitted for data the noise model ``noise`` stabilized: its family's
    where the table has one, else the Gaussian rows.

    Examples
    --------
    >>> table = {"sigma": [0.1], "families": [{"noise": ["poisson"], "sigma": [0.3]}]}
    >>> rows_for(table, "poisson")["sigma"], rows_for(table, "gaussian")["sigma"], rows_for(None, "poisson")
    ([0.3], [0.1], None)
    """
    if table is None:
        return None
    return next((f for f in table.get("families", ()) if noise in f["noise"]), table)


def _excess(c: float, k: int) -> float:
    """The model's excess spread ``a`` from a fitted ``c`` at ``k`` samples (finite-sample law)."""
    return float(np.sqrt(max(c * c * (k - 1) / k - 1 / k, 0.0)))


def coefficients(sigma: float, samples: int, table: dict | None) -> tuple[float, float]:
    """``(c, b)`` of the calibrated variance ``c² · spread² + (b · sigma)²`` (see the module docstring).

    Examples
    --------
    Without a table, the finite-sample law for a perfect sampler: ``sqrt((K + 1) / (K - 1))``.

    >>> c, b = coefficients(0.1, 8, None)
    >>> round(c, 4), b
    (1.1339, 0.0)
    """
    k = int(samples)
    if k < 2:
        raise ValueError("a std needs at least 2 samples")
    if table is None:
        return float(np.sqrt((k + 1) / (k - 1))), 0.0
    x = np.log(np.asarray(table["sigma"], dtype=np.float64))
    at = np.log(max(float(sigma), 1e-12))
    ks = list(table["samples"])

    def row(name: str, i: int) -> float:
        return float(np.interp(at, x, np.asarray(table[name][i], dtype=np.float64)))

    if k >= ks[-1]:
        a, b = _excess(row("scale", -1), ks[-1]), row("floor", -1)
        return float(np.sqrt(k / (k - 1) * (a * a + 1 / k))), b
    j = max(i for i, kk in enumerate(ks) if kk <= k) if k >= ks[0] else 0
    if ks[j] == k or k < ks[0]:
        return row("scale", j), row("floor", j)
    w = (1 / ks[j] - 1 / k) / (1 / ks[j] - 1 / ks[j + 1])      # linear in 1 / K
    c2 = (1 - w) * row("scale", j) ** 2 + w * row("scale", j + 1) ** 2
    b2 = (1 - w) * row("floor", j) ** 2 + w * row("floor", j + 1) ** 2
    return float(np.sqrt(c2)), float(np.sqrt(b2))


def pool_spread(spread: np.ndarray) -> np.ndarray:
    """The samples' std of a plane, its variance averaged over :data:`POOL` x :data:`POOL` pixels
    (mirrored at the plane's edges).

    Examples
    --------
    >>> spread = np.zeros((5, 5))
    >>> spread[2, 2] = 0.5
    >>> round(float(pool_spread(spread)[2, 2]), 4)      # sqrt(0.5² / 25)
    0.1
    """
    var = ndimage.uniform_filter(np.square(spread, dtype=np.float64), POOL, mode="reflect")
    return np.sqrt(var).astype(spread.dtype, copy=False)


def calibrate_std(spread: np.ndarray, sigma: float, samples: int, table: dict | None) -> np.ndarray:
    """The calibrated std of ``samples`` posterior samples whose per-pixel std is ``spread`` (a
    plane), for an observation with Gaussian noise ``sigma`` (model units, like ``spread``).

    Examples
    --------
    >>> calibrate_std(np.full((3, 3), 0.1), 0.1, 8, None)[1, 1].round(4)
    np.float64(0.1134)
    """
    c, b = coefficients(sigma, samples, table)
    return np.sqrt((c * pool_spread(spread)) ** 2 + (b * float(sigma)) ** 2).astype(spread.dtype, copy=False)


def describe(model_id: str, samples: int, mode: str) -> str | None:
    """What the std map of a run is, for its provenance: None without a std (one sample)."""
    if int(samples) < 2:
        return None
    if mode == "spread":
        return "spread: the std of the posterior samples, uncalibrated"
    table = find_table(model_id)
    if table is None:
        return "finite-sample correction only (no calibration table for this model)"
    return f"{table['file']} ({table['fitted_on']})"


def coverage(err: np.ndarray, std: np.ndarray) -> list[float]:
    """Shares of ``|err|`` within 1 and 2 ``std`` (:data:`TARGETS`).

    Examples
    --------
    >>> coverage(np.array([0.5, 1.5, 3.0]), np.ones(3))
    [0.3333333333333333, 0.6666666666666666]
    """
    return [float(np.mean(np.abs(err) <= m * std)) for m, _, _ in TARGETS]


def coverage_miss(cov: list[float]) -> float:
    """How far coverage shares (:func:`coverage`) lie from :data:`TARGETS`: the squared misses over
    each target's tolerance, summed (what :func:`fit_coefficients` minimizes).

    Examples
    --------
    >>> round(coverage_miss([0.7327, 0.9545]), 6)     # ±1 std one tolerance wide, ±2 std on target
    1.0
    """
    return sum(((v - t) / tol) ** 2 for v, (_, t, tol) in zip(cov, TARGETS))


def fit_coefficients(err: np.ndarray, spread: np.ndarray, sigma: float) -> tuple[float, float]:
    """The ``(c, b)`` whose calibrated std brings :func:`coverage` of ``err`` closest to
    :data:`TARGETS` (squared misses over each target's tolerance): a grid, then a finer one.

    ``err`` are errors of K-sample means, ``spread`` their samples' stds, ``sigma`` the noise std
    (a scalar or one per error), all in one unit.
    """
    def loss(cb: tuple[float, float]) -> float:
        return coverage_miss(coverage(err, np.sqrt((cb[0] * spread) ** 2 + (cb[1] * sigma) ** 2)))

    c0, b0 = min(((c, b) for c in np.linspace(0.3, 4.0, 38) for b in np.linspace(0.0, 2.0, 21)), key=loss)
    c, b = min(((c, b) for c in np.linspace(max(c0 - 0.1, 0.05), c0 + 0.1, 21)
                for b in np.linspace(max(b0 - 0.1, 0.0), b0 + 0.1, 21)), key=loss)
    return float(c), float(b)
