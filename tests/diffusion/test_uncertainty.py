"""The calibrated std: the table's coefficients, their use by the denoiser, the provenance, and
coverage moving towards nominal on images the calibration was not fitted on."""

from __future__ import annotations

import json

import numpy as np
import pytest

import restoration
from restoration.diffusion import uncertainty
from restoration.diffusion.data import dead_leaves
from restoration.diffusion.files import DEFAULT_MODEL, file_digest, model_id
from restoration.diffusion.uncertainty import (TARGETS, calibrate_std, coefficients, coverage, find_table,
                                               fit_coefficients, pool_spread)
from restoration.options import RunOptions
from restoration.pipeline.checks import check_options
from restoration.report import ReportItem, render_report

TABLE = {"model_sha256": "ab" * 32, "sigma": [0.01, 0.1], "samples": [2, 4, 8],
         "scale": [[3.0, 2.0], [2.0, 1.5], [1.6, 1.2]], "floor": [[0.5, 0.1], [0.4, 0.1], [0.3, 0.0]]}


def test_coefficients_follow_the_table_between_and_beyond_its_points():
    assert coefficients(0.01, 4, TABLE) == pytest.approx((2.0, 0.4))
    assert coefficients(0.1, 8, TABLE) == pytest.approx((1.2, 0.0))
    # Halfway in log sigma; below and above the fitted levels, the end values.
    assert coefficients(0.01 ** 0.5 * 0.1 ** 0.5, 2, TABLE) == pytest.approx((2.5, 0.3))
    assert coefficients(1e-4, 2, TABLE) == pytest.approx((3.0, 0.5))
    assert coefficients(1.0, 8, TABLE) == pytest.approx((1.2, 0.0))
    # K = 3 is a third of the way from 1/2 to 1/4 (linear in 1/K, on c² and b²).
    c, b = coefficients(0.1, 3, TABLE)
    assert c ** 2 == pytest.approx(2.0 ** 2 + (1.5 ** 2 - 2.0 ** 2) * (1 / 2 - 1 / 3) / (1 / 2 - 1 / 4))
    # Above the largest K: the finite-sample law with the excess spread fitted at K = 8.
    a2 = 1.2 ** 2 * 7 / 8 - 1 / 8
    assert coefficients(0.1, 32, TABLE)[0] == pytest.approx(np.sqrt(32 / 31 * (a2 + 1 / 32)))
    # No table: a perfect sampler's law, which tends to 1 with many samples.
    assert coefficients(0.1, 2, None) == pytest.approx((np.sqrt(3), 0.0))
    assert coefficients(0.1, 1000, None)[0] == pytest.approx(1.0, abs=2e-3)
    with pytest.raises(ValueError):
        coefficients(0.1, 1, None)


def test_fit_reaches_the_targets_on_gaussian_errors_with_a_noisy_spread():
    """Errors N(0, 1.3² s²) with s known only through 8 samples: the fit finds the inflation."""
    rng = np.random.default_rng(0)
    s = rng.uniform(0.5, 2.0, 40000)
    spread = s * np.sqrt(rng.chisquare(7, s.size) / 8)          # population std of 8 draws
    err = rng.normal(0, 1.3 * s)
    assert coverage(err, spread)[0] < 0.55
    c, b = fit_coefficients(err, spread, 1.0)
    got = coverage(err, np.sqrt((c * spread) ** 2 + b ** 2))
    for value, (_, target, tol) in zip(got, TARGETS):
        assert abs(value - target) < tol


def test_the_shipped_table_belongs_to_the_shipped_model_and_met_the_targets_on_validation():
    table = find_table(model_id(DEFAULT_MODEL))
    assert table is not None and table["model_sha256"] == file_digest(DEFAULT_MODEL)
    rows = [r for r in table["validation"] if r["samples"] == 8]
    assert {r["noise"] for r in rows} == {"gaussian"}
    levels = [r["level"] for r in rows]                 # σ /255 as drawn
    assert min(levels) <= 2 and max(levels) >= 100      # the trained range, end to end
    assert len(rows) == len(table["sigma"]) and table["sigma"] == sorted(table["sigma"])
    # Counts: rows of their own per noise model, each fitted at several levels of its own draws.
    families = {tuple(f["noise"]): f for f in table["families"]}
    assert set(families) == {("poisson",), ("poisson-gaussian",)}
    counts = []
    for (noise,), family in families.items():
        assert family["sigma"] == sorted(family["sigma"]) and len(family["sigma"]) >= 3
        counts += [r for r in family["validation"] if r["samples"] == 8]
        assert {r["noise"] for r in counts[-len(family["sigma"]):]} == {noise}
    assert min(r["level"] for r in counts if r["noise"] == "poisson") <= 3

    def miss(r, kind):   # the fit's loss on the row's coverage
        return uncertainty.coverage_miss([r[f"{kind}_within_{m:.0f}"] for m, _, _ in TARGETS])

    for r in rows + counts:
        # Nearer the targets than the raw spread, jointly (a spread that happens to straddle the
        # ±1 target, as at 4 photons, may be no farther from it than the calibrated std).
        assert miss(r, "calibrated") < miss(r, "spread"), r
        for m, target, tol in TARGETS:
            calibrated = r[f"calibrated_within_{m:.0f}"]
            # Heavier tails than a Gaussian's: at σ 100/255 and 15 photons or fewer (see the README).
            heavy = r["level"] >= 100 if r["noise"] == "gaussian" else r["level"] <= 15
            assert abs(calibrated - target) < (2.5 * tol if heavy else tol), r


@pytest.fixture
def tiny_table(tiny_model, tmp_path, monkeypatch):
    """Install a calibration table for the tiny model; returns a function that writes it."""
    path = tmp_path / "tiny_uncertainty.json"
    monkeypatch.setattr(uncertainty, "TABLES", (path,))
    uncertainty._tables.cache_clear()

    def write(sigma: float, samples: int, c: float, b: float, families: tuple = ()) -> None:
        """Rows ``(c, b)`` at one level and sample count; ``families``: ``(noise names, c, b)``."""
        def rows(c: float, b: float) -> dict:
            return {"sigma": [sigma], "samples": [samples], "scale": [[c]], "floor": [[b]]}

        path.write_text(json.dumps({"format": uncertainty.FORMAT, "model_sha256": file_digest(tiny_model),
                                    "fitted_on": "a test", **rows(c, b),
                                    "families": [{"noise": list(names)} | rows(fc, fb) for names, fc, fb in families]}))
        uncertainty._tables.cache_clear()

    yield write
    uncertainty._tables.cache_clear()


def _restore(noisy, tiny_model, mode, samples=4):
    return restoration.denoise(noisy, noise="gaussian", sigma=0.1, samples=samples, return_std=True, seed=5,
                               uncertainty=mode, model=str(tiny_model), transforms=["none"])


def test_the_denoiser_grows_the_same_samples_std_by_the_fitted_coefficients(tiny_model, tiny_table):
    rng = np.random.default_rng(1)
    clean = dead_leaves(48, rng)
    noisy = (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32)
    mean, spread = _restore(noisy, tiny_model, "spread")
    # No table for this model: the finite-sample law alone.
    mean_law, law = _restore(noisy, tiny_model, "calibrated")
    assert np.array_equal(mean, mean_law)
    np.testing.assert_allclose(law, pool_spread(spread) * np.sqrt(5 / 3), rtol=1e-5)
    tiny_table(0.2, 4, 1.7, 0.25)        # model units: [0, 1] data -> [-1, 1]
    _, fitted = _restore(noisy, tiny_model, "calibrated")
    np.testing.assert_allclose(fitted, np.sqrt((1.7 * pool_spread(spread)) ** 2 + (0.25 * 0.1) ** 2), rtol=1e-4)


def test_data_of_a_noise_model_with_its_own_rows_gets_those_rows(tiny_model, tiny_table):
    """Poisson counts are calibrated by the rows fitted for Poisson data, Gaussian data by the
    top-level ones, whatever other families the table holds."""
    rng = np.random.default_rng(4)
    counts = rng.poisson(20 * dead_leaves(48, rng)).astype(np.float32)
    noisy = (dead_leaves(48, rng) + rng.normal(0, 0.1, (48, 48))).astype(np.float32)

    def stds(**table) -> tuple[np.ndarray, np.ndarray]:
        tiny_table(0.2, 4, **table)
        poisson = restoration.denoise(counts, noise="poisson", gain=1.0, samples=4, return_std=True, seed=5,
                                      model=str(tiny_model), transforms=["none"])[1]
        return poisson, _restore(noisy, tiny_model, "calibrated")[1]

    own_poisson, own_gaussian = stds(c=1.0, b=0.0, families=((("poisson", "poisson-gaussian"), 2.5, 0.3),))
    top_poisson, _ = stds(c=2.5, b=0.3)
    _, plain_gaussian = stds(c=1.0, b=0.0, families=((("speckle",), 2.5, 0.3),))
    np.testing.assert_array_equal(own_poisson, top_poisson)
    np.testing.assert_array_equal(own_gaussian, plain_gaussian)
    assert not np.array_equal(own_poisson, stds(c=1.0, b=0.0)[0])


def test_calibration_fitted_on_one_image_moves_coverage_on_another_towards_nominal(tiny_model, tiny_table):
    def errors(seed):
        rng = np.random.default_rng(seed)
        clean = dead_leaves(64, rng)
        noisy = (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32)
        mean, spread = _restore(noisy, tiny_model, "spread")
        return mean - clean, spread, noisy

    err, spread, _ = errors(10)                       # validation image
    tiny_table(0.2, 4, *fit_coefficients(err, spread, 0.1))
    err, spread, noisy = errors(11)                   # test image
    _, calibrated = _restore(noisy, tiny_model, "calibrated")
    before, after = coverage(err, spread), coverage(err, calibrated)
    for b, a, (_, target, _) in zip(before, after, TARGETS):
        assert abs(a - target) < abs(b - target) / 2, (before, after)


def test_the_run_signature_and_provenance_name_the_calibration(tiny_model, tmp_path):
    """What a run records as its denoiser identity (the provenance's ``identity``, which also
    decides resume) names the std calibration whenever a std is written."""
    np.save(tmp_path / "x.npy", np.zeros((8, 8), np.float32))

    def identity(**options):
        run = check_options(RunOptions(inputs=(str(tmp_path / "x.npy"),), outdir=str(tmp_path / "out"),
                                       denoiser_options=options))
        return run.identity

    shipped = identity(samples=8)
    assert shipped["std_calibration"].startswith("default_uncertainty.json (")
    assert "std_calibration" not in identity(samples=1)
    assert identity(samples=8, uncertainty="spread")["std_calibration"].startswith("spread")
    assert identity(samples=8, model=str(tiny_model))["std_calibration"].startswith("finite-sample correction only")


def test_the_report_says_which_calibration_the_std_map_had():
    plane = np.zeros((16, 16), np.float32)
    label = "default_uncertainty.json (validation photographs)"
    item = ReportItem("p", "ok", noisy=plane, restored=plane, std=plane + 0.1, quality={"denoiser": "diffusion"},
                      provenance={"denoiser": "diffusion", "options": {"samples": 8},
                                  "identity": {"model_id": "default.pt@sha256:dacd7f31", "std_calibration": label}})
    assert f"<th>Uncertainty</th><td>{label}</td>" in render_report([item], {})


FIXED_STD = """
import numpy as np
from restoration import Denoiser, hookimpl

class FixedStd(Denoiser):
    '''Returns the data as it is, with a std of 0.5 everywhere.'''
    name = "fixedstd"

    def denoise(self, obs, *, rng, **_):
        return obs.data.astype(np.float32), np.full(obs.data.shape, 0.5, np.float32)

    def returns_std(self, **_):
        return True

    def context(self, **_):
        return 0

@hookimpl
def restoration_denoisers():
    return [FixedStd()]
"""


def test_the_std_reaches_the_data_units_by_the_inverse_maps_slope_over_restored_plus_minus_std(plugin_site):
    """Poisson counts: the std in counts is half the inverse GAT's rise from r - s to r + s (a
    one-sided step, r to r + s, overstates it where few photons make the inverse convex)."""
    from restoration.plugins import registry

    plugin_site("fixed_std_plugin", FIXED_STD)
    counts = np.random.default_rng(3).poisson(np.linspace(0.5, 40, 48 * 48).reshape(48, 48)).astype(np.float32)
    _, std = restoration.denoise(counts, noise="poisson", gain=1.0, denoiser="fixedstd", transforms=["none"],
                                 return_std=True)
    model = registry().get("noise", "poisson")
    r = np.asarray(model.to_gaussian(counts, gain=1.0).data, np.float64)
    up, down = model.from_gaussian(r + 0.5, gain=1.0), model.from_gaussian(r - 0.5, gain=1.0)
    np.testing.assert_allclose(std, (up - down) / 2, rtol=1e-4, atol=1e-5)
    assert np.mean(up - model.from_gaussian(r, gain=1.0) > std) > 0.9      # the one-sided step: larger
