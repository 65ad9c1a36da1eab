"""The output depends on the input and the parameters alone, not on how the work is split.

With the shipped model, on planes large enough for several bands (the region budget) and several
tiles per band: whole-plane, banded and Dask runs agree on every pixel, for mmse, ddim with
pixels to reconstruct, and posterior sampling with its seed (the calibrated std map too, which
pools the samples' variance over a window).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import zarr
from skimage import data

from restoration.store import item_array
from restoration_flows.cli import main


def _restored(out, name="p"):
    return item_array(zarr.open_group(str(out / "restored.zarr"), mode="r"), name)[:]


def _plane(height: int, width: int, holes: bool, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    clean = np.tile(data.camera() / 255.0, (4, 4))[:height, :width]
    noisy = (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32)
    if holes:
        noisy[rng.random(noisy.shape) < 0.002] = np.nan
    return noisy


def test_a_band_of_the_real_size_case_spans_several_tiles():
    import torch

    from restoration.diffusion.model import load_model
    from restoration.diffusion.tiling import TiledNetwork

    assert len(TiledNetwork(load_model(None), torch.device("cpu"))._windows(2048)) > 1


@pytest.mark.parametrize("height, width, holes, options, band_rows", [
    (768, 2048, False, [], 256),                                      # mmse: bands of 256 rows, 3 tiles across
    (1536, 128, True, [], 512),                                       # inpainting steps widen the context
    (512, 1024, False, ["--method", "posterior", "--steps", "2", "--samples", "2", "--seed", "5"], 128),
])
def test_banded_equals_whole_with_the_shipped_model(tmp_path, monkeypatch, height, width, holes, options, band_rows):
    from restoration.denoisers.diffusion import DiffusionDenoiser

    np.save(tmp_path / "p.npy", _plane(height, width, holes))
    monkeypatch.setenv("RESTORATION_CHUNK", str(band_rows))
    args = ["run", str(tmp_path / "p.npy"), *options]
    assert main([*args, "-o", str(tmp_path / "whole")]) == 0
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", str(band_rows * width))
    assert main([*args, "-o", str(tmp_path / "bands")]) == 0
    method = options[1] if options else "mmse"
    samples = 2 if "--samples" in options else 1
    margin = DiffusionDenoiser().context(method=method, steps=2, samples=samples, masked=holes)
    assert height // band_rows > 2
    assert margin % 8 and margin < height - band_rows   # the read starts off the grid unless aligned
    whole, bands = _restored(tmp_path / "whole"), _restored(tmp_path / "bands")
    assert np.isfinite(whole).all()
    assert np.abs(whole - bands).max() < 1e-4
    if samples > 1:
        whole, bands = _restored(tmp_path / "whole", "p_std"), _restored(tmp_path / "bands", "p_std")
        assert np.isfinite(whole).all() and whole.min() > 0
        assert np.abs(whole - bands).max() < 1e-5


def test_dask_bands_equal_local_whole_with_the_shipped_model(tmp_path, monkeypatch):
    """A 2-worker cluster spreads one plane over bands: the same pixels as one local pass."""
    from restoration.pipeline.stages import SPREAD_MIN_PIXELS, SPREAD_REGIONS
    from restoration.planning import plane_regions

    shape = (1280, 2048)  # over SPREAD_MIN_PIXELS, so the cluster spreads it over bands
    np.save(tmp_path / "p.npy", _plane(*shape, False))
    monkeypatch.setenv("RESTORATION_CHUNK", "256")
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", str(1 << 22))      # local: the whole plane at once
    assert len(plane_regions("yx", shape, 1 << 22, 256)) == 1
    assert len(plane_regions("yx", shape, max(SPREAD_MIN_PIXELS, shape[0] * shape[1] // SPREAD_REGIONS), 256)) > 1
    assert main(["run", str(tmp_path / "p.npy"), "-o", str(tmp_path / "whole")]) == 0
    before = dict(os.environ)
    assert main(["run", str(tmp_path / "p.npy"), "-o", str(tmp_path / "dask"), "--dask-workers", "2"]) == 0
    assert dict(os.environ) == before  # the workers' environment stays theirs (a later serve run crashed)
    assert np.abs(_restored(tmp_path / "whole") - _restored(tmp_path / "dask")).max() < 1e-4


def test_tile_size_does_not_change_the_result():
    """The shipped model on a plane of several tiles: tile sizes 256 (batches of 3) and 768 give
    the same pixels. (Region order: the Dask test's workers take the bands in any order.)"""
    import torch

    from restoration.diffusion.model import load_model
    from restoration.diffusion.sampler import NoiseField, restore
    from restoration.diffusion.tiling import TiledNetwork

    model = load_model(None)
    y = torch.from_numpy(2 * np.nan_to_num(_plane(1024, 1024, False)) - 1)[None, None]
    with torch.inference_mode():
        small = restore(TiledNetwork(model, torch.device("cpu"), tile=256, batch=3), y, np.array([0.2]), noise=NoiseField(0))
        large = restore(TiledNetwork(model, torch.device("cpu"), tile=768), y, np.array([0.2]), noise=NoiseField(0))
    assert len(TiledNetwork(model, torch.device("cpu"), tile=256)._windows(1024)) == 4
    assert float((small.mean - large.mean).abs().max()) < 1e-4
