"""Poisson and Poisson-Gaussian: estimation, GAT and its exact unbiased inverse, likelihoods, pedestal."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from restoration.noise import PoissonGaussianNoise, PoissonNoise
from restoration.noise.poisson import _poisson_gaussian_logpdf, gat, gat_inverse

P, PG = PoissonNoise(), PoissonGaussianNoise()


@pytest.mark.parametrize("lam", [0.1, 0.5, 1, 2, 5, 10, 30, 100])
def test_closed_form_inverse_is_unbiased(lam):
    k = np.arange(0, int(lam + 20 * math.sqrt(lam) + 30))
    mean_f = np.sum(stats.poisson.pmf(k, lam) * gat(k.astype(float), 1.0))
    assert float(gat_inverse(np.array(mean_f), 1.0)) == pytest.approx(lam, rel=0.005)


def test_inverse_of_zero_counts_and_below_is_zero_and_monotone():
    d0 = 2 * math.sqrt(3 / 8)
    assert float(gat_inverse(np.array(d0), 1.0)) == pytest.approx(0.0, abs=1e-12)
    d = np.linspace(0, 20, 2001)
    x = gat_inverse(d, 1.0)
    assert (x[d < d0] == 0).all() and (np.diff(x) >= 0).all()


def test_gat_scales_with_gain_sigma_offset():
    y = np.array([0.5, 1.0, 4.0])
    np.testing.assert_allclose(gat(y, 0.5, 0.1, 0.2), 2 * np.sqrt((y - 0.2) / 0.5 + 3 / 8 + (0.1 / 0.5) ** 2))
    assert gat(np.array([-100.0]), 1.0)[0] == 0.0            # clamped, not NaN


@pytest.mark.parametrize("gain", [0.005, 0.02])
def test_poisson_gain_estimate(ramp, gain):
    noisy = P.simulate(ramp, np.random.default_rng(1), gain=gain)
    assert P.estimate(noisy)["gain"] == pytest.approx(gain, rel=0.1)


def test_poisson_gaussian_estimate_and_pedestal(ramp):
    noisy = PG.simulate(ramp, np.random.default_rng(2), gain=0.01, sigma=0.05)
    est = PG.estimate(noisy)
    assert est["gain"] == pytest.approx(0.01, rel=0.15)
    assert est["sigma"] == pytest.approx(0.05, rel=0.15)
    assert est["offset"] == 0.0 and est["offset_basis"] == "unidentified"      # float data: no pedestal
    # A pedestal of 0.5 and no read noise: the fit's intercept is negative, reported as an offset.
    ped = P.simulate(ramp + 0.5, np.random.default_rng(3), gain=0.01, offset=0.5)
    est = PG.estimate(ped)
    assert est["sigma"] == 0.0
    assert est["offset"] == pytest.approx(0.5, abs=0.1)


def test_offset_round_trip(ramp):
    levels = np.repeat(np.linspace(0.2, 1.0, 5), 40)[:, None] * np.ones((1, 200)) + 0.3
    noisy = np.mean([P.to_gaussian(P.simulate(levels, np.random.default_rng(s), gain=0.02, offset=0.3),
                                   gain=0.02, offset=0.3).data for s in range(8)], axis=0)
    ideal = np.repeat(noisy.reshape(5, -1).mean(1), 40 * 200).reshape(levels.shape)
    np.testing.assert_allclose(P.from_gaussian(ideal, gain=0.02, offset=0.3), levels, rtol=0.01)


def test_poisson_log_likelihood_is_the_pmf_minus_log_gain():
    rng = np.random.default_rng(4)
    clean = np.full((32, 32), 0.3)
    noisy = 0.05 * rng.poisson(clean / 0.05)
    expected = stats.poisson.logpmf(np.rint(noisy / 0.05), clean / 0.05).mean() - math.log(0.05)
    assert P.log_likelihood(noisy, clean, gain=0.05) == pytest.approx(expected, rel=1e-10)


def test_poisson_log_likelihood_finite_on_negative_and_zero_clean():
    noisy = np.array([[-0.5, 0.0, 0.2], [1.0, np.nan, 0.1]])
    clean = np.array([[0.0, 0.0, 0.0], [1.0, 1.0, -1.0]])
    assert np.isfinite(P.log_likelihood(noisy, clean, gain=0.1))
    assert np.isfinite(PG.log_likelihood(noisy, clean, gain=0.1, sigma=0.0))


def test_poisson_gaussian_density_exact_sum():
    z = np.array([0.3, -1.2, 5.0, 12.0, 25.0, -3.0, 40.0])
    lam = np.array([0.5, 0.2, 4.0, 10.0, 29.0, 0.0, 3.0])
    ref = [math.log(sum(stats.poisson.pmf(k, m) * stats.norm.pdf(x - k) for k in range(200)))
           for x, m in zip(z, lam)]
    np.testing.assert_allclose(_poisson_gaussian_logpdf(z, lam, 1.0), ref, rtol=1e-10)


def test_true_model_wins_at_low_counts(ramp):
    """At ~1 count of read noise the exact density beats a Poisson model with any gain."""
    noisy = PG.simulate(ramp, np.random.default_rng(5), gain=0.05, sigma=0.05)
    true = PG.log_likelihood(noisy, ramp, gain=0.05, sigma=0.05)
    assert all(P.log_likelihood(noisy, ramp, gain=g) < true for g in (0.04, 0.05, 0.06, 0.08))


@pytest.mark.parametrize("counts, read, std, reported", [(60.0, 2.0, 1.0, 1.0), (0.5, 1.5, 1.08, 1.08),
                                                         (1.0, 0.0, 0.85, 1.0)])
def test_to_gaussian_reports_the_noise_it_leaves(counts, read, std, reported):
    """Unit std at many counts; at a few, the exact std the GAT leaves where that is more
    (read noise), the nominal 1 where it is less (none)."""
    flat = np.full((256, 256), 0.01 * counts)
    noisy = PG.simulate(flat, np.random.default_rng(6), gain=0.01, sigma=0.01 * read)
    obs = PG.to_gaussian(noisy, gain=0.01, sigma=0.01 * read)
    assert obs.data.std() == pytest.approx(std, abs=0.015)
    assert obs.sigma == pytest.approx(reported, abs=0.01)
