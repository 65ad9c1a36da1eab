"""Joint colour restoration: the opponent transform, when it is used, and that it pays."""

import numpy as np
import pytest

from restoration.denoisers.colour import NOISE_GAIN, from_opponent, std_from_opponent, to_opponent, use_joint
from restoration.store.ome_metadata import is_rgb


def test_opponent_transform_inverts_and_keeps_noise_white():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (3, 64, 64))
    opp, s = to_opponent(rgb, np.full(3, 0.1), 0.5)
    assert np.allclose(from_opponent(opp, 0.5), rgb)
    noise = rng.normal(0, 0.1, (3, 200_000, 1))
    n_opp, _ = to_opponent(noise, np.full(3, 0.1), 0.0)
    cov = np.cov(n_opp[:, :, 0])
    assert np.allclose(np.sqrt(np.diag(cov)), s, rtol=0.02)                      # the stated stds
    assert np.abs(cov - np.diag(np.diag(cov))).max() < 0.02 * cov.max()         # uncorrelated
    assert np.allclose(std_from_opponent(np.broadcast_to(s[:, None, None], (3, 2, 2))), 0.1)
    assert np.allclose(NOISE_GAIN, [3 ** -0.5, 2 ** -0.5, (3 / 8) ** 0.5])


def test_joint_only_for_three_channels_of_comparable_noise():
    assert use_joint("auto", np.array([0.1, 0.11, 0.1]))
    assert not use_joint("auto", np.array([0.1, 0.2, 0.1]))
    assert use_joint("joint", np.array([0.1, 0.2, 0.1]))
    assert not use_joint("per-channel", np.full(3, 0.1))
    assert not use_joint("joint", np.full(2, 0.1))
    with pytest.raises(ValueError, match="unknown colour mode"):
        use_joint("opponent", np.full(3, 0.1))


@pytest.mark.parametrize("fmt, attrs, axes, shape, expected", [
    ("png", {}, "yxc", (8, 8, 3), True),
    ("npy", None, "yxc", (8, 8, 3), True),
    ("tiff", {"photometric": "rgb"}, "yxc", (8, 8, 3), True),
    ("tiff", {"photometric": "minisblack"}, "cyx", (3, 8, 8), False),   # fluorescence channels
    ("zarr", {}, "cyx", (3, 8, 8), False),
    ("png", {}, "yxc", (8, 8, 4), False),                                 # RGBA
    ("png", {}, "yx", (8, 8), False),
])
def test_only_photographs_channels_are_rgb(fmt, attrs, axes, shape, expected):
    assert is_rgb(fmt, attrs, axes, shape) is expected


def test_auto_colour_is_joint_only_for_rgb_observations():
    """The diffusion denoiser mixes channels only when the host says they are colours."""
    from restoration.denoisers.diffusion import DiffusionDenoiser
    from restoration.types import Observation

    rng = np.random.default_rng(3)
    data = np.clip(rng.uniform(0.3, 0.7, (32, 32, 1)) + rng.normal(0, 0.1, (32, 32, 3)), 0, 1).astype(np.float32)
    den = DiffusionDenoiser()

    def run(rgb, colour="auto"):
        return den.denoise(Observation(data, np.full(3, 0.1), rgb=rgb), rng=np.random.default_rng(0), colour=colour)

    assert np.array_equal(run(False), run(True, "per-channel"))
    assert not np.array_equal(run(True), run(False))
    assert np.array_equal(run(False, "joint"), run(True, "joint"))


def test_joint_restoration_beats_per_channel_on_a_colour_photograph():
    """The shipped model, astronaut (held out of training), sigma 25: joint is clearly better."""
    import restoration
    from restoration.diffusion.data import skimage_image

    clean = skimage_image("astronaut")[150:278, 150:278]
    noisy = clean + np.random.default_rng(1).normal(0, 25 / 255, clean.shape).astype(np.float32)

    def psnr(x):
        return 10 * np.log10(1 / np.mean((x - clean) ** 2))

    joint = restoration.denoise(noisy, sigma=25 / 255)
    per_channel = restoration.denoise(noisy, sigma=25 / 255, colour="per-channel")
    assert psnr(joint) > psnr(per_channel) + 0.8
