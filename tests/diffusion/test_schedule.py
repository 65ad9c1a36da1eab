import numpy as np
import pytest

from restoration.diffusion.schedule import Schedule


@pytest.mark.parametrize("sigma255", [1, 5, 15, 25, 50, 100])
def test_sigma_to_t_is_exact(sigma255):
    s = Schedule()
    sigma = 2 * sigma255 / 255  # image units [0, 1] -> model units [-1, 1]
    t = s.t_of_sigma(sigma)
    assert 0 < t < s.steps
    assert abs(s.sigma_of_t(t) / sigma - 1) < 0.01
    # Fractional: the grid point alone would miss by more for most sigmas.
    assert t != round(float(t)) or sigma255 == 0


def test_known_timesteps_of_linear_schedule():
    # research/diffusion_denoising.md: linear schedule, sigma 25 -> t* about 56, sigma 50 -> 114
    s = Schedule()
    assert abs(float(s.t_of_sigma(2 * 25 / 255)) - 56) < 1.5
    assert abs(float(s.t_of_sigma(2 * 50 / 255)) - 114) < 1.5


def test_sigma_monotone_and_bounds():
    s = Schedule()
    t = np.linspace(0, s.steps, 500)
    sig = s.sigma_of_t(t)
    assert sig[0] == 0 and np.all(np.diff(sig) > 0)
    with pytest.raises(ValueError):
        s.t_of_sigma(0.0)
