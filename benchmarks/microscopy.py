"""Microscopy benchmark (issue 12): synthetic fluorescence images with camera noise, no clean data.

Protocol (fixed): three 256x256 photon-rate images (:func:`~restoration.noise.camera.fluorescence_phantom`,
12 nuclei each; outside the model's training data) scaled to a peak of 5 / 20 / 100 photons and
recorded by :func:`~restoration.noise.camera.camera_counts` as uint16 (gain 2 ADU per photon, read
noise 3 ADU, offset 100 ADU), one seeded generator. Methods, each on the same noisy images:

- ``restoration auto``: ``restoration.denoise(counts)``, the noise found by ``--noise auto``;
- ``restoration, true noise``: the same with the true ``gain``, ``read_noise`` and ``offset``;
- ``adapted``: the shipped model adapted (``restoration adapt``'s core, default settings) on the
  three noisy images of that photon level alone for ``--steps`` steps, then restored as ``auto``;
- ``GAT + BM3D``: the generalized Anscombe transform with the true parameters, ``bm3d.bm3d(d, 1)``
  and the closed-form exact unbiased inverse (the classical anchor).

PSNR in photons against the true rate times the peak, data range = the peak; mean of the three
images. BM4D (installed) is for volumes, on 2-D images it is BM3D; CAREamics (Noise2Void) is not
installed here (see results). Runtime: about 10 minutes (617 s on 2 CPU cores shared with other jobs).

Usage: python benchmarks/microscopy.py [--steps 60] [--out benchmarks/results/microscopy.md]
BM3D comes from the optional `bench` extra (`pip install -e '.[bench]'`; non-commercial licence).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import restoration
from restoration.diffusion.adapt import AdaptConfig, adapt
from restoration.noise.camera import camera_counts, fluorescence_phantom
from restoration.noise.poisson import gat, gat_inverse

PEAKS = (5.0, 20.0, 100.0)
GAIN, READ, OFFSET = 2.0, 3.0, 100.0
IMAGES, SIZE = 3, 256


def psnr_photons(estimate: np.ndarray, rate: np.ndarray, peak: float) -> float:
    """PSNR of a restoration in ADU against the true photon rate, in photons (range = peak)."""
    photons = (np.asarray(estimate, np.float64) - OFFSET) / GAIN
    return float(10 * np.log10(peak * peak / np.mean((photons - peak * rate) ** 2)))


def gat_bm3d(counts: np.ndarray) -> np.ndarray:
    import bm3d

    d = gat(counts, GAIN, READ, OFFSET)
    return gat_inverse(bm3d.bm3d(d, 1.0), GAIN, READ, OFFSET)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60, help="adaptation steps per photon level")
    ap.add_argument("--out", help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(20261212)
    started = time.time()
    lines = [f"Command: `python benchmarks/microscopy.py --steps {args.steps}"
             + (f" --out {args.out}`" if args.out else "`"), "",
             f"{IMAGES} fluorescence phantoms {SIZE}x{SIZE}, camera gain {GAIN:g} ADU/photon, read noise {READ:g} ADU, "
             f"offset {OFFSET:g} ADU, uint16. PSNR (dB, photons, range = peak), mean of the images; "
             f"adapted: shipped model + {args.steps} self-supervised steps (default settings: "
             f"loss {AdaptConfig.loss}, patch {AdaptConfig.patch}, batch {AdaptConfig.batch}, lr {AdaptConfig.lr:g}) "
             "on the noisy images of that level only.", ""]
    methods = ["noisy", "restoration auto", "restoration, true noise", "adapted", "GAT + BM3D"]
    table: dict[str, list[float]] = {m: [] for m in methods}
    timing: dict[str, float] = {m: 0.0 for m in methods}
    adapt_seconds = []
    with tempfile.TemporaryDirectory() as tmp:
        for peak in PEAKS:
            rates = [fluorescence_phantom(rng, (SIZE, SIZE), nuclei=12) for _ in range(IMAGES)]
            counts = [camera_counts(rng, peak * r, gain=GAIN, sigma=READ, offset=OFFSET) for r in rates]
            paths = []
            for i, c in enumerate(counts):
                paths.append(str(Path(tmp) / f"peak{peak:g}_{i}.npy"))
                np.save(paths[-1], c)
            model = str(Path(tmp) / f"adapted_{peak:g}.pt")
            t0 = time.time()
            adapt(AdaptConfig(sources=paths, output=model, steps=args.steps, seed=0))
            adapt_seconds.append(time.time() - t0)
            run = {"noisy": lambda c: c.astype(np.float64),
                   "restoration auto": lambda c: restoration.denoise(c),
                   "restoration, true noise": lambda c: restoration.denoise(c, gain=GAIN, read_noise=READ, offset=OFFSET),
                   "adapted": lambda c: restoration.denoise(c, model=model),
                   "GAT + BM3D": gat_bm3d}
            for m in methods:
                scores = []
                for rate, c in zip(rates, counts):
                    t0 = time.time()
                    out = run[m](c)
                    timing[m] += time.time() - t0
                    scores.append(psnr_photons(out, rate, peak))
                table[m].append(float(np.mean(scores)))
                print(f"peak {peak:g}: {m:<24} {np.mean(scores):6.2f} dB", flush=True)
    mpx = IMAGES * len(PEAKS) * SIZE * SIZE / 1e6
    lines += ["| method | " + " | ".join(f"{p:g} photons" for p in PEAKS) + " | s/Mpx |",
              "|---|" + "---|" * (len(PEAKS) + 1)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(f"{v:.2f}" for v in table[m]) + f" | {timing[m] / mpx:.1f} |")
    gains = [a - b for a, b in zip(table["adapted"], table["restoration auto"])]
    lines += ["", "Adapted minus auto: " + ", ".join(f"{g:+.2f} dB at {p:g}" for g, p in zip(gains, PEAKS))
              + f"; adaptation took {', '.join(f'{s:.0f}' for s in adapt_seconds)} s per level "
              "(not in s/Mpx, which is restoration time only).",
              "", "Not included: BM4D (installed, `bm4d` 4.2.5) filters volumes and reduces to BM3D on 2-D "
              "images; CAREamics (Noise2Void) is on the package index (0.3.5) but needs PyTorch Lightning and "
              "its own torch stack, not installed into this environment.",
              "", f"Machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"python {platform.python_version()}; total {time.time() - started:.0f} s."]
    report = "\n".join(lines) + "\n"
    sys.stdout.write("\n" + report)
    if args.out:
        Path(args.out).write_text("# Microscopy benchmark (camera noise, self-supervised adaptation)\n\n" + report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
