"""Contract checks for plugin authors: call them from your plugin's own tests.

Each function checks one registered item against the rules in :mod:`restoration.types` and raises
``AssertionError`` naming the rule broken; it needs no test framework::

    from restoration.testing import check_noise_model
    from restoration_uniform import UniformNoise

    def test_uniform_follows_the_contract():
        check_noise_model(UniformNoise())

The host's own suite runs them over every registered plugin (``tests/test_contract_plugins.py``),
so an installed plugin is checked there too. The data are small (128 x 128 and 256 x 256 planes):
each check takes seconds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

import numpy as np

from .plugins import NAME_RE
from .types import Denoiser, NoiseModel, Observation, Option, Transform, resolve_options

OPTION_RE = re.compile(r"^[a-z][a-z0-9_]*$")

__all__ = ["check_denoiser", "check_noise_model", "check_transform", "noise_params"]

#: Estimation tolerance (relative) for a model's parameters when the caller gives none.
TOLERANCE = 0.3
#: A model nesting another may match it on the other's data by this much (nats per pixel).
NESTED_SLACK = 1e-3


def _clean() -> np.ndarray:
    """A 128x128 crop of scikit-image's camera in [0.05, 0.95]: smooth sky, edges, texture."""
    from skimage import data

    return 0.05 + 0.9 * data.camera()[100:228, 100:228] / 255.0


def _bands() -> np.ndarray:
    """Eight constant horizontal bands, 0.1 .. 0.9: an ideal denoiser is the per-band mean."""
    return np.repeat(np.linspace(0.1, 0.9, 8), 32)[:, None] * np.ones((1, 256))


def noise_params(model: NoiseModel) -> dict[str, float]:
    """The parameters the checks simulate with: ``model.example_params``, else 0.1 for each."""
    return dict(model.example_params or dict.fromkeys(model.params, 0.1))


def check_noise_model(model: NoiseModel, tolerance: float | Mapping[str, float] = TOLERANCE, *,
                      others: Mapping[str, NoiseModel] | None = None) -> None:
    """Check a noise model against every rule of :class:`~restoration.NoiseModel`.

    Parameters
    ----------
    model : NoiseModel
        The model; simulated with :func:`noise_params` on data in [0.05, 0.95].
    tolerance : float or mapping of str to float
        Relative error allowed on each estimated parameter (one value, or one per parameter).
    others : mapping of name to NoiseModel, optional
        Models the true one must out-score on its own data (each at its own estimate); default
        every registered model. A model that ``nests`` this one may match it within
        :data:`NESTED_SLACK`.

    Raises
    ------
    AssertionError
        Naming the rule that failed.
    """
    _check_noise_attributes(model)
    params = noise_params(model)
    clean = _clean()
    noisy = model.simulate(clean, np.random.default_rng(7), **params)
    assert np.shape(noisy) == clean.shape, f"simulate changed the shape: {np.shape(noisy)}"
    est = model.estimate(noisy)
    for p, value in params.items():
        tol = tolerance[p] if isinstance(tolerance, Mapping) else tolerance
        assert isinstance(est.get(p), (int, float)) and math.isfinite(est[p]), f"estimate()[{p!r}] = {est.get(p)!r}"
        assert math.isclose(est[p], value, rel_tol=tol, abs_tol=1e-6), f"estimate {p}={est[p]:.4g}, simulated {value:.4g}"
    true = model.log_likelihood(noisy, clean, **params)
    assert math.isfinite(true), f"log_likelihood is {true}"
    if others is None:
        from .plugins import registry
        others = registry().noise_models
    for name, other in others.items():
        if name == model.name:
            continue
        value = other.log_likelihood(noisy, clean, **{k: v for k, v in other.estimate(noisy).items()
                                                      if not isinstance(v, str)})
        assert math.isfinite(value), f"{name}.log_likelihood on {model.name} data is {value}"
        slack = NESTED_SLACK if model.name in other.nests else 0.0
        assert value < true + slack, f"{name} beats {model.name} on {model.name} data: {value:.5f} >= {true:.5f}"
    _check_round_trip(model, params)
    _check_reproducible(model, params, clean)
    _check_missing_pixels(model, params, clean)


def _check_noise_attributes(model: NoiseModel) -> None:
    assert isinstance(model, NoiseModel), f"{model!r} is not a NoiseModel"
    assert isinstance(model.name, str) and NAME_RE.match(model.name), f"name {model.name!r} is not [a-z0-9-]"
    assert isinstance(model.params, tuple) and all(isinstance(p, str) for p in model.params), "params: a tuple of str"
    assert isinstance(model.nests, tuple) and model.name not in model.nests, "nests: a tuple of other models' names"
    assert model.impulse_fraction is None or model.impulse_fraction in model.params, \
        f"impulse_fraction {model.impulse_fraction!r} is not one of params"
    assert set(noise_params(model)) <= set(model.params), "example_params has names not in params"


def _check_round_trip(model: NoiseModel, params: dict) -> None:
    """Forward map, an ideal denoiser (the per-band mean), inverse map: the clean levels return."""
    bands = _bands()
    noisy = model.simulate(bands, np.random.default_rng(3), **params)
    obs = model.to_gaussian(noisy, **params)
    assert isinstance(obs, Observation) and obs.data.shape == bands.shape, "to_gaussian: an Observation, same shape"
    sigma = float(np.max(obs.sigma))
    assert math.isfinite(sigma) and sigma >= 0, f"to_gaussian: sigma {sigma}"
    keep = np.ones(bands.shape, bool) if obs.mask is None else ~obs.mask
    ideal = np.empty_like(bands)
    spread = float(np.ptp(obs.data[keep]))
    for level in np.unique(bands):
        rows = bands == level
        ideal[rows] = obs.data[rows & keep].mean()
        std = obs.data[rows & keep].std()
        assert abs(std - sigma) <= 0.2 * sigma + 0.02 * spread, \
            f"to_gaussian: noise std {std:.4g} at level {level:.3g}, the Observation says {sigma:.4g}"
    back = model.from_gaussian(ideal, **params)
    assert np.shape(back) == bands.shape, "from_gaussian changed the shape"
    np.testing.assert_allclose(back, bands, rtol=0.03, atol=0.005, err_msg="from_gaussian(ideal) is biased")


def _check_reproducible(model: NoiseModel, params: dict, clean: np.ndarray) -> None:
    a = model.simulate(clean, np.random.default_rng(11), **params)
    b = model.simulate(clean, np.random.default_rng(11), **params)
    c = model.simulate(clean, np.random.default_rng(12), **params)
    np.testing.assert_array_equal(a, b, err_msg="simulate: one seed must give one result")
    assert not np.array_equal(a, c), "simulate ignores its generator"


def _check_missing_pixels(model: NoiseModel, params: dict, clean: np.ndarray) -> None:
    holes = np.zeros(clean.shape, bool)
    holes[10:14, 20:30] = True
    holes[90, 5] = True
    x = np.where(holes, np.nan, clean)
    noisy = model.simulate(x, np.random.default_rng(1), **params)
    assert np.isfinite(noisy[~holes]).all(), "simulate: NaN spread beyond the missing pixels"
    assert np.isnan(noisy[holes]).all(), "simulate: missing pixels must stay NaN"
    est = model.estimate(noisy)
    assert all(math.isfinite(est[p]) for p in model.params), f"estimate with missing pixels: {est}"
    assert math.isfinite(model.log_likelihood(noisy, x, **params)), "log_likelihood with missing pixels"
    obs = model.to_gaussian(noisy, **params)
    assert np.isfinite(obs.data).all(), "to_gaussian: data must be finite (fill and mask missing pixels)"
    assert obs.mask is not None and obs.mask[holes].all(), "to_gaussian: missing pixels must be masked"
    restored = np.where(holes, np.nan, np.asarray(obs.data, dtype=np.float64))
    assert np.isfinite(model.from_gaussian(restored, **params)[~holes]).all(), "from_gaussian: NaN spread"


def _transform_inputs() -> dict[str, np.ndarray]:
    from skimage import data

    rng = np.random.default_rng(0)
    image = data.camera()[:96, :96]
    floats = image / 255.0 + 0.02 * rng.standard_normal(image.shape)   # some values below 0
    floats[3, 4] = np.nan
    return {"float64": floats, "float32": floats.astype(np.float32), "uint8": image,
            "uint16": image.astype(np.uint16) * 200, "stack": np.stack([floats, 2 * floats])}


def check_transform(transform: Transform) -> None:
    """Check a transform: exact round trip on float, integer and stacked data with NaN kept in
    place, deterministic JSON-serializable state, and chunk-by-chunk application.

    Raises
    ------
    AssertionError
        Naming the input and the rule that failed.
    """
    assert isinstance(transform, Transform) and NAME_RE.match(transform.name), f"{transform!r}: a named Transform"
    for kind, x in _transform_inputs().items():
        state = transform.fit(x)
        assert isinstance(state, dict), f"{kind}: fit must return a dict"
        state = json.loads(json.dumps(state))       # JSON-serializable, and usable after the trip
        assert state == transform.fit(x), f"{kind}: fit is not deterministic"
        y = transform.forward(x, state)
        assert np.shape(y) == x.shape, f"{kind}: forward changed the shape"
        back = np.asarray(transform.inverse(y, state), np.float64)
        xf = np.asarray(x, dtype=np.float64)
        rtol = 1e-5 if np.asarray(y).dtype == np.float32 else 1e-9
        np.testing.assert_allclose(back, xf, rtol=rtol, atol=rtol * np.nanmax(np.abs(xf)),
                                   err_msg=f"{kind}: inverse(forward(x)) != x")
        assert np.array_equal(np.isnan(np.asarray(y, np.float64)), np.isnan(xf)), f"{kind}: NaN moved or spread"
        if kind == "float64":
            parts = np.concatenate([transform.forward(x[:40], state), transform.forward(x[40:], state)])
            np.testing.assert_array_equal(y, parts, err_msg="forward differs chunk by chunk")


def _check_options(denoiser: Denoiser) -> None:
    """Declared options: :class:`~restoration.types.Option` instances, unique lowercase names,
    defaults their own type accepts, and JSON-able (they enter the provenance)."""
    assert isinstance(denoiser.options, tuple) and all(isinstance(o, Option) for o in denoiser.options), \
        "options: a tuple of restoration.Option"
    names = [o.name for o in denoiser.options]
    assert len(set(names)) == len(names), f"options: duplicate names in {names}"
    for opt in denoiser.options:
        assert OPTION_RE.match(opt.name), f"option {opt.name!r}: lowercase [a-z][a-z0-9_]*"
        assert opt.type in (bool, int, float, str), f"option {opt.name}: type {opt.type!r} not bool, int, float, str"
        assert opt.convert(opt.default) == opt.default, f"option {opt.name}: default {opt.default!r} does not convert"
        json.dumps(opt.default)
    resolved = resolve_options(denoiser, {})
    json.dumps(denoiser.identity(**resolved))
    assert isinstance(denoiser.returns_std(**resolved), bool), "returns_std(): a bool"
    cost = denoiser.cost(**resolved)
    assert isinstance(cost, (int, float)) and cost > 0, f"cost() = {cost!r}"


def check_denoiser(denoiser: Denoiser, **options) -> None:
    """Check a denoiser on a small noisy plane with masked pixels: same shape, finite everywhere
    (masked pixels reconstructed), less error than the noisy data, reproducible from its generator,
    a std map exactly when :meth:`~restoration.types.Denoiser.returns_std` says so, and sane
    ``options``, ``identity``, ``context`` and ``grid``.

    Parameters
    ----------
    denoiser : Denoiser
    **options
        Given options (e.g. a fast ``method`` for a slow denoiser); the rest take their defaults,
        as the host passes them.

    Raises
    ------
    AssertionError
        Naming the rule that failed.
    """
    assert isinstance(denoiser, Denoiser) and NAME_RE.match(denoiser.name), f"{denoiser!r}: a named Denoiser"
    _check_options(denoiser)
    options = resolve_options(denoiser, options)
    for masked in (False, True):
        context = denoiser.context(**options, masked=masked) if masked else denoiser.context(**options)
        assert isinstance(context, int) and context >= 0, f"context() = {context!r}"
    grid = denoiser.grid(**options)
    assert isinstance(grid, int) and grid >= 1, f"grid() = {grid!r}"
    yy, xx = np.mgrid[0:64, 0:64] / 64.0
    clean = (0.2 + 0.6 * xx + 0.2 * (yy > 0.5)).astype(np.float32)
    sigma = 0.1
    noisy = clean + sigma * np.random.default_rng(0).standard_normal(clean.shape).astype(np.float32)
    mask = np.zeros(clean.shape, bool)
    mask[20:23, 30:40] = True
    noisy[mask] = 0.0          # no information: far from the truth, so only reconstruction passes
    obs = Observation(noisy, sigma, mask)
    out = denoiser.denoise(obs, rng=np.random.default_rng(5), **options)
    assert isinstance(out, tuple) == denoiser.returns_std(**options), \
        "denoise returns (restored, std) exactly when returns_std() is true"
    out = out[0] if isinstance(out, tuple) else out
    assert np.shape(out) == clean.shape, f"denoise changed the shape: {np.shape(out)}"
    assert np.isfinite(out).all(), "denoise returned NaN or infinity"
    keep = ~mask
    assert np.mean((out - clean)[keep] ** 2) < np.mean((noisy - clean)[keep] ** 2), "denoise did not reduce the noise"
    assert np.mean((out - clean)[mask] ** 2) < 4 * sigma ** 2, "masked pixels were not reconstructed"
    again = denoiser.denoise(obs, rng=np.random.default_rng(5), **options)
    np.testing.assert_array_equal(out, again[0] if isinstance(again, tuple) else again,
                                  err_msg="denoise: one seed must give one result")
