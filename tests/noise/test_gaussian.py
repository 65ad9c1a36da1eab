"""The gaussian noise model."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from restoration.errors import InputError
from restoration.noise import GaussianNoise

MODEL = GaussianNoise()


@pytest.mark.parametrize("sigma", [15 / 255, 25 / 255, 50 / 255])
def test_estimate_within_target_on_camera(camera, sigma):
    errs = [MODEL.estimate(MODEL.simulate(camera, np.random.default_rng(s), sigma=sigma))["sigma"] / sigma - 1
            for s in range(3)]
    assert abs(np.mean(errs)) < (0.03 if sigma >= 25 / 255 else 0.06)


def test_log_likelihood_is_the_mean_normal_log_density(camera):
    noisy = MODEL.simulate(camera, np.random.default_rng(0), sigma=0.1)
    expected = stats.norm.logpdf(noisy - camera, scale=0.1).mean()
    assert MODEL.log_likelihood(noisy, camera, sigma=0.1) == pytest.approx(expected, rel=1e-12)


def test_log_likelihood_finite_without_noise_and_with_missing(camera):
    assert np.isfinite(MODEL.log_likelihood(camera, camera, sigma=0.0))
    noisy = camera.copy()
    noisy[:3] = np.nan
    noisy[5, 5] = np.inf
    assert np.isfinite(MODEL.log_likelihood(noisy, camera, sigma=0.1))


def test_to_gaussian_identity_with_missing_masked(camera):
    noisy = camera.copy()
    noisy[2, 3] = np.nan
    obs = MODEL.to_gaussian(noisy, sigma=0.2)
    assert obs.sigma == 0.2
    assert obs.mask is not None and obs.mask.sum() == 1 and obs.mask[2, 3]
    assert np.isfinite(obs.data).all()
    np.testing.assert_array_equal(obs.data[~obs.mask], camera[~obs.mask])
    assert MODEL.to_gaussian(camera, sigma=0.2).mask is None
    np.testing.assert_array_equal(MODEL.from_gaussian(camera, sigma=0.2), camera)


def test_float32_stays_float32(camera):
    x = camera.astype(np.float32)
    assert MODEL.to_gaussian(x, sigma=0.1).data.dtype == np.float32
    assert MODEL.from_gaussian(x, sigma=0.1).dtype == np.float32


def test_missing_or_bad_parameter_is_an_input_error(camera):
    with pytest.raises(InputError, match="sigma"):
        MODEL.simulate(camera, np.random.default_rng(0))
    with pytest.raises(InputError, match="sigma"):
        MODEL.to_gaussian(camera, sigma=-1.0)
