"""Camera noise: gain, read noise and offset estimated separately; calibration; unbiased restoration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import zarr
from scipy import ndimage

import restoration
from restoration.errors import InputError
from restoration.noise.calibration import calibration, dark_frame
from restoration.noise.camera import (DARK_FRACTION, camera_counts, dark_region, estimate_camera,
                                      fluorescence_phantom, parity_stats, parity_variance_stats)
from restoration.noise.poisson import gat, gat_inverse
from restoration.noise.select import characterize_array
from restoration.plugins import registry
from restoration.store import item_array, item_provenance


def _camera(seed: int, peak: float, *, size: int = 384, background: float = 0.0, **camera) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rate = fluorescence_phantom(rng, (size, size), nuclei=size // 12, background=background)
    return rate, camera_counts(rng, peak * rate, **camera)


@pytest.mark.parametrize("gain, sigma, offset, peak", [(2.0, 3.0, 100.0, 100.0), (0.5, 1.0, 1000.0, 1000.0),
                                                      (10.0, 10.0, 500.0, 20.0), (1.0, 2.0, 0.0, 50.0)])
def test_estimates_gain_read_noise_and_offset(gain, sigma, offset, peak):
    _, y = _camera(1, peak, gain=gain, sigma=sigma, offset=offset)
    est = estimate_camera(y)
    assert est["gain"] == pytest.approx(gain, rel=0.1)
    assert est["sigma"] == pytest.approx(sigma, rel=0.2)
    assert est["offset"] == pytest.approx(offset, abs=2.0)


def test_offset_zero_clipped_at_the_floor():
    """Half the dark pixels read 0: a censored fit, not the moments of the clipped values."""
    _, y = _camera(2, 50.0, gain=1.0, sigma=3.0, offset=0.0)
    assert (y == 0).mean() > 0.2
    est = estimate_camera(y)
    assert est["offset"] == pytest.approx(0.0, abs=0.5) and est["sigma"] == pytest.approx(3.0, rel=0.1)


def test_clipped_dark_region_next_to_a_steep_signal():
    """A photon-free 5 % next to a signal rising to 600 photons, offset 0: the censored fit sees
    the dark region's darker half, not the photons where it meets the signal (read noise found
    54 % high before)."""
    rng = np.random.default_rng(5)
    x = np.linspace(0.0, 1.0, 256)[None, :].repeat(256, 0)
    y = camera_counts(rng, 600.0 * np.clip((x - 0.05) / 0.95, 0.0, 1.0), gain=1.0, sigma=1.6, offset=0.0)
    est = estimate_camera(y)
    assert est["sigma"] == pytest.approx(1.6, rel=0.15) and est["offset"] == pytest.approx(0.0, abs=0.5)
    assert est["gain"] == pytest.approx(1.0, rel=0.05)


def test_noise_level_bins_use_every_pixel_unless_textured():
    """Noise alone: a rank bin's rougher pixels measure no more variance, and all of them are
    used. Texture on half the image: the bins keep their smoothest pixels and the noise's variance."""
    rng = np.random.default_rng(6)
    level = np.linspace(100.0, 200.0, 256)[None, :].repeat(256, 0)
    noise = 3.0 * rng.standard_normal(level.shape)
    stats = parity_stats(level + noise)
    _, var, count = parity_variance_stats(stats)
    assert count.sum() > 0.8 * stats.score.size
    assert np.median(var) == pytest.approx(9.0, rel=0.03)
    texture = np.zeros_like(level)
    texture[:128] = 3.0 * ndimage.gaussian_filter(6.0 * rng.standard_normal((128, 256)), 0.7)
    stats = parity_stats(level + noise + texture)
    _, var, count = parity_variance_stats(stats)
    assert count.sum() < 0.55 * stats.score.size
    assert np.median(var) == pytest.approx(9.0, rel=0.05)


def test_noise_level_bins_take_the_finer_residual_unless_curved():
    """Noise alone: the bins' variances scatter 1.6x their independent-pixel error (1.9x with the
    quadratic residual alone). Strong curvature (an egg-crate of ±40 ADU over 19 pixels), which the
    four-neighbour residual follows (12.7 where the noise is 9): the quadratic one's variance."""
    spreads = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        level = np.linspace(100.0, 200.0, 256)[None, :].repeat(256, 0)
        _, var, count = parity_variance_stats(parity_stats(level + 3.0 * rng.standard_normal(level.shape)))
        spreads.append(np.std(var) / 9.0 / np.sqrt(2.0 / count.mean()))
    assert np.mean(spreads) < 1.75
    yy, xx = np.mgrid[0:256, 0:256]
    curved = 150.0 + 40.0 * np.sin(xx / 3.0) * np.sin(yy / 3.0)
    _, var, _ = parity_variance_stats(parity_stats(curved + 3.0 * np.random.default_rng(6).standard_normal(curved.shape)))
    assert np.median(var) == pytest.approx(9.0, rel=0.05)


def test_dark_region_grows_over_a_photon_free_field_and_stops_at_photons():
    """A photon-free field over most of the image: the dark region grows far beyond its first
    tenth, and the read noise comes out finer (the first tenth alone finds it 1.8 % low on this
    image). A field whose darkest 12 % is photon-free and the rest lit by 0.2 photons (1.6 ADU):
    the region stays photon-free."""
    rng = np.random.default_rng(11)
    rate = fluorescence_phantom(rng, (256, 256), nuclei=12)
    y = camera_counts(rng, 20.0 * rate, gain=2.0, sigma=3.0, offset=100.0)
    stats = parity_stats(y)
    dark = dark_region(stats, None)
    assert dark.pixels > 2.5 * DARK_FRACTION / 2 * stats.score.size
    assert dark.mean == pytest.approx(100.0, abs=0.05)
    assert math.sqrt(dark.var) == pytest.approx(math.sqrt(9.0 + 1.0 / 12.0), rel=0.01)   # with rounding
    lit = np.where(np.arange(256)[None, :] < 0.12 * 256, 0.0, 0.2).repeat(256, 0)
    stats = parity_stats(camera_counts(rng, lit, gain=8.0, sigma=2.0, offset=100.0))
    dark = dark_region(stats, None)
    assert dark.pixels < DARK_FRACTION * stats.score.size
    assert dark.mean == pytest.approx(100.0, abs=0.2)


def test_photons_in_the_dark_region_are_found_by_skewness():
    """A background of one photon on a megapixel sensor: its mean is the offset plus 2 ADU, and
    the third cumulant counts the photon finely enough to split it off."""
    rng = np.random.default_rng(1)
    rate = fluorescence_phantom(rng, (1024, 1024), nuclei=40)
    est = estimate_camera(camera_counts(rng, 20 * rate + 1.0, gain=2.0, sigma=3.0, offset=100.0))
    assert est["offset_basis"] == "skewness"
    assert est["offset"] == pytest.approx(100.0, abs=0.5)
    assert est["sigma"] == pytest.approx(3.0, rel=0.05)


def test_coarsely_counted_photons_leave_the_class_member_at_the_dark_mean():
    """Half a photon at a gain of 10 over a read noise of 1.5 ADU: the third cumulant finds the
    photons, but the read variance left after splitting them off (2 of 52 ADU²) would be a guess,
    so the pair stated is the class member at the region's mean, with the right intercept."""
    rng = np.random.default_rng(3)
    rate = fluorescence_phantom(rng, (512, 512), nuclei=40)
    est = estimate_camera(camera_counts(rng, 100 * rate + 0.5, gain=10.0, sigma=1.5, offset=100.0))
    assert est["offset_basis"] == "unidentified"
    assert est["offset"] == pytest.approx(105.0, abs=0.5)
    assert est["sigma"] ** 2 - est["gain"] * est["offset"] == pytest.approx(1.5 ** 2 - 10.0 * 100.0, rel=0.1)


def test_no_dark_region_states_the_equivalence_class():
    """Dim signal everywhere, read noise dominant: the pair reported is unidentified but
    stabilizes like the truth (same variance at the darkest level)."""
    rate, y = _camera(4, 20.0, background=0.3, gain=0.5, sigma=5.0, offset=100.0)
    est = estimate_camera(y)
    assert est["offset_basis"] == "unidentified"
    level = 100.0 + 0.5 * 20.0 * 0.3
    true_var = 0.5 * (level - 100.0) + 25.0
    assert est["gain"] * (level - est["offset"]) + est["sigma"] ** 2 == pytest.approx(true_var, rel=0.1)


def test_fixed_values_are_kept_and_the_rest_follow():
    _, y = _camera(5, 100.0, gain=2.0, sigma=3.0, offset=100.0)
    # A read noise above the truth: the same sigma**2 - gain * offset puts the offset above it.
    est = estimate_camera(y, sigma=4.0)
    assert est["sigma"] == 4.0 and est["offset_basis"] == "from read noise"
    assert est["offset"] == pytest.approx(100.0 + (16.0 - 9.0) / 2.0, abs=1.0)
    est = estimate_camera(y, gain=2.0, offset=100.0)
    assert (est["gain"], est["offset"], est["offset_basis"]) == (2.0, 100.0, "given")
    assert est["sigma"] == pytest.approx(3.0, rel=0.1)


def test_auto_selects_poisson_gaussian_with_the_offset_column():
    _, y = _camera(6, 50.0, gain=2.0, sigma=3.0, offset=100.0, size=256)
    row = restoration.characterize(y).iloc[0]
    assert row["noise"] == "poisson-gaussian"
    # Both checkerboard parities measured: 256 x 256 has dark pixels enough to resolve a quarter
    # photon by skewness.
    assert row["offset"] == pytest.approx(100.0, abs=2.0) and row["offset_basis"] == "dark region"


def test_characterize_poisson_gaussian_with_sigma_on_raw_data():
    """`--noise poisson-gaussian --sigma 3` on data with an offset: the offset is estimated."""
    _, y = _camera(7, 50.0, gain=2.0, sigma=3.0, offset=100.0, size=256)
    row = restoration.characterize(y, noise="poisson-gaussian", sigma=3.0).iloc[0]
    assert row["sigma"] == 3.0 and row["offset"] == pytest.approx(100.0, abs=2.0)
    assert row["gain"] == pytest.approx(2.0, rel=0.15)


def test_dark_frames_and_calibration():
    rng = np.random.default_rng(8)
    pattern = rng.normal(0, 5, (64, 64))            # fixed per-pixel offsets: not read noise
    frames = np.rint(100 + pattern + rng.normal(0, 3, (16, 64, 64)))
    stats = dark_frame(frames)
    assert stats["offset"] == pytest.approx(100.0, abs=0.5) and stats["sigma"] == pytest.approx(3.0, rel=0.05)
    assert dark_frame(frames[0])["sigma"] == pytest.approx(math.hypot(3, 5), rel=0.1)
    assert calibration(gain=2, dark=frames) == {"gain": 2.0, "offset": stats["offset"], "sigma": stats["sigma"]}
    with pytest.raises(InputError, match="--dark"):
        calibration(dark=frames, offset=100)
    with pytest.raises(InputError, match="--gain"):
        calibration(gain=0)


@pytest.mark.parametrize("read", [1.0, 3.0, 10.0])
@pytest.mark.parametrize("photons", [0.0, 0.3, 1.0, 4.0, 20.0, 200.0])
def test_exact_inverse_is_unbiased_on_camera_data(photons, read):
    """The mean GAT of camera data maps back to the true mean, to 0.02 photons at a few counts
    (the closed form is up to 0.035 off there) and 0.1 % above."""
    rng = np.random.default_rng(int(photons * 10 + read))
    y = 2.0 * rng.poisson(photons, 4_000_000) + 100.0 + read * rng.standard_normal(4_000_000)
    back = (float(gat_inverse(gat(y, 2.0, read, 100.0).mean(), 2.0, read, 100.0)) - 100.0) / 2.0
    assert back == pytest.approx(photons, abs=0.02 + 0.001 * photons)


def test_the_class_shares_the_transform():
    """Any (offset, sigma) with the same sigma**2 - gain*offset gives the same GAT."""
    y = np.arange(90.0, 200.0)
    np.testing.assert_allclose(gat(y, 2.0, 3.0, 100.0), gat(y, 2.0, math.sqrt(17.0), 104.0), atol=1e-12)


def test_restored_background_is_unbiased_and_float32():
    """The shipped model via restoration.denoise: the dark background's mean is the offset within
    a fraction of an ADU, and uint16 input comes back as float32."""
    rate, y = _camera(9, 50.0, gain=2.0, sigma=3.0, offset=100.0, size=256)
    out = restoration.denoise(y, device="cpu")
    assert out.dtype == np.float32 and out.shape == y.shape
    background = ndimage.binary_erosion(rate == 0, iterations=6)
    assert background.mean() > 0.3
    assert abs(float(out[background].mean()) - 100.0) < 0.3
    kept = restoration.denoise(y, device="cpu", output_dtype="input")
    assert kept.dtype == np.uint16


def test_cli_camera_options_end_to_end(tmp_path):
    """The real CLI on a small uint16 file: calibration options, float32 output, noise.csv columns."""
    from restoration_flows.cli import main

    _, y = _camera(10, 50.0, gain=2.0, sigma=3.0, offset=100.0, size=128)
    np.save(tmp_path / "cells.npy", y)
    rng = np.random.default_rng(11)
    np.save(tmp_path / "dark.npy", np.rint(rng.normal(100, 3, (4, 64, 64))).astype(np.uint16))
    nlm = ["--denoiser", "nlm"]

    out = tmp_path / "sigma"
    assert main(["run", str(tmp_path / "cells.npy"), "-o", str(out), "--noise", "poisson-gaussian", "--sigma", "3", *nlm]) == 0
    noise = pd.read_csv(out / "noise.csv")
    assert {"gain", "sigma", "offset", "offset_basis"} <= set(noise.columns)
    assert noise.loc[0, "offset"] == pytest.approx(100.0, abs=2.0) and noise.loc[0, "offset_basis"] == "from read noise"
    store = zarr.open_group(str(out / "restored.zarr"), mode="r")
    arr = item_array(store, "cells")
    assert arr.dtype == np.float32 and item_provenance(store, "cells")["output_dtype"] == "float32"
    quality = pd.read_csv(out / "quality.csv")
    assert quality.loc[0, "status"] == "ok" and np.isfinite(quality.loc[0, "residual_sigma"])

    out = tmp_path / "dark"
    assert main(["run", str(tmp_path / "cells.npy"), "-o", str(out), "--dark", str(tmp_path / "dark.npy"),
                 "--gain", "2", "--output-dtype", "input", *nlm]) == 0
    noise = pd.read_csv(out / "noise.csv")
    assert noise.loc[0, "noise"] == "poisson-gaussian" and noise.loc[0, "gain"] == 2.0
    assert noise.loc[0, "offset"] == pytest.approx(100.0, abs=0.3) and noise.loc[0, "offset_basis"] == "given"
    store = zarr.open_group(str(out / "restored.zarr"), mode="r")
    assert item_array(store, "cells").dtype == np.uint16
    prov = item_provenance(store, "cells")
    assert prov["calibration"]["gain"] == 2.0 and prov["dark"] == str(tmp_path / "dark.npy")


def _discs(rng: np.random.Generator, size: int = 384) -> np.ndarray:
    """Flat discs of random brightness on a ramp: every level between 20 % and 100 % of the peak."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    rate = 0.2 + 0.6 * xx
    for _ in range(12):
        cy, cx, r = rng.random(3) * (1, 1, 0.2)
        rate[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.2, 1.0)
    return rate


def test_noise_level_function_without_a_dark_region():
    """No pixel below 20 % of the peak (40 photons): gain and the intercept ``read**2 - gain *
    offset`` (all the GAT depends on) come from the signal's variance at every level, and the
    split is stated unidentified."""
    rng = np.random.default_rng(0)
    y = camera_counts(rng, 200 * _discs(rng), gain=4.0, sigma=2.0, offset=500.0)
    est = estimate_camera(y)
    assert est["gain"] == pytest.approx(4.0, rel=0.1)
    assert est["sigma"] ** 2 - est["gain"] * est["offset"] == pytest.approx(4.0 - 4.0 * 500.0, rel=0.1)
    assert est["offset_basis"] == "unidentified"
    # The member of the class stated puts the offset at or below the darkest signal (not at the
    # darkest region's mean, above it), so its variance function holds over all the data and
    # selection finds the camera model (with the offset at that mean: speckle).
    assert est["offset"] <= 500.0 + 4.0 * 200 * 0.2
    assert characterize_array(y, models=registry().noise_models)["noise"] == "poisson-gaussian"


def test_unidentified_offset_of_a_flat_photon_free_background_stays_at_its_mean():
    """A photon-free background too weakly resolved to identify: flat (its local means spread by
    their own noise alone), it is the darkest level, so the offset and read noise stay there
    instead of the darkest local means' noise moving them lower. (Read noise 5 ADU: at 3 ADU the
    dark region, grown over the whole background, resolves a quarter photon and identifies it.)"""
    rng = np.random.default_rng(2)
    photons = 40 * fluorescence_phantom(rng, (256, 256), nuclei=12)
    est = estimate_camera(camera_counts(rng, photons, gain=2.0, sigma=5.0, offset=100.0))
    assert est["offset_basis"] == "unidentified"
    assert est["offset"] == pytest.approx(100.0, abs=0.5)
    assert est["sigma"] == pytest.approx(5.0, rel=0.1)
