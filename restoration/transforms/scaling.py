"""Affine intensity scalings: percentile (default), minmax, zscore, and the identity ``none``.

States are plain floats, so a chain fitted on a sample applies chunk by chunk and inverts exactly.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..types import Transform

SAMPLE = 1 << 21  # values used to fit: a deterministic subsample of larger arrays


def finite_sample(x: np.ndarray) -> np.ndarray:
    """Finite values of ``x``, strided down to at most SAMPLE of them (deterministic)."""
    flat = np.asarray(x, dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size > SAMPLE:
        flat = flat[:: flat.size // SAMPLE + 1]
    return flat


class _Affine(Transform):
    """``y = (x - offset) / scale``; subclasses choose offset and scale."""

    def _fit(self, v: np.ndarray) -> tuple[float, float]:
        raise NotImplementedError

    def fit(self, x: np.ndarray) -> dict:
        v = finite_sample(x)
        if v.size == 0:
            return {"offset": 0.0, "scale": 1.0}
        offset, scale = self._fit(v)
        if not np.isfinite(scale) or scale <= 0:
            scale = 1.0  # constant data: shift only
        return {"offset": float(offset), "scale": float(scale)}

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - state["offset"]) / state["scale"]

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        return np.asarray(y, dtype=np.float64) * state["scale"] + state["offset"]


class Percentile(_Affine):
    """Robust scaling: the 0.1th and 99.9th percentiles map to 0 and 1.

    Examples
    --------
    >>> t = Percentile(); x = np.linspace(0, 10, 1001)
    >>> s = t.fit(x); np.allclose(t.inverse(t.forward(x, s), s), x)
    True
    """

    name: ClassVar[str] = "percentile"
    low: ClassVar[float] = 0.1
    high: ClassVar[float] = 99.9

    def _fit(self, v):
        lo, hi = np.percentile(v, [self.low, self.high])
        return lo, hi - lo


class MinMax(_Affine):
    """The data's minimum and maximum map to 0 and 1."""

    name: ClassVar[str] = "minmax"

    def _fit(self, v):
        return v.min(), v.max() - v.min()


class ZScore(_Affine):
    """Zero mean, unit standard deviation."""

    name: ClassVar[str] = "zscore"

    def _fit(self, v):
        return v.mean(), v.std()


class Identity(Transform):
    """No transform (``--transform none`` also disables the default chain)."""

    name: ClassVar[str] = "none"

    def fit(self, x):
        return {}

    def forward(self, x, state):
        return np.asarray(x, dtype=np.float64)

    def inverse(self, y, state):
        return np.asarray(y, dtype=np.float64)
