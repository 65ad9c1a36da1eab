"""Contract tests over EVERY registered noise model and transform (built-in and third-party).

A plugin distribution installed next to restoration is covered automatically: the parameters come
from the plugin's optional ``example_params`` class attribute, else 0.1 for each parameter (data
in [0.05, 0.95]), with a looser estimation tolerance than the built-ins'.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from skimage import data

from restoration import NoiseModel, Observation, Transform
from restoration.plugins import registry

# Built-in parameters and relative estimation tolerances (per parameter).
BUILTIN = {
    "gaussian": ({"sigma": 0.1}, {"sigma": 0.08}),
    "poisson": ({"gain": 0.01}, {"gain": 0.12}),
    "poisson-gaussian": ({"gain": 0.01, "sigma": 0.03}, {"gain": 0.2, "sigma": 0.25}),
    "speckle": ({"sigma": 0.2}, {"sigma": 0.08}),
    "salt-and-pepper": ({"amount": 0.1}, {"amount": 0.08}),
}
PLUGIN_TOLERANCE = 0.3
# (true model, a model containing it): the larger one may match it, within a hair.
NESTED = {("poisson", "poisson-gaussian"), ("gaussian", "poisson-gaussian"), ("gaussian", "salt-and-pepper")}

MODELS = registry().noise_models
TRANSFORMS = registry().transforms


def params_for(name: str, model: NoiseModel) -> tuple[dict, dict]:
    if name in BUILTIN:
        return BUILTIN[name]
    params = dict(getattr(model, "example_params", None) or {p: 0.1 for p in model.params})
    return params, {p: PLUGIN_TOLERANCE for p in params}


@pytest.fixture(scope="module")
def clean() -> np.ndarray:
    return 0.05 + 0.9 * data.camera()[100:228, 100:228] / 255.0


@pytest.fixture(scope="module")
def bands() -> np.ndarray:
    """Eight constant horizontal bands, 0.1 .. 0.9: an ideal denoiser is the per-band mean."""
    levels = np.linspace(0.1, 0.9, 8)
    return np.repeat(levels, 32)[:, None] * np.ones((1, 256))


@pytest.fixture(scope="module")
def simulated(clean):
    """Each model's own noisy data of ``clean`` (one seed)."""
    return {name: model.simulate(clean, np.random.default_rng(7), **params_for(name, model)[0])
            for name, model in MODELS.items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_simulate_then_estimate_recovers_parameters(name, simulated):
    model = MODELS[name]
    params, tol = params_for(name, model)
    est = model.estimate(simulated[name])
    assert set(model.params) <= set(est)
    for p, value in params.items():
        assert math.isfinite(est[p])
        assert est[p] == pytest.approx(value, rel=tol[p]), (p, est[p])


@pytest.mark.parametrize("name", list(MODELS))
def test_log_likelihood_finite_and_highest_for_the_true_model(name, clean, simulated):
    noisy = simulated[name]
    true = MODELS[name].log_likelihood(noisy, clean, **params_for(name, MODELS[name])[0])
    assert math.isfinite(true)
    for other, model in MODELS.items():
        if other == name:
            continue
        value = model.log_likelihood(noisy, clean, **model.estimate(noisy))
        assert math.isfinite(value), other            # zeros, negatives, impulses: still finite
        slack = 1e-3 if (name, other) in NESTED else 0.0
        assert value < true + slack, f"{other} beats {name} on {name} data: {value} >= {true}"


@pytest.mark.parametrize("name", list(MODELS))
def test_to_gaussian_from_gaussian_unbiased_round_trip(name, bands):
    """Forward map, an ideal denoiser (the per-band mean), inverse map: the clean levels return."""
    model = MODELS[name]
    params = params_for(name, model)[0]
    noisy = model.simulate(bands, np.random.default_rng(3), **params)
    obs = model.to_gaussian(noisy, **params)
    assert isinstance(obs, Observation) and obs.data.shape == bands.shape
    sigma = float(np.max(obs.sigma))
    assert math.isfinite(sigma) and sigma >= 0
    keep = np.ones(bands.shape, bool) if obs.mask is None else ~obs.mask
    ideal = np.empty_like(bands)
    spread = float(np.ptp(obs.data[keep]))
    for level in np.unique(bands):
        rows = bands == level
        ideal[rows] = obs.data[rows & keep].mean()
        # the noise in the stabilized space has the std the observation claims
        std = obs.data[rows & keep].std()
        assert abs(std - sigma) <= 0.2 * sigma + 0.02 * spread, (level, std, sigma)
    back = model.from_gaussian(ideal, **params)
    assert back.shape == bands.shape
    np.testing.assert_allclose(back, bands, rtol=0.03, atol=0.005)


@pytest.mark.parametrize("name", list(MODELS))
def test_seeded_generator_reproduces(name, clean):
    model = MODELS[name]
    params = params_for(name, model)[0]
    a = model.simulate(clean, np.random.default_rng(11), **params)
    b = model.simulate(clean, np.random.default_rng(11), **params)
    c = model.simulate(clean, np.random.default_rng(12), **params)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("name", list(MODELS))
def test_nan_pixels_do_not_propagate(name, clean):
    model = MODELS[name]
    params = params_for(name, model)[0]
    holes = np.zeros(clean.shape, bool)
    holes[10:14, 20:30] = True
    holes[90, 5] = True
    x = clean.copy()
    x[holes] = np.nan
    noisy = model.simulate(x, np.random.default_rng(1), **params)
    assert np.isfinite(noisy[~holes]).all()
    est = model.estimate(noisy)
    assert all(math.isfinite(est[p]) for p in model.params)
    assert math.isfinite(model.log_likelihood(noisy, x, **params))
    obs = model.to_gaussian(noisy, **params)
    assert np.isfinite(obs.data[~holes]).all()
    restored = np.array(obs.data, dtype=np.float64)
    restored[holes] = np.nan
    back = model.from_gaussian(restored, **params)
    assert np.isfinite(back[~holes]).all()


def transform_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    image = data.camera()[:96, :96]
    floats = image / 255.0 + 0.02 * rng.standard_normal(image.shape)   # some values below 0
    floats[3, 4] = np.nan
    return {"float64": floats, "float32": floats.astype(np.float32), "uint8": image,
            "uint16": (image.astype(np.uint16) * 200), "stack": np.stack([floats, 2 * floats])}


@pytest.mark.parametrize("kind", list(transform_inputs()))
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_round_trip_exact_and_state_json(name, kind):
    t: Transform = TRANSFORMS[name]
    x = transform_inputs()[kind]
    state = t.fit(x)
    assert isinstance(state, dict)
    state = json.loads(json.dumps(state))          # JSON-serializable, and usable after the trip
    assert state == t.fit(x)                       # deterministic
    y = t.forward(x, state)
    assert y.shape == x.shape
    back = t.inverse(y, state)
    xf = np.asarray(x, dtype=np.float64)
    rtol = 1e-5 if np.asarray(y).dtype == np.float32 else 1e-9
    np.testing.assert_allclose(np.asarray(back, np.float64), xf, rtol=rtol, atol=rtol * np.nanmax(np.abs(xf)))
    assert np.array_equal(np.isnan(np.asarray(y, np.float64)), np.isnan(xf))   # NaN stays put, alone


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_applies_chunk_by_chunk(name):
    t = TRANSFORMS[name]
    x = transform_inputs()["float64"]
    state = t.fit(x)
    whole = t.forward(x, state)
    parts = np.concatenate([t.forward(x[:40], state), t.forward(x[40:], state)])
    np.testing.assert_array_equal(whole, parts)
