"""The training campaign: time-boxed, resumable training that each session continues in the background.

Usage (from the repository root; every session, at its start)::

    nice -n 19 .venv/bin/python campaign/run.py --hours 2.5 --threads 2 &

What it does:

1. Builds the pictures when ``train/pictures`` is missing (``data/debian_pictures.py``).
2. Continues training from ``runs/campaign/model.pt.state`` when this machine still has it (bit for
   bit), else from the committed ``campaign/checkpoint.pt`` (the EMA weights the last session
   left; a fresh optimizer), else from the shipped ``restoration/models/default.pt``.
3. Trains in chunks of ``--chunk-minutes``; after each chunk it measures the validation set
   (grayscale crops, Gaussian sigma 15 / 25 / 50, mmse, against BM3D computed once and cached) and
   appends a row to ``campaign/curve.csv`` (the learning curve across sessions).
4. Writes the EMA weights to ``campaign/checkpoint.pt`` after every chunk, for the session to
   commit: the repository carries one 15 MB file, not the optimizer state.

The schedule: a constant learning rate after the warm-up (a cosine over ``STEPS``, far longer than
any campaign, so it stays within 1 % of the peak): the campaign's length is not known in advance.
A model is shipped only when the frozen test set says it is better
(``benchmarks/denoise_quality.py --set test --model campaign/checkpoint.pt``).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from denoise_quality import diffusion, load_images, psnr  # noqa: E402

from restoration.diffusion.data import to_gray  # noqa: E402
from restoration.diffusion.train import TrainConfig, train  # noqa: E402

PICTURES = ROOT / "train" / "pictures"
STATE = ROOT / "runs" / "campaign"
CHECKPOINT = ROOT / "campaign" / "checkpoint.pt"
CURVE = ROOT / "campaign" / "curve.csv"
LEVELS = (15, 25, 50)
STEPS = 400_000


def config(init: str, threads: int, max_seconds: float) -> TrainConfig:
    """The campaign's training run: every source, 96x96 patches, constant learning rate."""
    return TrainConfig(sources=["skimage", str(PICTURES / "train")], output=str(STATE / "model.pt"),
                       steps=STEPS, patch=96, batch=12, lr=2e-4, warmup=200, seed=4, synthetic=64, text=64,
                       checkpoint_every=100, init=init, threads=threads, max_seconds=max_seconds)


def validation_images() -> dict[str, np.ndarray]:
    """The validation crops as grayscale float64 (colour crops by their luminance)."""
    images, _ = load_images("validation", PICTURES)
    return {k: to_gray(v.astype(np.float32)).astype(np.float64) if v.ndim == 3 else v for k, v in images.items()}


def anchor_scores(images: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """BM3D's PSNR on every validation crop and level (computed once, cached in ``runs/``)."""
    cache = STATE / "bm3d_validation.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    import bm3d

    scores = {}
    for lv in LEVELS:
        scores[str(lv)] = [psnr(bm3d.bm3d(noisy, lv / 255), clean) for noisy, clean in _noisy(images, lv)]
    cache.write_text(json.dumps(scores))
    return scores


def _noisy(images: dict[str, np.ndarray], lv: int):
    for i, clean in enumerate(images.values()):
        yield clean + np.random.default_rng(1000 * lv + i).normal(0, lv / 255, clean.shape), clean


def evaluate(model: str, images: dict[str, np.ndarray], anchor: dict[str, list[float]]) -> dict[str, float]:
    """Mean PSNR, mean difference to BM3D and the worst decile of it, per level."""
    run = diffusion(model)
    row = {}
    for lv in LEVELS:
        ours = [psnr(run(noisy, lv / 255, seed=i), clean) for i, (noisy, clean) in enumerate(_noisy(images, lv))]
        d = np.array(ours) - np.array(anchor[str(lv)])
        row.update({f"psnr_{lv}": round(float(np.mean(ours)), 3), f"vs_bm3d_{lv}": round(float(d.mean()), 3),
                    f"p10_vs_bm3d_{lv}": round(float(np.percentile(d, 10)), 3)})
    return row


def previous_steps() -> int:
    """Steps the campaign had taken before this machine's state (from the committed curve)."""
    if not CURVE.is_file():
        return 0
    with CURVE.open() as f:
        rows = list(csv.DictReader(f))
    return int(rows[-1]["total_steps"]) if rows else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, required=True, help="wall-clock budget of this session's campaign")
    p.add_argument("--chunk-minutes", type=float, default=30)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    deadline = time.monotonic() + args.hours * 3600
    if not (PICTURES / "manifest.csv").is_file():
        subprocess.run([sys.executable, str(ROOT / "data" / "debian_pictures.py"), "-o", str(PICTURES)], check=True)
    STATE.mkdir(parents=True, exist_ok=True)
    resumed = (STATE / "model.pt.state").is_file()
    # Steps counted before this machine's state began: the committed curve's total when starting
    # from the committed checkpoint; the state's own count continues otherwise.
    base_steps = json.loads((STATE / "base.json").read_text())["steps"] if resumed else previous_steps()
    init = str(CHECKPOINT if CHECKPOINT.is_file() else ROOT / "restoration" / "models" / "default.pt")
    if not resumed:
        (STATE / "base.json").write_text(json.dumps({"steps": base_steps, "init": init}))
    images = validation_images()
    anchor = anchor_scores(images)
    if not CURVE.is_file():   # the starting point, measured once
        _append({"date": time.strftime("%Y-%m-%d %H:%M"), "total_steps": 0, "steps_since_init": 0,
                 "train_seconds": 0, "model": "restoration/models/default.pt",
                 **evaluate(init, images, anchor)})
    while (left := deadline - time.monotonic()) > 300:
        prov = train(config(init, args.threads, min(args.chunk_minutes * 60, left - 240)), resume=True)
        shutil.copyfile(STATE / "model.pt", CHECKPOINT)
        _append({"date": time.strftime("%Y-%m-%d %H:%M"), "total_steps": base_steps + prov["steps"],
                 "steps_since_init": prov["steps"], "train_seconds": prov["seconds"], "model": "campaign/checkpoint.pt",
                 **evaluate(str(CHECKPOINT), images, anchor)})
    return 0


def _append(row: dict) -> None:
    new = not CURVE.is_file()
    with CURVE.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    print(", ".join(f"{k} {v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
