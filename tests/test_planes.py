"""``planes="yx,zx,zy"``: a z-stack restored as yx, zx and zy planes with one 2-D plan, averaged.

The in-memory API equals the benchmark's transposed-average formula; ``restoration run`` equals
the API however the work is split (bands, slabs, a Dask cluster) and resumes bit for bit; items
that cannot take it are refused in one line before any work.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr
from numpy.testing import assert_allclose, assert_array_equal
from test_hostile_cli import one_error

import restoration
from restoration import pipeline
from restoration.errors import InputError
from restoration.options import RunOptions, denoiser_settings
from restoration.pipeline import stages
from restoration.planning import plan_array, plane_regions
from restoration.planes import slab_regions
from restoration.plugins import registry
from restoration.restore import restore_plane
from restoration.store import item_array, item_provenance, open_store, std_array
from restoration.store.layout import WORK
from restoration.store.progress import progress_done
from restoration_flows.cli import main

TRI = "yx,zx,zy"
NLM = ["--denoiser", "nlm"]


def _stack(shape=(8, 40, 48), seed=0) -> np.ndarray:
    """A smooth z-stack with Gaussian noise of std 0.1 (float32)."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.mgrid[tuple(slice(0, n) for n in shape[-3:])]
    clean = 0.5 + 0.3 * np.sin(yy / 5 + zz / 3) * np.cos(xx / 7)
    clean = np.broadcast_to(clean, shape)
    return (clean + rng.normal(0, 0.1, shape)).astype(np.float32)


def _formula(volume: np.ndarray, axes: str, seed: int, denoiser: str, std: bool = False, **options) -> np.ndarray:
    """The benchmark's tri-planar formula, with the plan the API makes (once, from the yx planes):
    per z-volume ``(yx + zx.transpose(1, 0, 2) + zy.transpose(1, 2, 0)) / 3``, each orientation
    restored plane by plane with its documented seeds (of the denoiser's std maps with ``std``)."""
    reg = registry()
    _, resolved = denoiser_settings(RunOptions(denoiser=denoiser, denoiser_options=options), reg)
    _, plan = plan_array(volume, axes, reg, denoiser=denoiser, options=resolved)

    def planes(stack: np.ndarray, seeds) -> np.ndarray:  # stack[i] is a plane
        return np.stack([restore_plane(p, plan, reg, np.random.default_rng(seeds(i)))[int(std)]
                         for i, p in enumerate(stack)]).astype(np.float32)

    vols = volume.reshape((-1,) + volume.shape[-3:])   # the z-volumes of a zyx or tzyx array
    nz, ny, nx = vols.shape[1:]
    out = []
    for v, vol in enumerate(vols):
        yx = planes(vol, lambda i: [seed, v * nz + i])
        zx = planes(vol.transpose(1, 0, 2), lambda y: [seed, 1, v * ny + y])   # (y, z, x)
        zy = planes(vol.transpose(2, 0, 1), lambda x: [seed, 2, v * nx + x])   # (x, z, y)
        out.append((yx + zx.transpose(1, 0, 2) + zy.transpose(1, 2, 0)) / 3)
    return np.stack(out).reshape(volume.shape)


# ---------------------------------------------------------------------------------------------
# The in-memory API.

@pytest.mark.parametrize("shape, axes", [((8, 40, 48), "zyx"), ((2, 5, 24, 32), "tzyx")])
def test_api_equals_the_transposed_average(shape, axes):
    volume = _stack(shape)
    done = []
    tri = restoration.denoise(volume, axes=axes, denoiser="nlm", planes=TRI, seed=4,
                              progress=lambda i, n: done.append((i, n)))
    expected = _formula(volume, axes, 4, "nlm")
    assert tri.dtype == np.float32 and tri.shape == volume.shape
    assert_allclose(tri, expected, rtol=1e-6, atol=1e-7)
    yx = restoration.denoise(volume, axes=axes, denoiser="nlm", seed=4)
    assert np.abs(tri - yx).max() > 1e-3                       # the zx and zy planes changed it
    nz, ny, nx = shape[-3:]
    total = (len(volume.reshape(-1, nz, ny, nx))) * (nz + ny + nx)   # each z-volume on its own
    assert done[-1] == (total, total) and len(done) == total


@pytest.fixture
def one_torch_thread():
    """torch on one thread: on shared cores its idle threads spin against other work (many tiny
    planes here, each a few network calls, run 20 times slower on two contended threads)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_the_shipped_model_and_its_seeds(one_torch_thread, tmp_path, monkeypatch):
    """The real model path, sampling: every plane draws from its documented generator, in the API
    and in a run split into bands and slabs."""
    volume = _stack((3, 16, 24), seed=1)
    options = {"method": "posterior", "steps": 2}
    tri = restoration.denoise(volume, axes="zyx", planes=TRI, seed=7, **options)
    assert_allclose(tri, _formula(volume, "zyx", 7, "diffusion", **options), rtol=1e-6, atol=1e-6)
    other = restoration.denoise(volume, axes="zyx", planes=TRI, seed=8, **options)
    assert np.abs(tri - other).max() > 1e-3                    # so the seeds are what made them equal
    np.save(tmp_path / "v.npy", volume)
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", "200")   # yx planes in 2 bands, 8 zx and 6 zy slabs
    monkeypatch.setenv("RESTORATION_CHUNK", "8")
    assert [len(slab_regions("zyx", volume.shape, o, 200, 8)) for o in ("zx", "zy")] == [8, 6]
    assert pipeline.restore_locally(RunOptions(inputs=(str(tmp_path / "v.npy"),), outdir=str(tmp_path / "out"),
                                               planes=TRI, seed=7, denoiser_options=options))["ok"] == 1
    assert np.abs(_restored(tmp_path / "out") - tri).max() < 1e-4   # bands: the same up to float rounding


def test_the_std_is_the_mean_of_the_orientations(one_torch_thread, tmp_path):
    volume = _stack((3, 8, 16), seed=2)
    options = {"method": "posterior", "steps": 2, "samples": 2}
    mean, std = restoration.denoise(volume, planes=TRI, return_std=True, **options)
    assert_allclose(std, _formula(volume, "zyx", 0, "diffusion", std=True, **options), rtol=1e-6, atol=1e-6)
    assert std.dtype == np.float32 and (std > 0).all()
    np.save(tmp_path / "v.npy", volume)
    assert pipeline.restore_locally(RunOptions(inputs=(str(tmp_path / "v.npy"),), outdir=str(tmp_path / "out"),
                                               planes=TRI, denoiser_options=options))["ok"] == 1
    store = open_store(tmp_path / "out", mode="r")
    assert_array_equal(item_array(store, "v")[...], mean)
    assert_array_equal(std_array(store, "v")[...], std)


def test_yx_is_the_default_bit_for_bit(tmp_path):
    volume = _stack((4, 24, 32))
    plain = restoration.denoise(volume, denoiser="nlm", seed=3)
    assert_array_equal(restoration.denoise(volume, denoiser="nlm", seed=3, planes="yx"), plain)
    counts = (np.round(volume * 200)).astype(np.uint16)
    assert_array_equal(restoration.denoise(counts, denoiser="nlm", planes="yx", output_dtype="input"),
                       restoration.denoise(counts, denoiser="nlm", output_dtype="input"))
    # The resume signature of a yx run is the one runs made before the option existed.
    common = {"inputs": (str(tmp_path / "a.npy"),), "outdir": str(tmp_path / "out"), "denoiser": "nlm"}
    yx, tri = (pipeline.check_options(RunOptions(**common, planes=p)) for p in ("yx", TRI))
    assert "planes" not in yx.signature() and tri.signature()["planes"] == TRI and yx.key() != tri.key()


def test_integer_data_is_rounded_once_after_the_average():
    counts = np.round(_stack((4, 24, 32)) * 200).astype(np.uint16)
    as_float = restoration.denoise(counts, denoiser="nlm", planes=TRI)
    kept = restoration.denoise(counts, denoiser="nlm", planes=TRI, output_dtype="input")
    assert as_float.dtype == np.float32 and kept.dtype == np.uint16
    # rounded from the average (float32 here; a tie may round the other way), not each orientation
    tie = np.abs(as_float % 1 - 0.5) < 1e-4
    assert np.all((kept == np.rint(as_float)) | tie) and (np.abs(kept - as_float) <= 0.5 + 1e-4).all()


@pytest.mark.parametrize("shape, axes, needle", [
    ((32, 32), "yx", "needs a z-stack"),
    ((32, 32, 3), "yxc", "needs a z-stack"),            # colour channels are not z
    ((5, 32, 32), "tyx", "needs a z-stack"),            # a time series is not a z-stack
    ((1, 32, 32), "zyx", "needs a z-stack"),
])
def test_api_refuses_data_without_a_z_axis(shape, axes, needle):
    with pytest.raises(InputError, match=needle):
        restoration.denoise(np.zeros(shape, np.float32), axes=axes, denoiser="nlm", planes=TRI)
    with pytest.raises(InputError, match="--planes must be one of yx, yx,zx,zy"):
        restoration.denoise(np.zeros((4, 8, 8), np.float32), denoiser="nlm", planes="zx")


# ---------------------------------------------------------------------------------------------
# The file pipeline.

def _restored(out, name="v") -> np.ndarray:
    return item_array(open_store(out, mode="r"), name)[...]


def _ome_tiff(path, data, z=0.5, xy=0.5):
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZYX", "PhysicalSizeZ": z, "PhysicalSizeX": xy,
                                                     "PhysicalSizeY": xy})


def test_run_equals_the_api_whole_and_split(tmp_path, monkeypatch):
    volume = _stack()
    _ome_tiff(tmp_path / "v.ome.tif", volume, z=0.6, xy=0.5)      # near-isotropic: accepted
    api = restoration.denoise(volume, denoiser="nlm", planes=TRI, seed=2)
    args = ["run", str(tmp_path / "v.ome.tif"), *NLM, "--seed", "2", "--planes", TRI]
    assert main([*args, "-o", str(tmp_path / "whole")]) == 0
    assert_array_equal(_restored(tmp_path / "whole"), api)
    prov = item_provenance(open_store(tmp_path / "whole", mode="r"), "v")
    assert prov["planes"] == TRI and prov["complete"] is True and "[seed, 1, v * ny + y]" in prov["seeds"]
    assert not (tmp_path / "whole" / WORK).exists()               # the orientations' arrays are gone
    # Bands of yx planes, several slabs of zx and zy planes, averaging blocks of several chunks.
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", "1000")
    monkeypatch.setenv("RESTORATION_CHUNK", "8")
    assert len(plane_regions("zyx", volume.shape, 1000, 8)) == 8 * 3
    assert len(slab_regions("zyx", volume.shape, "zx", 1000, 8)) == 20       # 2 y rows of 8 x 48
    assert len(slab_regions("zyx", volume.shape, "zy", 1000, 8)) == 16       # 3 x columns of 8 x 40
    assert main([*args, "-o", str(tmp_path / "split")]) == 0
    split = item_array(open_store(tmp_path / "split", mode="r"), "v")
    assert split.chunks == (1, 8, 8)
    assert_allclose(split[...], api, rtol=1e-6, atol=1e-7)


def test_dask_workers_on_a_zarr_time_series_equal_the_api(tmp_path):
    """Batches on 2 worker processes, a ``tzyx`` zarr array: each z-volume on its own."""
    volume = _stack((2, 4, 16, 24), seed=5)
    zarr.create_array(str(tmp_path / "s.zarr"), data=volume, dimension_names=("t", "z", "y", "x"))
    api = restoration.denoise(volume, axes="tzyx", denoiser="nlm", planes=TRI, seed=3)
    assert main(["run", str(tmp_path / "s.zarr"), "-o", str(tmp_path / "dask"), *NLM, "--planes", TRI, "--seed", "3",
                 "--dask-workers", "2"]) == 0
    assert_array_equal(_restored(tmp_path / "dask", "s"), api)


def test_a_killed_run_resumes_bit_for_bit(tmp_path, monkeypatch):
    """Killed after some regions (done in reverse order), then again while averaging: the rerun
    restores only what is left and gives the uninterrupted run's output."""
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", "1000")
    monkeypatch.setenv("RESTORATION_CHUNK", "8")
    np.save(tmp_path / "v.npy", _stack())
    options = RunOptions(inputs=(str(tmp_path / "v.npy"),), outdir=str(tmp_path / "out"), denoiser="nlm",
                         planes=TRI, seed=1)
    assert pipeline.restore_locally(options.replace(outdir=str(tmp_path / "ref")))["ok"] == 1

    run = pipeline.validate(options)
    (entry,), _ = pipeline.prepare(run)
    ing = pipeline.ingest(run, entry)
    norm, noise = pipeline.normalize(run, ing), pipeline.characterize(run, ing)
    info = pipeline.plan_denoise(run, ing, norm, noise)
    todo = [r for batch in info.batches for r in batch]
    assert len(info.regions) == 24 and len(info.slabs) == 36 and len(todo) == 60
    first = todo[::-1][:45]                                   # the zy and zx slabs, then some yx bands
    pipeline.denoise_planes(run, ing, info, first)
    assert progress_done(tmp_path / "out", "v") == set(first)
    assert item_provenance(open_store(tmp_path / "out", mode="r"), "v")["complete"] is False

    restored_now = []
    real = stages.denoise_planes
    monkeypatch.setattr(stages, "denoise_planes", lambda run, ing, info, batch, progress=None:
                        restored_now.append(sorted(batch)) or real(run, ing, info, batch, progress))
    calls = []
    real_average = stages.average_parts

    def killed_while_averaging(parts, dtype):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real_average(parts, dtype)

    monkeypatch.setattr(stages, "average_parts", killed_while_averaging)
    with pytest.raises(KeyboardInterrupt):
        pipeline.restore_locally(options)
    assert restored_now == [sorted(set(todo) - set(first))]
    assert item_provenance(open_store(tmp_path / "out", mode="r"), "v")["complete"] is False

    monkeypatch.setattr(stages, "average_parts", real_average)
    assert pipeline.restore_locally(options)["ok"] == 1
    assert restored_now[1:] == [[]]                           # every region was written already
    assert item_provenance(open_store(tmp_path / "out", mode="r"), "v")["complete"] is True
    assert_array_equal(_restored(tmp_path / "out"), _restored(tmp_path / "ref"))


def test_run_refuses_what_cannot_take_it(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "flat.npy", _stack((1, 32, 32))[0])
    one_error(capsys, ["run", str(tmp_path / "flat.npy"), "-o", str(tmp_path / "a"), *NLM, "--planes", TRI],
              "flat.npy", "--planes yx,zx,zy needs a z-stack")
    _ome_tiff(tmp_path / "aniso.ome.tif", _stack((6, 32, 32)), z=2.0, xy=0.4)
    one_error(capsys, ["run", str(tmp_path / "aniso.ome.tif"), "-o", str(tmp_path / "b"), *NLM, "--planes", TRI],
              "aniso.ome.tif", "near-isotropic", "5 times the")
    np.save(tmp_path / "wide.npy", _stack((8, 16, 400)))
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", "3000")
    one_error(capsys, ["run", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "c"), *NLM, "--planes", TRI],
              "wide.npy", "a zx plane holds 3200 values", "RESTORATION_REGION_PIXELS")
    one_error(capsys, ["run", str(tmp_path / "wide.npy"), "-o", str(tmp_path / "d"), *NLM, "--planes", "zx"],
              "--planes", "invalid choice")
    assert not any((tmp_path / d).exists() for d in "abcd")    # refused before any work
    # Without the option the same files are restored.
    assert main(["run", str(tmp_path / "aniso.ome.tif"), "-o", str(tmp_path / "e"), *NLM]) == 0
