"""Property-based checks of every registered transform (built-in or plugin): fit gives a JSON
state, inverse(forward(x)) == x within float tolerance on random finite data (positive data for
``log``), NaN stays NaN, and a state fitted on a sample applies chunk by chunk."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from restoration.plugins import registry

TRANSFORMS = sorted(registry().transforms)
POSITIVE_ONLY = {"log"}
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DTYPES = ["uint8", "uint16", "int16", "float32", "float64"]


def test_builtins_are_registered():
    assert {"percentile", "minmax", "zscore", "none", "log", "anscombe"} <= set(TRANSFORMS)


@st.composite
def finite_data(draw, positive: bool):
    """2-D..4-D arrays of random finite values of a supported dtype, in a random range."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(2, 4))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    if dtype.kind == "f":
        bound = draw(st.sampled_from([1e-3, 1.0, 255.0, 1e4, 1e6]))
        lo = 1e-3 * bound if positive else -bound
        elements = st.floats(lo, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False)
        return draw(arrays(np.float64, shape, elements=elements)).astype(dtype)  # within float32's range
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(int(info.min), 1) if positive else int(info.min), int(info.max))
    return draw(arrays(dtype, shape, elements=elements))


def _close(back: np.ndarray, x: np.ndarray) -> None:
    """Equal within a few ulps of the working precision (float32 data may stay float32)."""
    eps = np.finfo(back.dtype).eps if back.dtype.kind == "f" else np.finfo(np.float64).eps
    x = x.astype(np.float64)
    scale = float(np.max(np.abs(x))) + 1.0 if x.size else 1.0
    np.testing.assert_allclose(back.astype(np.float64), x, rtol=64 * eps, atol=64 * eps * scale)


def _state(transform, x: np.ndarray) -> dict:
    state = transform.fit(x)
    assert isinstance(state, dict)
    return json.loads(json.dumps(state))  # JSON-serializable, and used as stored in provenance


@pytest.mark.parametrize("name", TRANSFORMS)
@SETTINGS
@given(data=st.data())
def test_forward_inverse_round_trip(name, data):
    transform = registry().transforms[name]
    x = data.draw(finite_data(positive=name in POSITIVE_ONLY))
    state = _state(transform, x)
    y = np.asarray(transform.forward(x, state))
    assert y.shape == x.shape and np.all(np.isfinite(y))
    back = np.asarray(transform.inverse(y, state))
    assert back.shape == x.shape
    _close(back, x)


@pytest.mark.parametrize("name", TRANSFORMS)
@SETTINGS
@given(data=st.data())
def test_nan_stays_nan(name, data):
    transform = registry().transforms[name]
    x = data.draw(finite_data(positive=name in POSITIVE_ONLY)).astype(np.float64)
    mask = data.draw(arrays(np.bool_, x.shape))
    x[mask] = np.nan
    state = _state(transform, x)
    assert all(not isinstance(v, float) or np.isfinite(v) for v in state.values()), state
    y = np.asarray(transform.forward(x, state))
    assert np.array_equal(np.isnan(y), mask)
    back = np.asarray(transform.inverse(y, state))
    assert np.array_equal(np.isnan(back), mask)
    _close(back[~mask], x[~mask])


@pytest.mark.parametrize("name", TRANSFORMS)
@SETTINGS
@given(data=st.data())
def test_chunk_by_chunk_equals_whole(name, data):
    """One global state: applying forward/inverse to pieces gives the pieces of the whole."""
    transform = registry().transforms[name]
    x = data.draw(finite_data(positive=name in POSITIVE_ONLY))
    state = _state(transform, x)
    whole = np.asarray(transform.forward(x, state))
    cut = data.draw(st.integers(0, x.shape[0]))
    parts = [np.asarray(transform.forward(p, state)) for p in (x[:cut], x[cut:]) if p.size]
    np.testing.assert_array_equal(np.concatenate(parts) if parts else whole, whole)
    back = np.concatenate([np.asarray(transform.inverse(p, state)) for p in (whole[:cut], whole[cut:]) if p.size])
    np.testing.assert_array_equal(back, np.asarray(transform.inverse(whole, state)))
