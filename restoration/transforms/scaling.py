"""Linear intensity scalings: ``percentile`` (the default chain), ``minmax``, ``zscore``, ``none``.

Each maps ``x`` to ``(x - offset) / scale`` with an explicit, JSON-serializable state, so chunks of
one array share one global state and every step inverts exactly. NaN/inf are ignored by ``fit`` and
pass through ``forward``/``inverse`` elementwise. ``fit`` looks at a deterministic strided sample of
at most :data:`FIT_SAMPLE` values.
"""

from __future__ import annotations

import numpy as np

from ..types import Transform

#: Largest number of values ``fit`` reads (a deterministic stride through the data).
FIT_SAMPLE = 1 << 21


def as_float(x: np.ndarray) -> np.ndarray:
    """``x`` as float (float32 stays float32, anything else becomes float64)."""
    a = np.asarray(x)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def fit_sample(x: np.ndarray, limit: int = FIT_SAMPLE) -> np.ndarray:
    """The finite values of ``x`` (float64), deterministically strided down to about ``limit``."""
    flat = np.asarray(x).reshape(-1)
    if flat.size > limit:
        flat = flat[:: -(-flat.size // limit)]
    flat = flat.astype(np.float64)
    return flat[np.isfinite(flat)]


def _scale(offset: float, scale: float) -> dict:
    if not np.isfinite(scale) or scale <= 0:
        scale = 1.0              # constant (or empty) data: shift only, never divide by zero
    return {"offset": float(offset if np.isfinite(offset) else 0.0), "scale": float(scale)}


class _Linear(Transform):
    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        a = as_float(x)
        return (a - a.dtype.type(state["offset"])) / a.dtype.type(state["scale"])

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        a = as_float(y)
        return a * a.dtype.type(state["scale"]) + a.dtype.type(state["offset"])


class PercentileTransform(_Linear):
    """Robust scaling: the ``low``..``high`` percentiles of the data map to 0..1.

    Examples
    --------
    >>> t = PercentileTransform()
    >>> x = np.arange(1001.0)
    >>> state = t.fit(x)
    >>> round(state["offset"], 6), round(state["scale"], 6)
    (1.0, 998.0)
    >>> bool(np.allclose(t.inverse(t.forward(x, state), state), x))
    True
    """

    name = "percentile"

    def __init__(self, low: float = 0.1, high: float = 99.9):
        self.low, self.high = low, high

    def fit(self, x: np.ndarray) -> dict:
        """Offset and scale mapping the ``low``..``high`` percentiles of ``x`` to 0..1
        (the finite minimum..maximum when they coincide).
        """
        v = fit_sample(x)
        if v.size == 0:
            return {**_scale(0.0, 1.0), "percentiles": [self.low, self.high]}
        lo, hi = np.percentile(v, [self.low, self.high])
        if hi <= lo:             # e.g. mostly constant data: fall back to the full range
            lo, hi = v.min(), v.max()
        return {**_scale(lo, hi - lo), "percentiles": [self.low, self.high]}


class MinMaxTransform(_Linear):
    """The data's finite minimum..maximum map to 0..1.

    Examples
    --------
    >>> MinMaxTransform().fit(np.array([2.0, 4.0, np.nan]))
    {'offset': 2.0, 'scale': 2.0}
    """

    name = "minmax"

    def fit(self, x: np.ndarray) -> dict:
        """Offset and scale mapping the finite minimum..maximum of ``x`` to 0..1."""
        v = fit_sample(x)
        return _scale(v.min(), v.max() - v.min()) if v.size else _scale(0.0, 1.0)


class ZScoreTransform(_Linear):
    """Zero mean, unit standard deviation.

    Examples
    --------
    >>> ZScoreTransform().fit(np.array([1.0, 3.0]))
    {'offset': 2.0, 'scale': 1.0}
    """

    name = "zscore"

    def fit(self, x: np.ndarray) -> dict:
        """Offset and scale giving the finite values of ``x`` zero mean and unit std."""
        v = fit_sample(x)
        return _scale(v.mean(), v.std()) if v.size else _scale(0.0, 1.0)


class IdentityTransform(Transform):
    """No transform (``--transform none``); integer data becomes float64.

    Examples
    --------
    >>> IdentityTransform().forward(np.array([1, 2]), {})
    array([1., 2.])
    """

    name = "none"

    def fit(self, x: np.ndarray) -> dict:
        """No state: the transform has no parameters."""
        return {}

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        """``x`` as floats (float32 stays float32, anything else becomes float64)."""
        return as_float(x)

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        """``y`` as floats (float32 stays float32, anything else becomes float64)."""
        return as_float(y)
