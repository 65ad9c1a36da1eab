"""Speckle: log-domain moments, stabilization, bias-corrected inverse, guards at zero."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.noise import SpeckleNoise
from restoration.noise.speckle import log_noise_moments

SK = SpeckleNoise()


@pytest.mark.parametrize("sigma", [0.05, 0.2, 0.4])
def test_log_moments_match_monte_carlo(sigma):
    n = np.random.default_rng(0).standard_normal(2_000_000)
    v = np.log(np.maximum(1 + sigma * n, 0.02))
    mean, std = log_noise_moments(sigma)
    assert mean == pytest.approx(v.mean(), abs=2e-3)
    assert std == pytest.approx(v.std(), rel=5e-3)


@pytest.mark.parametrize("sigma", [0.1, 0.3])
def test_estimate(camera, sigma):
    noisy = SK.simulate(camera, np.random.default_rng(1), sigma=sigma)
    assert SK.estimate(noisy)["sigma"] == pytest.approx(sigma, rel=0.08)


def test_log_domain_noise_is_additive_with_the_stated_sigma():
    flat = np.full((2, 128, 128), [[[0.2]], [[0.8]]])
    obs = SK.to_gaussian(SK.simulate(flat, np.random.default_rng(2), sigma=0.2), sigma=0.2)
    for plane in obs.data:                               # same std at both intensities
        assert plane.std() == pytest.approx(obs.sigma, rel=0.05)


def test_inverse_removes_the_log_bias():
    flat = np.full((256, 256), 0.5)
    obs = SK.to_gaussian(SK.simulate(flat, np.random.default_rng(3), sigma=0.3), sigma=0.3)
    ideal = np.full(flat.shape, obs.data.mean())
    assert SK.from_gaussian(ideal, sigma=0.3).mean() == pytest.approx(0.5, rel=0.01)
    assert np.exp(obs.data.mean()) < 0.48                # the naive inverse would be biased low


def test_zero_and_negative_values_stay_finite(camera):
    noisy = SK.simulate(camera, np.random.default_rng(4), sigma=0.4)
    noisy[:4] = 0.0
    noisy[4:6] = -0.1
    obs = SK.to_gaussian(noisy, sigma=0.4)
    assert np.isfinite(obs.data).all()
    assert np.isfinite(SK.log_likelihood(noisy, np.zeros_like(noisy), sigma=0.4))
    assert np.isfinite(SK.from_gaussian(obs.data, sigma=0.4)).all()
