"""Shared estimators: sampling, wavelet sigma, variance-mean statistics, quantization step."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.errors import InputError
from restoration.noise.estimate import (fit_variance, local_variance_stats, quantization_step, robust_range,
                                        sample_planes, wavelet_sigma)


def test_sample_planes_small_data_whole_and_float64():
    x = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    s = sample_planes(x)
    assert s.dtype == np.float64 and s.shape == (2, 3, 4)
    np.testing.assert_array_equal(s, x)


def test_sample_planes_bounded_and_deterministic():
    x = np.random.default_rng(0).random((50, 64, 64))
    s = sample_planes(x, budget=10 * 64 * 64)
    assert s.shape == (10, 64, 64)
    np.testing.assert_array_equal(s, sample_planes(x, budget=10 * 64 * 64))
    np.testing.assert_array_equal(s[0], x[0])
    np.testing.assert_array_equal(s[-1], x[-1])


def test_sample_planes_tiles_a_huge_plane():
    x = np.random.default_rng(0).random((1000, 1200))
    s = sample_planes(x, budget=4 * 256 * 256, tile=256)
    assert s.shape == (4, 256, 256)
    np.testing.assert_array_equal(s[0], x[:256, :256])          # tiles come from spread positions
    np.testing.assert_array_equal(s[-1], x[-256:, -256:])


def test_sample_planes_rejects_1d():
    with pytest.raises(InputError):
        sample_planes(np.zeros(5))


@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.3])
def test_wavelet_sigma_on_camera(camera, sigma):
    noisy = camera + sigma * np.random.default_rng(1).standard_normal(camera.shape)
    assert wavelet_sigma(noisy) == pytest.approx(sigma, rel=0.06)


def test_wavelet_sigma_ignores_nan_and_flat_regions(camera):
    rng = np.random.default_rng(2)
    noisy = np.concatenate([camera + 0.05 * rng.standard_normal(camera.shape), np.zeros((128, 128))], axis=1)
    noisy[5:9, 5:60] = np.nan            # missing pixels, and an exactly flat (clipped) half
    assert wavelet_sigma(noisy) == pytest.approx(0.05, rel=0.08)


def test_wavelet_sigma_stack_and_tiny_planes():
    rng = np.random.default_rng(3)
    assert wavelet_sigma(0.2 * rng.standard_normal((4, 64, 64))) == pytest.approx(0.2, rel=0.06)
    assert wavelet_sigma(0.2 * rng.standard_normal((6, 6))) > 0        # too small for wavelets
    assert wavelet_sigma(np.full((32, 32), np.nan)) == 0.0


def test_local_variance_line_fit_recovers_poisson_gaussian(ramp):
    rng = np.random.default_rng(0)
    noisy = 0.02 * rng.poisson(ramp / 0.02) + 0.03 * rng.standard_normal(ramp.shape)
    mean, var, count = local_variance_stats(noisy)
    assert mean.size >= 8 and (count > 0).all()
    a, b = fit_variance(mean, var, count, kind="line")
    assert a == pytest.approx(0.02, rel=0.12)
    assert np.sqrt(b) == pytest.approx(0.03, rel=0.3)
    a0, _ = fit_variance(mean, var, count, kind="origin")
    assert a0 > a                                            # the origin fit absorbs sigma**2


def test_fit_variance_quadratic_and_degenerate():
    m = np.linspace(0.1, 1.0, 12)
    s2, b = fit_variance(m, 0.04 * m * m, np.full(12, 50.0), kind="quadratic")
    assert s2 == pytest.approx(0.04) and b == 0.0
    assert fit_variance(np.zeros(0), np.zeros(0), np.zeros(0)) == (0.0, 0.0)
    assert fit_variance(np.array([0.5]), np.array([0.01]), np.array([10.0])) == (0.0, 0.01)


def test_quantization_step_and_range():
    img = np.random.default_rng(5).integers(0, 256, (64, 64))
    assert quantization_step(img) == 1.0
    assert quantization_step(img / 255.0) == pytest.approx(1 / 255)
    cont = np.random.default_rng(5).random((64, 64))
    assert quantization_step(cont) == pytest.approx(np.ptp(cont) * 2.0 ** -16, rel=1e-6)
    assert quantization_step(np.full((4, 4), 3.0)) == 1.0
    assert robust_range(np.full((4, 4), 3.0)) == 3.0
    assert robust_range(np.array([[np.nan, np.inf]])) == 1.0


@pytest.mark.parametrize("sigma", [0.03, 0.1])
def test_wavelet_sigma_on_clipped_data(camera, sigma):
    """Saturated and floored data (a fifth to a quarter of the pixels clipped, then 8-bit): the
    noise is measured away from the clips, where it is not cut short (it was 40 to 50 % low:
    the smoothest regions, chosen first, were those next to a clip)."""
    rng = np.random.default_rng(4)
    stretched = (camera - 0.05) / 0.9 * 1.2 - 0.1
    noisy = np.round(np.clip(stretched + sigma * rng.standard_normal(camera.shape), 0, 1) * 255) / 255
    assert 0.15 < np.mean((noisy == 0) | (noisy == 1)) < 0.3
    assert wavelet_sigma(noisy) == pytest.approx(sigma, rel=0.3)
