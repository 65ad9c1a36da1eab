"""Logarithmic intensity transform for positive data, with a linear tail so it never fails.

``z = x + offset``; ``forward`` is ``log(z)`` for ``z >= threshold`` and the tangent line
``log(threshold) + (z - threshold) / threshold`` below it. The map is continuous, smooth and
strictly increasing, so values below the fitted range (another chunk, negative noise) stay finite
and everything inverts exactly. ``fit`` sets ``offset = 0`` and ``threshold = min`` for positive
data; for data with zeros or negative values it shifts the minimum to ``delta`` (1 for integer
data, as in ``log(1 + x)`` for counts; 1 % of the 0.1..99.9 percentile spread for floats) and sets
``threshold = delta``.
"""

from __future__ import annotations

import numpy as np

from ..types import Transform
from .scaling import as_float, fit_sample


class LogTransform(Transform):
    """``log(x + offset)`` with a linear tail below ``threshold``.

    Examples
    --------
    >>> t = LogTransform()
    >>> x = np.array([0, 1, 10, 100])
    >>> state = t.fit(x)                 # integer data with zeros: log(1 + x)
    >>> state
    {'offset': 1.0, 'threshold': 1.0}
    >>> bool(np.allclose(t.inverse(t.forward(x, state), state), x))
    True
    """

    name = "log"

    def fit(self, x: np.ndarray) -> dict:
        """``offset`` and ``threshold`` for ``x`` (see the module docstring for the rule)."""
        v = fit_sample(x)
        if v.size == 0:
            return {"offset": 0.0, "threshold": 1.0}
        lo = float(v.min())
        if lo > 0:
            return {"offset": 0.0, "threshold": lo}
        if np.issubdtype(np.asarray(x).dtype, np.integer) or np.asarray(x).dtype == bool:
            delta = 1.0
        else:
            spread = float(np.percentile(v, 99.9) - lo)
            delta = 0.01 * spread if spread > 0 else 1.0
        return {"offset": delta - lo, "threshold": delta}

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        """``log(x + offset)``, continued by its tangent line below ``threshold``."""
        a = as_float(x)
        t = a.dtype.type(state["threshold"])
        z = a + a.dtype.type(state["offset"])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(z >= t, np.log(np.maximum(z, t)), np.log(t) + (z - t) / t)

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        """Exact inverse of :meth:`forward` (``exp`` above ``log(threshold)``, linear below)."""
        a = as_float(y)
        t = a.dtype.type(state["threshold"])
        log_t = np.log(t)
        with np.errstate(over="ignore"):
            z = np.where(a >= log_t, np.exp(np.maximum(a, log_t)), (a - log_t) * t + t)
        return z - a.dtype.type(state["offset"])
