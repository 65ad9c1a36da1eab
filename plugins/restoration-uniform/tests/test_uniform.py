"""The plugin's own tests: the host's contract checks, then what is particular to this model."""

from __future__ import annotations

import numpy as np
import pytest

from restoration.testing import check_noise_model
from restoration_uniform import UniformNoise


def test_follows_the_noise_model_contract():
    # Compared against every registered model (the built-ins too) on its own data.
    check_noise_model(UniformNoise())


def test_likelihood_is_finite_outside_the_box():
    """A residual past the amplitude (the clean estimate's own error) must not give -inf."""
    model = UniformNoise()
    clean = np.zeros((8, 8))
    assert np.isfinite(model.log_likelihood(clean + 0.2, clean, amplitude=0.1))


@pytest.mark.parametrize("amplitude", [0.05, 0.3])
def test_estimate_scales_with_the_amplitude(amplitude):
    clean = np.tile(np.linspace(0.1, 0.9, 128), (128, 1))
    noisy = UniformNoise().simulate(clean, np.random.default_rng(0), amplitude=amplitude)
    assert UniformNoise().estimate(noisy)["amplitude"] == pytest.approx(amplitude, rel=0.1)
