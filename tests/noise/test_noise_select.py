"""Automatic selection, the clean estimate and the noise.csv row (characterize_array)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from restoration import NoiseModel
from restoration.errors import InputError
from restoration.noise import (GaussianNoise, PoissonGaussianNoise, PoissonNoise, SaltPepperNoise, SpeckleNoise,
                               characterize_array, clean_estimate, select_noise)
from restoration.noise.reference import reference
from restoration.noise.camera import camera_counts
from restoration.noise.select import (LIKELIHOOD_PIXELS, PROFILE_EVALUATIONS, TIE_TOLERANCE, _clipped_fraction,
                                      _even_levels)
from restoration.plugins import registry

BUILTINS = {m.name: m for m in (GaussianNoise(), PoissonNoise(), PoissonGaussianNoise(), SpeckleNoise(),
                                 SaltPepperNoise())}
CASES = [("gaussian", {"sigma": 0.08}), ("poisson", {"gain": 0.01}),
         ("poisson-gaussian", {"gain": 0.01, "sigma": 0.05}),
         ("speckle", {"sigma": 0.2}), ("salt-and-pepper", {"amount": 0.05})]


@pytest.mark.parametrize(("true", "params"), CASES)
def test_selects_the_simulated_model(camera, true, params):
    noisy = BUILTINS[true].simulate(camera, np.random.default_rng(0), **params)
    fits = select_noise(noisy, registry().noise_models)
    assert fits[0].noise == true or (true == "poisson" and fits[0].noise == "poisson-gaussian")
    assert {f.noise for f in fits} == set(registry().noise_models)


def test_profile_search_keeps_to_its_budget():
    """The joint search over a camera's gain, read noise and offset spends at most
    PROFILE_EVALUATIONS likelihoods per parameter (after the estimate's own), on data where an
    unbounded search takes nearly 400."""
    from skimage import color, data

    calls = []

    class Counting(PoissonGaussianNoise):
        def log_likelihood(self, noisy, clean, **params):
            calls.append(params)
            return super().log_likelihood(noisy, clean, **params)

    gray = color.rgb2gray(data.chelsea())[:, 75:375]
    rate = 0.1 + 0.9 * (gray - gray.min()) / np.ptp(gray)
    noisy = camera_counts(np.random.default_rng(1), 270 * rate, gain=1.15, sigma=5.1, offset=280.0)
    select_noise(noisy, {"poisson-gaussian": Counting()})
    assert 3 < len(calls) <= 1 + 3 * PROFILE_EVALUATIONS


def test_compared_pixels_spread_over_the_levels():
    """Past the budget, the compared pixels come from every level alike: in a picture that is nine
    parts dark background (one level step of 32), its bright tenth, where noise models differ
    most, makes most of the comparison (every 4th pixel would keep a tenth); the same subset
    every time."""
    rng = np.random.default_rng(0)
    level = np.where(rng.random(400_000) < 0.9, 0.1 + 0.01 * rng.random(400_000), rng.uniform(0.1, 1.0, 400_000))
    idx = np.arange(level.size)
    chosen = _even_levels(idx, level)
    assert LIKELIHOOD_PIXELS // 2 < chosen.size <= LIKELIHOOD_PIXELS
    assert np.mean(level[chosen] > 0.12) > 0.8 and np.mean(level[idx[::4]] > 0.12) < 0.15
    np.testing.assert_array_equal(chosen, _even_levels(idx, level))
    small = idx[:1000]
    np.testing.assert_array_equal(_even_levels(small, level), small)     # within the budget: all of them


def test_noisefit_fields_and_bic_score(camera):
    noisy = BUILTINS["gaussian"].simulate(camera, np.random.default_rng(1), sigma=0.1)
    fits = select_noise(noisy, BUILTINS)
    best = fits[0]
    assert best.noise == "gaussian" and set(best.params) == {"sigma"}
    assert best.params["sigma"] == pytest.approx(0.1, rel=0.08)      # the estimate is reported
    penalties = {f.noise: f.log_likelihood - f.score for f in fits}
    # score = loglik - k log(N) / (2N), one N for all: the penalty is proportional to k
    assert penalties["poisson-gaussian"] == pytest.approx(3 * penalties["gaussian"], rel=1e-9)   # gain, sigma, offset
    # N, the compared pixels, solves log(N) / (2N) = penalty: a good share of the 128x128 image
    n = optimize.brentq(lambda m: math.log(m) / (2 * m) - penalties["gaussian"], 3, 1e9)
    assert 0.2 * camera.size < n <= camera.size
    rest = [f.score for f in fits[1:]]
    assert rest == sorted(rest, reverse=True)


def test_ties_go_to_the_simpler_model(camera):
    """Gaussian data: salt-and-pepper (amount 0) and poisson-gaussian (gain ~0) match it; gaussian wins."""
    noisy = BUILTINS["gaussian"].simulate(camera, np.random.default_rng(2), sigma=0.05)
    fits = select_noise(noisy, BUILTINS)
    assert fits[0].noise == "gaussian"
    sp = next(f for f in fits if f.noise == "salt-and-pepper")
    assert sp.score >= fits[0].score - TIE_TOLERANCE


def test_selection_ignores_missing_pixels(camera):
    noisy = BUILTINS["speckle"].simulate(camera, np.random.default_rng(3), sigma=0.2)
    noisy[10:20] = np.nan
    noisy[50, 60] = np.inf
    assert select_noise(noisy, BUILTINS)[0].noise == "speckle"


class Broken(NoiseModel):
    name = "broken"
    params = ("x",)

    def estimate(self, noisy):
        raise RuntimeError("boom")


def test_a_broken_model_is_skipped(camera, caplog):
    noisy = BUILTINS["gaussian"].simulate(camera, np.random.default_rng(4), sigma=0.1)
    fits = select_noise(noisy, {**BUILTINS, "broken": Broken()})
    assert "broken" not in {f.noise for f in fits} and fits[0].noise == "gaussian"
    assert "broken" in caplog.text
    with pytest.raises(InputError, match="no noise model"):
        select_noise(noisy, {"broken": Broken()})


def test_clean_estimate_is_calibrated_and_handles_impulses_and_nan():
    rng = np.random.default_rng(5)
    flat = np.full((3, 96, 96), 0.5)
    noisy = flat + 0.1 * rng.standard_normal(flat.shape)
    est = clean_estimate(noisy)
    assert est.shape == noisy.shape
    assert np.std(noisy - est) == pytest.approx(0.1, rel=0.02)        # residual = the noise variance
    assert np.std(est - flat) < 0.05                                   # and far less noisy itself
    x = np.full((8, 8), 0.5)
    x[3, 3], x[5, 5] = 1.0, np.nan
    x[0, 0] = 0.0
    est = clean_estimate(x)
    assert est[3, 3] == pytest.approx(0.5) and est[5, 5] == pytest.approx(0.5) and est[0, 0] == pytest.approx(0.5)
    _, outlier = reference(x)
    assert outlier[3, 3] and outlier[0, 0] and outlier.sum() == 2


def test_characterize_row_auto_and_named(camera):
    models = registry().noise_models
    noisy = BUILTINS["poisson-gaussian"].simulate(camera, np.random.default_rng(6), gain=0.01, sigma=0.05)
    row = characterize_array(noisy, models=models)
    assert list(row)[:4] == ["noise", "score", "clipped_fraction", "missing_fraction"]
    assert row["noise"] == "poisson-gaussian" and row["gain"] == pytest.approx(0.01, rel=0.25)
    named = characterize_array(noisy, models=models, noise="gaussian")
    assert named["noise"] == "gaussian" and set(named) == {"noise", "score", "clipped_fraction",
                                                            "missing_fraction", "sigma"}
    assert named["score"] < row["score"]
    given = characterize_array(noisy, models=models, noise="poisson-gaussian", params={"sigma": 0.2})
    assert given["sigma"] == 0.2 and given["gain"] == pytest.approx(0.01, rel=0.25)
    fixed = characterize_array(noisy, models=models, noise="auto", params={"sigma": 0.07})
    assert fixed["sigma"] == 0.07 and "sigma" in models[fixed["noise"]].params


def test_characterize_input_errors(camera):
    models = registry().noise_models
    with pytest.raises(InputError, match=r"unknown noise 'nope' \(valid: auto, gaussian"):
        characterize_array(camera, models=models, noise="nope")
    with pytest.raises(InputError, match="no parameter sigma"):
        characterize_array(camera, models=models, noise="salt-and-pepper", params={"sigma": 0.1})
    with pytest.raises(InputError, match="all values are NaN or infinite"):
        characterize_array(np.full((16, 16), np.nan), models=models)
    with pytest.raises(InputError, match="2 dimensions"):
        characterize_array(np.zeros(16), models=models)


def test_clipped_and_missing_fractions(camera):
    models = registry().noise_models
    noisy = BUILTINS["gaussian"].simulate(camera, np.random.default_rng(7), sigma=0.1)
    as_uint8 = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
    expected = np.mean((as_uint8 == 0) | (as_uint8 == 255))
    row = characterize_array(as_uint8, models=models, noise="gaussian")
    assert row["clipped_fraction"] == pytest.approx(expected) and expected > 0.01
    mild = BUILTINS["gaussian"].simulate(camera, np.random.default_rng(8), sigma=0.02)
    row = characterize_array(np.rint(mild * 255).astype(np.uint8), models=models, noise="gaussian")
    assert row["sigma"] == pytest.approx(0.02 * 255, rel=0.08)          # input units
    floats = noisy.copy()
    floats[:8] = np.nan                                                # 1/16 of the rows
    row = characterize_array(floats, models=models, noise="gaussian")
    assert row["missing_fraction"] == pytest.approx(1 / 16)
    assert row["clipped_fraction"] == 0.0                              # no pile-up in float noise
    piled = np.clip(noisy, 0.1, None)
    assert characterize_array(piled, models=models, noise="gaussian")["clipped_fraction"] == pytest.approx(
        np.mean(noisy <= 0.1))


def test_characterize_a_stack(camera):
    stack = np.stack([BUILTINS["speckle"].simulate(camera, np.random.default_rng(s), sigma=0.2) for s in range(3)])
    row = characterize_array(stack, models=registry().noise_models)
    assert row["noise"] == "speckle" and row["sigma"] == pytest.approx(0.2, rel=0.08)


def test_constant_and_tiny_data():
    models = registry().noise_models
    row = characterize_array(np.full((32, 32), 0.5), models=models)
    assert (row["noise"], row["sigma"], row["clipped_fraction"]) == ("gaussian", 0.0, 0.0)
    assert characterize_array(np.full((8, 8), 255, np.uint8), models=models)["clipped_fraction"] == 1.0
    row = characterize_array(np.random.default_rng(0).random((4, 4)), models=models)
    assert np.isfinite(row["score"]) and isinstance(row["score"], float)


# The selection reads only the models' class attributes, never their names: renamed copies of the
# built-ins behave as the built-ins do.
class Plain(GaussianNoise):
    name = "plain"


class Impulsive(SaltPepperNoise):
    name = "impulsive"
    nests = ("plain",)


class Loose(SaltPepperNoise):       # the same model, its nesting not declared
    name = "loose"
    nests = ()


def test_nests_decides_a_tie(camera):
    noisy = GaussianNoise().simulate(camera, np.random.default_rng(9), sigma=0.05)
    fits = select_noise(noisy, {"impulsive": Impulsive(), "plain": Plain()})
    assert fits[0].noise == "plain" and fits[1].score >= fits[0].score - TIE_TOLERANCE
    undeclared = select_noise(noisy, {"loose": Loose(), "plain": Plain()})
    assert undeclared[0].score == max(f.score for f in undeclared)      # then the score alone decides


def test_impulse_fraction_tells_saturation_from_impulses(camera):
    models = {"impulsive": Impulsive(), "plain": Plain()}
    clipped = np.clip(GaussianNoise().simulate(camera, np.random.default_rng(10), sigma=0.1), 0.2, 0.8)
    assert select_noise(clipped, models)[0].noise == "impulsive"       # a point mass fits the pile-up
    assert characterize_array(clipped, models=models)["noise"] == "plain"
    impulses = SaltPepperNoise().simulate(camera, np.random.default_rng(11), amount=0.05)
    assert characterize_array(impulses, models=models)["noise"] == "impulsive"


def test_impulses_over_a_background_at_an_extreme_are_still_impulses(camera):
    """Half the image at the minimum piles up there like a saturated region, but the impulses
    elsewhere are isolated and as many as the impulse model's fraction says."""
    clean = camera.copy()
    clean[:, : clean.shape[1] // 2] = camera.min()
    impulses = SaltPepperNoise().simulate(clean, np.random.default_rng(12), amount=0.05)
    models = {"impulsive": Impulsive(), "plain": Plain()}
    assert _clipped_fraction(impulses, np.isfinite(impulses)) > 0.4
    assert characterize_array(impulses, models=models)["noise"] == "impulsive"


def test_constant_data_is_the_model_others_nest():
    row = characterize_array(np.full((32, 32), 0.5), models={"impulsive": Impulsive(), "plain": Plain()})
    assert (row["noise"], row["sigma"]) == ("plain", 0.0)


# An installed plugin, written from the public API only, its hook registered by ``specname`` and
# its likelihood plain numpy (no care for missing pixels: the host compares one gap-free row).
LAPLACE_PLUGIN = '''
import math
import numpy as np
from restoration import NoiseModel, Observation, hookimpl


class LaplaceNoise(NoiseModel):
    name = "laplace"
    params = ("scale",)
    example_params = {"scale": 0.05}

    def simulate(self, clean, rng, *, scale):
        x = np.asarray(clean, dtype=np.float64)
        return x + rng.laplace(0.0, scale, x.shape)

    def estimate(self, noisy):
        d = np.abs(np.diff(np.asarray(noisy, dtype=np.float64), axis=-1))
        return {"scale": float(np.median(d[np.isfinite(d)])) / 1.1}

    def log_likelihood(self, noisy, clean, *, scale):
        b = max(float(scale), 1e-12)
        return float(np.mean(-np.abs(np.asarray(noisy) - np.asarray(clean)) / b - math.log(2.0 * b)))

    def to_gaussian(self, noisy, *, scale):
        return Observation(np.asarray(noisy, dtype=np.float64), scale * math.sqrt(2.0))

    def from_gaussian(self, restored, *, scale):
        return np.asarray(restored, dtype=np.float64)


@hookimpl(specname="restoration_noise_models")
def noise_models():
    return [LaplaceNoise()]
'''


def test_an_installed_plugin_model_is_selected_on_merit(camera, plugin_site):
    """Laplace noise: the plugin's model wins; Gaussian noise of the same std (and uint8-saved
    Gaussian noise): the built-in wins, the plugin does not."""
    plugin_site("laplace_noise", LAPLACE_PLUGIN)
    models = registry().noise_models
    assert "laplace" in models
    rng = np.random.default_rng(12)
    for scale in (0.02, 0.06):
        noisy = models["laplace"].simulate(camera, rng, scale=scale)
        assert characterize_array(noisy, models=models)["noise"] == "laplace"
        gauss = GaussianNoise().simulate(camera, rng, sigma=scale * math.sqrt(2.0))
        assert characterize_array(gauss, models=models)["noise"] == "gaussian"
    saved = np.clip(np.rint(GaussianNoise().simulate(camera, rng, sigma=0.05) * 255), 0, 255).astype(np.uint8)
    assert characterize_array(saved, models=models)["noise"] == "gaussian"
