"""Salt-and-pepper: impulses told from clean saturation, amount, mask, likelihood."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.noise import GaussianNoise, SaltPepperNoise
from restoration.noise.saltpepper import impulse_mask

SP = SaltPepperNoise()


@pytest.mark.parametrize("amount", [0.01, 0.1, 0.3])
def test_amount_estimate(camera, amount):
    noisy = SP.simulate(camera, np.random.default_rng(0), amount=amount)
    assert SP.estimate(noisy)["amount"] == pytest.approx(amount, rel=0.1)


def test_simulate_uses_the_data_extremes(camera):
    noisy = SP.simulate(camera, np.random.default_rng(1), amount=0.2)
    changed = noisy != camera
    assert set(np.unique(noisy[changed])) <= {camera.min(), camera.max()}
    assert changed.mean() == pytest.approx(0.2, abs=0.02)


def test_clean_saturation_is_not_noise(camera):
    clean = camera.copy()
    clean[:40, :60] = clean.max()                       # a saturated block, part of the image
    clean[100:, 100:] = clean.min()
    assert SP.estimate(clean)["amount"] == 0.0
    mask, _ = impulse_mask(clean)
    # Only isolated extreme pixels of the clean image (thin bright lines, block corners) are taken
    # for impulses, never the saturated regions themselves.
    assert mask.mean() < 0.002 and not mask[1:38, 1:58].any() and not mask[102:, 102:].any()
    noisy = SP.simulate(clean, np.random.default_rng(2), amount=0.05)
    assert SP.estimate(noisy)["amount"] == pytest.approx(0.05, rel=0.15)
    mask, _ = impulse_mask(noisy)
    hit = noisy != clean
    assert (mask & hit).sum() / hit.sum() > 0.8          # most impulses are found ...
    assert (mask & ~hit).mean() < 0.002                  # ... and little else


def test_to_gaussian_masks_impulses_and_missing(camera):
    noisy = SP.simulate(camera, np.random.default_rng(3), amount=0.1)
    noisy[0, 0] = np.nan
    obs = SP.to_gaussian(noisy, amount=0.1)
    assert obs.mask[0, 0] and np.isfinite(obs.data).all()
    hit = (noisy != camera) & np.isfinite(noisy)
    assert (obs.mask & hit).sum() / hit.sum() > 0.95
    assert 0 < obs.sigma < 0.02                          # noise-free between impulses: a small floor
    np.testing.assert_array_equal(SP.from_gaussian(camera, amount=0.1), camera)


def test_likelihood_prefers_impulses_on_impulse_data(camera):
    noisy = SP.simulate(camera, np.random.default_rng(4), amount=0.05)
    g = GaussianNoise()
    assert SP.log_likelihood(noisy, camera, amount=0.05) > g.log_likelihood(noisy, camera, **g.estimate(noisy))


def test_no_impulses_reduces_to_gaussian(camera):
    g = GaussianNoise()
    noisy = g.simulate(camera, np.random.default_rng(5), sigma=0.05)
    assert SP.estimate(noisy)["amount"] == 0.0
    # amount 0: a Gaussian at the residual's own spread, so never worse than the fitted Gaussian
    assert SP.log_likelihood(noisy, camera, amount=0.0) >= g.log_likelihood(noisy, camera, sigma=0.05) - 1e-3
