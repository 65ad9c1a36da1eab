"""The GPU training path, run on the CPU: benchmarks/gpu_train.sh end to end with a tiny budget and
a small throughput plane (the trainer's budget options are tested in test_train.py). Nothing here
needs a GPU."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from restoration.diffusion.model import load_model

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_train.sh"
# A tiny run of the shipped architecture: one bundled image, 2 patches of 32 per step, one thread.
TINY = ["--data", "skimage:brick", "--batch", "2", "--patch", "32", "--threads", "1", "--size", "64", "--runs", "1"]


def _photos(folder: Path) -> Path:
    """Two small seeded 8-bit RGB 'photographs' as PNG files, like data/debian_photos.py writes."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128]
    for i in range(2):
        rgb = np.stack([np.sin(xx / (5 + i + c)) * np.cos(yy / 7) for c in range(3)], axis=-1)
        rgb = 127 + 100 * rgb + rng.normal(0, 2, rgb.shape)
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"photo{i}.png")
    return folder


def _run_script(spawn, out: Path, *args: str) -> str:
    proc = spawn.start(["bash", str(SCRIPT), str(out), *args], stdout=-1, stderr=-2, text=True,
                       env={**os.environ, "PYTHON": sys.executable})
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output
    return output


def _check_outputs(out: Path) -> dict:
    """The folder holds a loadable model of the shipped architecture, its loss log and the throughput."""
    model = load_model(out / "model.pt")
    assert list(model.config.widths) == [32, 64, 128, 256] and list(model.config.blocks) == [1, 1, 1, 2]
    log = (out / "model.pt.log.csv").read_text().splitlines()
    assert log[0] == "step,loss,lr,seconds" and len(log) >= 2
    assert all(np.isfinite(float(row.split(",")[1])) for row in log[1:])
    report = json.loads((out / "throughput.json").read_text())
    assert report["method"] == "mmse" and report["size"] == [64, 64] and report["best"]["mpx_s"] > 0
    # the timed path really restores: less error than the noisy plane
    assert all(row["rmse_restored"] < report["rmse_noisy"] for row in report["rows"])
    assert "Mpx/s" in (out / "throughput.md").read_text()
    return model.provenance


def test_script_fine_tunes_within_the_budget_and_measures_throughput(tmp_path, spawn):
    photos = _photos(tmp_path / "photos")
    out = tmp_path / "out"
    # The budget (2 s) ends during the first steps: a resumable stop well before --steps.
    output = _run_script(spawn, out, *TINY, "--photos", str(photos), "--steps", "400", "--max-seconds", "2",
                         "--", "--synthetic", "1")
    prov = _check_outputs(out)
    assert 1 <= prov["steps"] < 400 and "stopped at step" in output and "continue with --resume" in output
    assert prov["training_data"][0] == "skimage:brick"
    trained_photos = sorted(d for d in prov["training_data"] if d.startswith(str(photos)))
    assert trained_photos == [str(photos / f"photo{i}.png") for i in range(2)]
    assert prov["base"]["model_id"].startswith("default.pt@")   # fine-tuned from the shipped model
    cfg = prov["train_config"]
    assert (cfg["batch"], cfg["patch"], cfg["max_seconds"], cfg["fit_steps"]) == (2, 32, 2.0, True)
    assert (out / "model.pt.state").is_file() and "train [" in (out / "train.log").read_text()


def test_script_without_photographs_says_so_and_trains_on_skimage(tmp_path, spawn):
    out = tmp_path / "out"
    output = _run_script(spawn, out, *TINY, "--photos", str(tmp_path / "absent"), "--steps", "2",
                         "--", "--synthetic", "0")
    assert "NOTE: no photographs at" in output
    prov = _check_outputs(out)
    assert prov["steps"] == 2 and prov["training_data"] == ["skimage:brick"]
