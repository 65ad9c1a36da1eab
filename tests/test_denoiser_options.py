"""The denoiser contract seen from the command line: a plugin's own options reach it, are checked
against its declaration, and enter the provenance; the denoiser's identity decides resume."""

from __future__ import annotations

import numpy as np
import pytest

from restoration import Denoiser, Option, RunOptions
from restoration.store import item_array, item_provenance, open_store
from restoration.types import resolve_options
from restoration_flows.cli import main

SHRINK = """
import numpy as np
from restoration import Denoiser, Option, hookimpl

class Shrink(Denoiser):
    '''Pulls every pixel towards the plane's mean by ``strength``.'''
    name = "shrink"
    options = (Option("strength", float, 0.5, "how far towards the mean", minimum=0.0),
               Option("centre", str, "mean", "mean or median", choices=("mean", "median")),
               Option("verbose", bool, False, "say more"))

    def denoise(self, obs, *, rng, strength=0.5, centre="mean", **_):
        data = np.nan_to_num(obs.data, nan=float(np.nanmean(obs.data)))
        c = np.mean(data) if centre == "mean" else np.median(data)
        return (data + strength * (c - data)).astype(np.float32)

    def context(self, **options):
        return 0

@hookimpl
def restoration_denoisers():
    return [Shrink()]
"""


@pytest.fixture
def shrink(plugin_site):
    plugin_site("shrink_plugin", SHRINK)


def _noisy(path, seed=0):
    data = np.random.default_rng(seed).normal(0.5, 0.1, (48, 48)).astype(np.float32)
    np.save(path, data)
    return data


def _prov(out, name):
    return item_provenance(open_store(out, mode="r"), name)


def test_a_plugin_denoisers_own_option_passes_from_the_cli(shrink, tmp_path, capsys):
    data = _noisy(tmp_path / "x.npy")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "x.npy"), "-o", str(out), "--denoiser", "shrink", "--strength", "0.25",
                 "--denoiser-option", "centre=median", "--verbose"]) == 0
    prov = _prov(out, "x")
    assert prov["denoiser"] == "shrink" and prov["identity"] == {}
    assert prov["options"] == {"strength": 0.25, "centre": "median", "verbose": True}  # converted, defaults filled
    restored = item_array(open_store(out, mode="r"), "x")[...]
    assert 0.6 < np.std(restored) / np.std(data) < 0.9          # pulled a quarter of the way to the median
    quality = (out / "quality.csv").read_text()
    assert "strength=0.25" in quality and "centre=median" in quality
    # The flag comes from the plugin's declaration: --help lists it with its help text.
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert "how far towards the mean (shrink)" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["--strength", "strong"], "--strength: 'strong' is not a float"),
    (["--strength", "-1"], "--strength must be >= 0, got -1.0"),
    (["--denoiser-option", "centre=mode"], "--centre: 'mode' is not one of mean, median"),
    (["--denoiser-option", "radius=3"], "--radius: the shrink denoiser has no such option (its options: strength, centre, "
                                        "verbose)"),
    (["--denoiser-option", "strength"], "--denoiser-option 'strength': expected NAME=VALUE"),
    (["--samples", "4"], "--samples: the shrink denoiser has no such option"),
])
def test_options_are_checked_against_the_declaration(shrink, tmp_path, capsys, args, needle):
    _noisy(tmp_path / "x.npy")
    assert main(["run", str(tmp_path / "x.npy"), "-o", str(tmp_path / "out"), "--denoiser", "shrink", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (tmp_path / "out").exists()


def test_the_python_api_takes_the_same_options(shrink):
    import restoration

    data = np.random.default_rng(1).normal(0.5, 0.1, (32, 32)).astype(np.float32)
    half = restoration.denoise(data, sigma=0.1, denoiser="shrink", strength=0.5, transforms=["none"])
    none = restoration.denoise(data, sigma=0.1, denoiser="shrink", strength=0.0, transforms=["none"])
    assert np.allclose(none, data, atol=1e-6) and np.std(half) < 0.6 * np.std(data)
    with pytest.raises(restoration.InputError, match="--strength must be >= 0"):
        restoration.denoise(data, denoiser="shrink", strength=-2)


def test_resolve_options_fills_defaults_and_converts():
    class Blur(Denoiser):
        name = "blur"
        options = (Option("radius", int, 2, minimum=1), Option("fast", bool, True))

    assert resolve_options(Blur(), {}) == {"radius": 2, "fast": True}
    assert resolve_options(Blur(), {"radius": "3", "fast": "no"}) == {"radius": 3, "fast": False}
    assert resolve_options(Blur(), {"radius": None}) == {"radius": 2, "fast": True}   # None: not given
    for bad, message in (({"radius": 2.5}, "not an int"), ({"radius": 0}, ">= 1"), ({"fast": "maybe"}, "true or false"),
                         ({"speed": 1}, "no such option")):
        with pytest.raises(ValueError, match=message):
            resolve_options(Blur(), bad)


def test_run_options_round_trip_through_json():
    opts = RunOptions(inputs=("a.tif", "b/"), outdir="out", transforms=("anscombe",), denoiser="diffusion",
                      denoiser_options={"method": "ddim", "steps": 3}, gain=2.0, seed=4)
    assert RunOptions.from_json(opts.to_json()) == opts
    with pytest.raises(Exception, match="unknown run option"):
        RunOptions.from_json({"inputs": [], "method": "ddim"})


def test_another_model_never_resumes_an_old_run(tmp_path, tiny_model, capsys):
    """The model's id (file name and content hash) is in the resume signature: the same file
    moved elsewhere resumes, another model file needs --overwrite."""
    import shutil

    _noisy(tmp_path / "x.npy")
    out = tmp_path / "out"
    common = [str(tmp_path / "x.npy"), "-o", str(out)]
    assert main(["run", *common, "--model", str(tiny_model)]) == 0
    (tmp_path / "elsewhere").mkdir()
    moved = tmp_path / "elsewhere" / tiny_model.name
    shutil.copy(tiny_model, moved)
    capsys.readouterr()
    assert main(["run", *common, "--model", str(moved)]) == 0               # same content: resumed
    assert "1 already complete" in capsys.readouterr().out
    other = tmp_path / "other.pt"
    assert main(["train", "skimage:text", "-o", str(other), "--init", str(tiny_model), "--steps", "0",
                 "--patch", "16", "--no-flow"]) == 0                         # the same weights, another file
    capsys.readouterr()
    assert main(["run", *common, "--model", str(other)]) == 2
    assert "holds a restoration made with other inputs or parameters" in capsys.readouterr().err
    assert main(["run", *common, "--model", str(other), "--overwrite"]) == 0
    assert _prov(out, "x")["identity"]["model_id"].startswith("other.pt@sha256:")
