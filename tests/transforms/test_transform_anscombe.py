"""anscombe: 2 sqrt(x + 3/8) and its exact algebraic inverse."""

from __future__ import annotations

import numpy as np

from restoration.noise.poisson import gat
from restoration.transforms import AnscombeTransform

T = AnscombeTransform()


def test_forward_matches_the_formula_and_the_gat():
    x = np.array([0.0, 1.0, 5.5, 100.0])
    np.testing.assert_allclose(T.forward(x, {}), 2 * np.sqrt(x + 3 / 8))
    np.testing.assert_allclose(T.forward(x, {}), gat(x, 1.0))


def test_poisson_variance_is_stabilized():
    rng = np.random.default_rng(0)
    for lam in (10, 50, 200):
        assert abs(T.forward(rng.poisson(lam, 200_000).astype(float), {}).std() - 1.0) < 0.03


def test_exact_inverse_everywhere_including_below_minus_three_eighths():
    x = np.concatenate([np.linspace(-3.0, 3.0, 601), [np.nan]])
    y = T.forward(x, T.fit(x))
    assert np.isfinite(y[:-1]).all() and (np.diff(y[:-1]) > 0).all()
    np.testing.assert_allclose(T.inverse(y, {}), x, rtol=1e-12, atol=1e-12, equal_nan=True)
