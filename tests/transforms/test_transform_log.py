"""log: offsets for zeros/negatives, a linear tail below the fitted range, exact inverse."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.transforms import LogTransform

T = LogTransform()


def test_positive_data_is_a_plain_log():
    x = np.array([0.5, 1.0, 10.0])
    state = T.fit(x)
    assert state == {"offset": 0.0, "threshold": 0.5}
    np.testing.assert_allclose(T.forward(x, state), np.log(x))


def test_counts_with_zeros_use_log1p():
    x = np.array([[0, 1], [3, 99]], dtype=np.uint16)
    state = T.fit(x)
    np.testing.assert_allclose(T.forward(x, state), np.log1p(x.astype(float)))


def test_negative_floats_shift_into_range_and_invert():
    x = np.linspace(-1.0, 4.0, 501)
    state = T.fit(x)
    assert state["threshold"] == pytest.approx(0.01 * 4.99, rel=0.01)
    y = T.forward(x, state)
    assert np.isfinite(y).all() and (np.diff(y) > 0).all()
    np.testing.assert_allclose(T.inverse(y, state), x, rtol=1e-12, atol=1e-12)


def test_values_below_the_fitted_range_stay_finite_and_invertible():
    state = T.fit(np.array([1.0, 2.0, 3.0]))
    x = np.array([-5.0, 0.0, 0.5, 1.0, 2.0, np.nan])        # another chunk, below the fit's minimum
    y = T.forward(x, state)
    assert np.isfinite(y[:-1]).all() and np.isnan(y[-1])
    assert (np.diff(y[:-1]) > 0).all()
    np.testing.assert_allclose(T.inverse(y, state), x, rtol=1e-12, equal_nan=True)
    # continuous at the threshold
    eps = 1e-9
    assert T.forward(np.array([1.0 - eps]), state)[0] == pytest.approx(0.0, abs=1e-8)
