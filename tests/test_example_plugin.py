"""The example plugin distribution (plugins/restoration-uniform), installed for real by `make test`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from skimage import data

import restoration
from restoration.plugins import registry


def _uniform_image(seed=0, amplitude=0.15):
    clean = data.camera()[100:228, 100:228] / 255.0
    return clean, clean + np.random.default_rng(seed).uniform(-amplitude, amplitude, clean.shape)


def test_installed_and_listed():
    reg = registry()
    assert "uniform" in reg.noise_models
    assert reg.sources[("noise", "uniform")].distribution == "restoration-uniform"
    out = subprocess.run([str(Path(sys.executable).parent / "restoration"), "plugins"], capture_output=True,
                         text=True, timeout=120).stdout
    assert "uniform            restoration-uniform 0.1.0" in out


@pytest.mark.parametrize("seed", [0, 1])
def test_auto_selected_on_its_own_data(seed):
    _, noisy = _uniform_image(seed)
    row = restoration.characterize(noisy).iloc[0]
    assert row["noise"] == "uniform"
    assert row["amplitude"] == pytest.approx(0.15, rel=0.1)
    # and not picked for Gaussian data
    clean, _ = _uniform_image(seed)
    gauss = clean + np.random.default_rng(seed).normal(0, 0.15 / np.sqrt(3), clean.shape)
    assert restoration.characterize(gauss).iloc[0]["noise"] == "gaussian"


def test_the_plugins_own_tests_pass():
    """Its tests call restoration.testing, as a plugin author's would; run them as its author does."""
    plugin = Path(__file__).resolve().parent.parent / "plugins" / "restoration-uniform"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=plugin,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "4 passed" in r.stdout


def test_used_end_to_end_by_run(tmp_path):
    from restoration_flows.cli import main

    clean, noisy = _uniform_image(3)
    np.save(tmp_path / "u.npy", noisy.astype(np.float32))
    assert main(["run", str(tmp_path / "u.npy"), "-o", str(tmp_path / "out"), "--denoiser", "nlm"]) == 0
    from restoration.store import item_array, item_provenance

    store = zarr.open_group(str(tmp_path / "out" / "restored.zarr"), mode="r")
    arr = item_array(store, "u")
    assert item_provenance(store, "u")["noise"][0]["noise"] == "uniform"
    err_in = np.mean((noisy - clean) ** 2)
    err_out = np.mean((arr[:] - clean) ** 2)
    assert 10 * np.log10(err_in / err_out) > 5
