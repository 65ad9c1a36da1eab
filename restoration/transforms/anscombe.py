"""The Anscombe transform ``2 sqrt(x + 3/8)`` (Poisson data to roughly unit-variance noise).

As an intensity transform it is undone by its exact algebraic inverse ``(y/2)**2 - 3/8``. The
*unbiased* inverse for denoised data belongs to the noise model (``poisson`` /
``poisson-gaussian`` ``from_gaussian``), not here. Below ``x = -3/8`` the transform continues as
``-2 sqrt(-(x + 3/8))`` (odd extension), so it is defined, strictly increasing and invertible
everywhere.
"""

from __future__ import annotations

import numpy as np

from ..types import Transform
from .scaling import as_float


class AnscombeTransform(Transform):
    """``2 sqrt(x + 3/8)``, with its exact algebraic inverse.

    Examples
    --------
    >>> t = AnscombeTransform()
    >>> y = t.forward(np.array([1.0, 10.0]), {})
    >>> t.inverse(y, {}).round(12)
    array([ 1., 10.])
    """

    name = "anscombe"

    def fit(self, x: np.ndarray) -> dict:
        """No state: the transform has no parameters."""
        return {}

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        """``2 sqrt(x + 3/8)``, continued as ``-2 sqrt(-(x + 3/8))`` below ``-3/8``."""
        z = as_float(x) + 0.375
        return np.sign(z) * 2.0 * np.sqrt(np.abs(z))

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        """The exact algebraic inverse ``(y/2)**2 - 3/8`` (sign-extended like :meth:`forward`)."""
        a = as_float(y)
        return np.sign(a) * (a * a) / 4.0 - 0.375
