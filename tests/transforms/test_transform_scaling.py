"""percentile, minmax, zscore and none."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.transforms import IdentityTransform, MinMaxTransform, PercentileTransform, ZScoreTransform
from restoration.transforms.scaling import fit_sample


def test_percentile_maps_robust_range_to_unit_interval():
    rng = np.random.default_rng(0)
    x = rng.normal(100.0, 10.0, (200, 200))
    x[0, :5] = [1e6, -1e6, np.nan, np.inf, -np.inf]          # outliers and missing values
    t = PercentileTransform()
    state = t.fit(x)
    y = t.forward(x, state)
    finite = np.isfinite(x)
    lo, hi = np.percentile(y[finite], [0.1, 99.9])
    assert lo == pytest.approx(0.0, abs=0.01) and hi == pytest.approx(1.0, abs=0.01)
    assert state["percentiles"] == [0.1, 99.9]
    assert np.isnan(y[0, 2]) and y[0, 3] == np.inf


def test_percentile_constant_and_mostly_constant_data():
    t = PercentileTransform()
    const = np.full((10, 10), 7.0)
    state = t.fit(const)
    assert state["scale"] == 1.0
    np.testing.assert_array_equal(t.forward(const, state), 0.0)
    mostly = np.zeros((100, 100))
    mostly[0, 0] = 5.0                                       # percentiles equal: use the full range
    assert t.fit(mostly)["scale"] == 5.0
    assert t.fit(np.full((3, 3), np.nan)) == {"offset": 0.0, "scale": 1.0, "percentiles": [0.1, 99.9]}


def test_custom_percentiles():
    x = np.arange(101.0)
    state = PercentileTransform(low=10, high=90).fit(x)
    assert (state["offset"], state["scale"]) == (10.0, 80.0)


def test_minmax_and_zscore():
    x = np.array([[1.0, 2.0], [3.0, np.nan]])
    s = MinMaxTransform().fit(x)
    np.testing.assert_allclose(MinMaxTransform().forward(x, s), [[0, 0.5], [1, np.nan]])
    z = ZScoreTransform()
    y = z.forward(x, z.fit(x))
    assert np.nanmean(y) == pytest.approx(0.0) and np.nanstd(y) == pytest.approx(1.0)


def test_none_is_identity_as_float():
    t = IdentityTransform()
    x = np.arange(6, dtype=np.uint16).reshape(2, 3)
    y = t.forward(x, t.fit(x))
    assert y.dtype == np.float64
    np.testing.assert_array_equal(t.inverse(y, {}), x)
    f = np.ones((2, 2), np.float32)
    assert t.forward(f, {}) is f


def test_float32_keeps_its_dtype_and_precision():
    x = np.random.default_rng(1).random((64, 64)).astype(np.float32) * 1000
    t = PercentileTransform()
    state = t.fit(x)
    y = t.forward(x, state)
    assert y.dtype == np.float32
    np.testing.assert_allclose(t.inverse(y, state), x, rtol=1e-6, atol=1e-4)


def test_fit_samples_deterministically():
    x = np.arange(10_000_000, dtype=np.float64)
    s = fit_sample(x, limit=1000)
    assert 900 < s.size <= 1000 and s[0] == 0.0
    np.testing.assert_array_equal(s, fit_sample(x, limit=1000))
    state = PercentileTransform().fit(x)
    assert state["offset"] == pytest.approx(10_000, rel=0.01)
