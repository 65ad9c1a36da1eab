"""Quality figures: banded PSNR/SSIM equal scikit-image's whole-plane values."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restoration.report.quality import SSIM_SETTINGS, compare, residual_sigma


def _whole(ref, out, rng, channel_axis=None):
    return (peak_signal_noise_ratio(ref, out, data_range=rng),
            structural_similarity(ref, out, data_range=rng, channel_axis=channel_axis, **SSIM_SETTINGS))


@pytest.mark.parametrize("band_pixels", [1, 97 * 30, 1 << 21])
def test_banded_compare_equals_whole_plane(band_pixels):
    g = np.random.default_rng(0)
    ref = g.random((83, 97))
    out = ref + g.normal(0, 0.05, ref.shape)
    got = compare(out, ref, "yx", np.float64, band_pixels=band_pixels)
    psnr, ssim = _whole(ref, out, float(ref.max() - ref.min()))
    assert got["psnr"] == pytest.approx(psnr, abs=1e-9)
    assert got["ssim"] == pytest.approx(ssim, abs=1e-9)


def test_banded_compare_colour_stack_and_integer_range():
    g = np.random.default_rng(1)
    ref = g.integers(0, 65535, (3, 40, 50, 3)).astype(np.uint16)
    out = np.clip(ref + g.normal(0, 900, ref.shape), 0, 65535).astype(np.uint16)
    got = compare(out, ref, "zyxc", np.uint16, band_pixels=150 * 12)
    pairs = [_whole(r.astype(np.float64), o.astype(np.float64), 65535.0, channel_axis=-1) for r, o in zip(ref, out)]
    mse = np.mean((out.astype(np.float64) - ref) ** 2)
    assert got["psnr"] == pytest.approx(10 * np.log10(65535.0**2 / mse), abs=1e-9)
    assert got["ssim"] == pytest.approx(np.mean([s for _, s in pairs]), abs=1e-9)


def test_compare_small_planes_and_missing_values():
    ref = np.linspace(0, 1, 81).reshape(9, 9)
    out = ref.copy()
    out[0, 0] = np.nan   # missing pixels are left out of the PSNR
    out[1, 1] += 0.1
    got = compare(out, ref, "yx", np.float64)
    assert got["psnr"] == pytest.approx(10 * np.log10(1 / (0.01 / 80)))
    assert np.isnan(got["ssim"])   # below the 11x11 window: no SSIM rather than a crash


def test_residual_sigma_measures_the_noise():
    g = np.random.default_rng(2)
    assert residual_sigma(0.5 + g.normal(0, 0.1, (256, 256))) == pytest.approx(0.1, rel=0.05)
