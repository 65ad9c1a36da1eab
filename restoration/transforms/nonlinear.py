"""Non-linear transforms: log (positive data with a wide range) and Anscombe (count-like data)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import InputError
from ..types import Transform
from .scaling import finite_sample


class Log(Transform):
    """``y = log(x + offset)``; the offset keeps the smallest value positive.

    The fitted offset is 0 for positive data; otherwise it lifts the minimum to 1 % of the range.
    Values at or below ``-offset`` outside the fitted sample are an error, not a silent NaN.
    """

    name: ClassVar[str] = "log"

    def fit(self, x: np.ndarray) -> dict:
        v = finite_sample(x)
        if v.size == 0:
            return {"offset": 0.0}
        lo, hi = float(v.min()), float(v.max())
        offset = 0.0 if lo > 0 else -lo + 0.01 * max(hi - lo, 1e-12)
        return {"offset": offset}

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        z = np.asarray(x, dtype=np.float64) + state["offset"]
        if np.any(z[np.isfinite(z)] <= 0):
            raise InputError("log transform needs positive data (values at or below the fitted offset)")
        return np.log(z)

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        return np.exp(np.asarray(y, dtype=np.float64)) - state["offset"]


class Anscombe(Transform):
    """``y = 2 sqrt(x + 3/8)`` and its algebraic inverse (the transform itself, not a denoising
    inverse: the noise models carry the exact unbiased inverses)."""

    name: ClassVar[str] = "anscombe"

    def fit(self, x: np.ndarray) -> dict:
        v = finite_sample(x)
        lo = float(v.min()) if v.size else 0.0
        return {"offset": max(0.0, -lo)}  # keeps the square root real for data below 0

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        return 2.0 * np.sqrt(np.maximum(np.asarray(x, dtype=np.float64) + state["offset"] + 0.375, 0.0))

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        return (np.asarray(y, dtype=np.float64) / 2.0) ** 2 - 0.375 - state["offset"]
