"""`restoration run` end to end (in-process CLI, the real Prefect flow on the temporary API)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

from restoration.store import item_array, item_provenance
from restoration_flows.cli import main

DATA = Path(__file__).resolve().parents[2] / "data"


def _gauss_image(path: Path, sigma=25 / 255, seed=0, size=128):
    from skimage import data

    clean = (data.camera()[100:100 + size, 150:150 + size] / 255.0).astype(np.float32)
    noisy = clean + np.random.default_rng(seed).normal(0, sigma, clean.shape).astype(np.float32)
    np.save(path, noisy)
    return clean, noisy


def _psnr(a, b):
    return 10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2))


def _restored(outdir: Path, name: str):
    """Level 0 of item ``name`` (an OME-Zarr image group), in the item's axis order."""
    return item_array(zarr.open_group(str(outdir / "restored.zarr"), mode="r"), name)


def _prov(outdir: Path, name: str) -> dict:
    return item_provenance(zarr.open_group(str(outdir / "restored.zarr"), mode="r"), name)


def test_nlm_gains_6db_and_output_layout(tmp_path, capsys):
    clean, noisy = _gauss_image(tmp_path / "x.npy", size=192)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "x.npy"), "-o", str(out), "--sigma", "0.098", "--denoiser", "nlm"]) == 0
    arr = _restored(out, "x")
    restored = arr[:]
    assert restored.shape == noisy.shape and restored.dtype == np.float32
    assert _psnr(restored, clean) - _psnr(noisy, clean) >= 6.0
    assert list(arr.metadata.dimension_names) == ["y", "x"]
    prov = _prov(out, "x")
    assert prov["complete"] is True and prov["denoiser"] == "nlm" and prov["seed"] == 0
    assert prov["fingerprint"].startswith("sha256:") and prov["noise"][0]["params"]["sigma"] == pytest.approx(0.098)
    assert prov["transforms"][0]["name"] == "percentile"
    noise = pd.read_csv(out / "noise.csv")
    assert list(noise.columns[:6]) == ["name", "channel", "noise", "score", "clipped_fraction", "missing_fraction"]
    assert noise.loc[0, "noise"] == "gaussian" and noise.loc[0, "sigma"] == pytest.approx(0.098)
    quality = pd.read_csv(out / "quality.csv")
    assert list(quality.columns) == ["name", "status", "noise", "denoiser", "options", "psnr", "ssim",
                                     "residual_sigma", "seconds", "error", "warning"]
    assert quality.loc[0, "status"] == "ok" and quality.loc[0, "residual_sigma"] < 0.05
    assert (out / "report.html").stat().st_size > 10_000
    assert not (out / ".work").exists()
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err and "ERROR" not in printed.err


def test_python_api_matches_cli(tmp_path):
    import restoration

    _, noisy = _gauss_image(tmp_path / "y.npy", seed=3)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "y.npy"), "-o", str(out), "--sigma", "0.098", "--denoiser", "nlm", "--seed", "4"]) == 0
    api = restoration.denoise(noisy, sigma=0.098, denoiser="nlm", seed=4)
    assert np.array_equal(api, _restored(out, "y")[:])


@pytest.mark.parametrize("method", ["mmse", "ddim", "posterior"])
def test_each_method_through_run(tmp_path, tiny_model, method):
    clean, noisy = _gauss_image(tmp_path / "z.npy", sigma=0.1, seed=5, size=96)
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "z.npy"), "-o", str(out), "--model", str(tiny_model), "--method", method, "--steps", "3"]
    assert main(args) == 0
    restored = _restored(out, "z")[:]
    assert _psnr(restored, clean) > _psnr(noisy, clean) + (2 if method != "posterior" else 0.5)
    prov = _prov(out, "z")
    assert prov["options"]["method"] == method and prov["options"]["steps"] == 3 and prov["options"]["samples"] == 1
    assert prov["identity"]["model_id"].startswith("tiny")


def test_samples_write_std(tmp_path, tiny_model):
    _gauss_image(tmp_path / "s.npy", sigma=0.1, seed=6, size=64)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "s.npy"), "-o", str(out), "--model", str(tiny_model), "--samples", "3",
                 "--method", "posterior", "--steps", "4"]) == 0
    std = _restored(out, "s_std")
    assert std.shape == (64, 64) and _prov(out, "s_std")["complete"] is True
    assert 0 < float(np.mean(std[:])) < 0.2


def test_resume_skips_and_mismatch_needs_overwrite(tmp_path, capsys):
    _gauss_image(tmp_path / "r.npy", seed=7)
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "r.npy"), "-o", str(out), "--sigma", "0.098", "--denoiser", "nlm"]
    assert main(args) == 0
    zjson = out / "restored.zarr" / "r" / "zarr.json"
    stamp = zjson.stat().st_mtime_ns
    assert main(args) == 0
    assert zjson.stat().st_mtime_ns == stamp  # complete item skipped, not rewritten
    capsys.readouterr()
    assert main(args[:-2] + ["--denoiser", "diffusion"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and "--overwrite" in err[0]
    assert main(args[:-1] + ["nlm", "--seed", "1", "--overwrite"]) == 0
    assert zjson.stat().st_mtime_ns != stamp


def test_partial_failure_restores_the_others(tmp_path, capsys):
    _gauss_image(tmp_path / "good.npy", seed=8)
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    out = tmp_path / "out"
    code = main(["run", str(tmp_path / "good.npy"), str(tmp_path / "bad.npy"), "-o", str(out), "--denoiser", "nlm"])
    assert code == 2
    quality = pd.read_csv(out / "quality.csv").set_index("name")
    assert quality.loc["good", "status"] == "ok" and quality.loc["bad", "status"] == "failed"
    assert "bad.npy" in quality.loc["bad", "error"]
    assert _prov(out, "good")["complete"] is True
    assert "bad" in (out / "report.html").read_text()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "bad.npy" in err


@pytest.mark.parametrize("args, needle", [
    (["missing.npy"], "missing.npy"),
    (["image.bmp"], "image.bmp"),
    (["ok.npy", "--noise", "bogus"], "gaussian"),
    (["ok.npy", "--transform", "bogus"], "percentile"),
    (["ok.npy", "--denoiser", "bogus"], "nlm"),
    (["ok.npy", "--method", "bogus"], "mmse"),
    (["ok.npy", "--model", "nomodel.pt"], "nomodel.pt"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, needle):
    _gauss_image(tmp_path / "ok.npy", size=32)
    (tmp_path / "image.bmp").write_bytes(b"BM")
    argv = ["run"] + [str(tmp_path / a) if a.endswith((".npy", ".bmp", ".pt")) else a for a in args] + ["-o", str(tmp_path / "o")]
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    if args[0] in ("missing.npy", "image.bmp"):  # a run whose only item fails
        assert code == 2 and any(needle in line for line in err)
    else:
        assert code == 2 and len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_locked_outdir_exits_2(tmp_path, capsys):
    from restoration.store.locks import RunLock

    _gauss_image(tmp_path / "l.npy", size=32)
    with RunLock(tmp_path / "out"):
        code = main(["run", str(tmp_path / "l.npy"), "-o", str(tmp_path / "out"), "--denoiser", "nlm"])
    assert code == 2 and "locked" in capsys.readouterr().err


def test_input_is_never_modified(tmp_path):
    import hashlib

    src = tmp_path / "in"
    shutil.copytree(DATA / "noisy", src)
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.rglob("*") if p.is_file()}
    assert main(["run", str(src / "camera_saltpepper.png"), str(src / "stack.zarr"), "-o", str(tmp_path / "out"),
                 "--denoiser", "nlm"]) == 0
    after = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in src.rglob("*") if p.is_file()}
    assert before == after


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_characterize_formats(capsys, fmt):
    assert main(["characterize", str(DATA / "noisy" / "camera_gaussian.npy"), str(DATA / "noisy" / "coins_poisson.tif"),
                 "--format", fmt]) == 0
    out = capsys.readouterr().out
    if fmt == "json":
        rows = {r["name"]: r for r in json.loads(out)}
        assert rows["camera_gaussian"]["noise"] == "gaussian" and abs(rows["camera_gaussian"]["sigma"] - 25 / 255) < 0.005
        assert rows["coins_poisson"]["noise"] in ("poisson", "poisson-gaussian")
        assert abs(rows["coins_poisson"]["gain"] / 126 - 1) < 0.2  # worst case in benchmarks/results: +20 %
    elif fmt == "csv":
        assert out.splitlines()[0].startswith("name,channel,noise,score,clipped_fraction,missing_fraction")
        assert len(out.strip().splitlines()) == 3
    else:
        assert "camera_gaussian" in out and "gaussian" in out


def test_nan_pixels_are_missing_and_reconstructed(tmp_path, tiny_model):
    clean, noisy = _gauss_image(tmp_path / "n.npy", sigma=0.05, seed=9, size=64)
    noisy[10:14, 20:30] = np.nan
    noisy[40, 40] = np.inf
    np.save(tmp_path / "n.npy", noisy)
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "n.npy"), "-o", str(out), "--model", str(tiny_model)]) == 0
    restored = _restored(out, "n")[:]
    assert np.isfinite(restored).all()
    hole = np.abs(restored[10:14, 20:30] - clean[10:14, 20:30]).mean()
    assert hole < np.abs(np.nanmean(noisy[np.isfinite(noisy)]) - clean[10:14, 20:30]).mean()  # beats a mean fill
    noise = pd.read_csv(out / "noise.csv")
    assert noise.loc[0, "missing_fraction"] == pytest.approx(41 / 64**2)


def test_large_planes_are_restored_in_bands(tmp_path, tiny_model, monkeypatch):
    """A plane over the region budget is restored in chunk-aligned bands with context margins:
    deterministic methods give the whole-plane result, and the bands really were used."""
    from skimage import data

    from restoration.denoisers.diffusion import DiffusionDenoiser
    from restoration.planning import plane_regions

    clean = (data.camera()[:, 200:264] / 255.0).astype(np.float32)  # 512 x 64: tall
    np.save(tmp_path / "big.npy", clean + np.random.default_rng(10).normal(0, 0.1, clean.shape).astype(np.float32))
    common = [str(tmp_path / "big.npy"), "--model", str(tiny_model), "--method", "ddim", "--steps", "2"]
    monkeypatch.setenv("RESTORATION_CHUNK", "64")
    assert main(["run", *common, "-o", str(tmp_path / "whole")]) == 0
    monkeypatch.setenv("RESTORATION_REGION_PIXELS", str(64 * 64))  # bands of 64 rows
    assert plane_regions("yx", (512, 64), 64 * 64, 64) == [(0, y, y + 64) for y in range(0, 512, 64)]
    margin = DiffusionDenoiser().context(method="ddim", steps=2, model=str(tiny_model), masked=False)
    assert 0 < margin < 200  # so a band reads well under the whole plane
    assert main(["run", *common, "-o", str(tmp_path / "bands")]) == 0
    whole, bands = _restored(tmp_path / "whole", "big"), _restored(tmp_path / "bands", "big")
    assert bands.chunks == (64, 64)
    assert np.abs(whole[:] - bands[:]).max() < 1e-4
