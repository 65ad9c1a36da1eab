"""Contract checks (:mod:`restoration.testing`) over EVERY registered noise model, transform and
denoiser, built-in and third-party: a plugin distribution installed next to restoration is
covered automatically, with its ``example_params`` and the checks' default tolerance."""

from __future__ import annotations

import pytest

from restoration import testing
from restoration.plugins import registry

# Built-in estimators are held to tighter relative tolerances (per parameter).
BUILTIN_TOLERANCE = {
    "gaussian": {"sigma": 0.08},
    "poisson": {"gain": 0.12},
    "poisson-gaussian": {"gain": 0.2, "sigma": 0.25, "offset": 0.0},
    "speckle": {"sigma": 0.08},
    "salt-and-pepper": {"amount": 0.08},
}
# Fast options for the checks (the diffusion denoiser's one-step estimate).
DENOISER_OPTIONS = {"diffusion": {"method": "mmse"}}

REG = registry()


@pytest.mark.parametrize("name", list(REG.noise_models))
def test_noise_model_contract(name):
    testing.check_noise_model(REG.noise_models[name], BUILTIN_TOLERANCE.get(name, testing.TOLERANCE))


@pytest.mark.parametrize("name", list(REG.transforms))
def test_transform_contract(name):
    testing.check_transform(REG.transforms[name])


@pytest.mark.parametrize("name", list(REG.denoisers))
def test_denoiser_contract(name):
    testing.check_denoiser(REG.denoisers[name], **DENOISER_OPTIONS.get(name, {}))


def test_the_checks_catch_a_broken_model():
    """A model that looks right but draws from the global generator fails the checks, by name."""
    import numpy as np

    gaussian = type(REG.noise_models["gaussian"])

    class Unseeded(gaussian):
        name = "unseeded"

        def simulate(self, clean, rng, **params):
            return super().simulate(clean, np.random.default_rng(), **params)

    with pytest.raises(AssertionError, match="one seed must give one result"):
        testing.check_noise_model(Unseeded(), others={})
