"""Coverage of the per-pixel std with ``--samples K`` on the test images, before and after calibration.

Protocol (fixed before any result was seen): the test images are scikit-image's held-out images
(``restoration.diffusion.data.HELD_OUT``: camera, astronaut, coffee, coins; colour ones as
luminance), never trained or calibrated on. For each noise family and level below, ``--crops``
crops of ``--size`` px (images spread over the list, see below; a seeded random place) are made noisy and restored by
:func:`restoration.denoise` with the shipped model, ``samples=K``, twice with the same seed (so with
the same samples): ``uncertainty="spread"`` (the samples' std as drawn: before) and
``uncertainty="calibrated"`` (the default: after). Over all pixels of a condition: the share of
pixels whose truth lies within ±1 and ±2 std of the restored mean (targets 0.68 ± 0.05 and
0.95 ± 0.02), RMS error / RMS std, and the Pearson and Spearman correlations of |error| with std.

Noise: Gaussian σ (image units /255, given to the run); Poisson counts at a peak photon count
(``noise="poisson"``, gain 1 given); camera counts (``gain * Poisson + N(offset, read²)``, uint16,
:func:`restoration.noise.camera.camera_counts`, the calibration given to the run).

``--photos DIR`` measures on the PNG pictures in DIR instead. The i-th of a condition's C crops comes
from picture ``(j + i * n // C) % n`` of the n, j the condition's place in ``CONDITIONS``: every
condition samples the whole list evenly (the test set is sorted by content class; until
2026-12-07 crop i of the whole run took picture ``i % n``, so that each condition saw 16 pictures
of one or two classes and levels differed by content as much as by noise).
The frozen test set's crops (``train/pictures/test``: 64 crops of 37 pictures in 8 content
classes, never trained, fitted or decided on) are the test images from the model of 2026-12-06 on,
run once per shipped table, 16 crops per condition: a far larger and more varied sample than the
four scikit-image images (whose two crops per condition made neighbouring levels disagree by more
than the targets' tolerance). The validation photographs give a check of the families the table
was not fitted on, never test numbers.

Usage::

    python benchmarks/uncertainty.py [--samples 8] [--size 96] [--crops 2] [--threads 1]
    python benchmarks/uncertainty.py --photos train/pictures/test --crops 16 --families gaussian   # the test set
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

import restoration
from restoration.diffusion.data import HELD_OUT, skimage_image, to_gray
from restoration.noise.camera import camera_counts

#: (family, level, label): Gaussian σ in /255, Poisson and camera peak photons.
CONDITIONS = (("gaussian", 5, "σ 5/255"), ("gaussian", 15, "σ 15/255"), ("gaussian", 25, "σ 25/255"),
              ("gaussian", 50, "σ 50/255"), ("poisson", 5, "peak 5"), ("poisson", 30, "peak 30"),
              ("camera", 20, "peak 20, gain 2, read 3, offset 100"))
GAIN, READ, OFFSET = 2.0, 3.0, 100.0


def noisy_crop(family: str, level: float, clean: np.ndarray,
               rng: np.random.Generator) -> tuple[np.ndarray, dict, np.ndarray]:
    """``(noisy, run options, truth in the noisy data's units)`` of one clean crop in [0, 1]."""
    if family == "gaussian":
        s = level / 255
        return (clean + rng.normal(0, s, clean.shape)).astype(np.float32), {"noise": "gaussian", "sigma": s}, clean
    photons = level * clean
    if family == "poisson":
        return rng.poisson(photons).astype(np.float32), {"noise": "poisson", "gain": 1.0}, photons
    counts = camera_counts(rng, photons, gain=GAIN, sigma=READ, offset=OFFSET)
    return counts, {"gain": GAIN, "read_noise": READ, "offset": OFFSET}, GAIN * photons + OFFSET


def scores(err: np.ndarray, std: np.ndarray) -> dict:
    """Coverage within ±1 and ±2 std, RMS ratio and correlations of |error| with std."""
    from scipy.stats import spearmanr

    a = np.abs(err)
    return {"1": float(np.mean(a <= std)), "2": float(np.mean(a <= 2 * std)),
            "rms": float(np.sqrt(np.mean(err ** 2) / np.mean(std ** 2))),
            "pearson": float(np.corrcoef(a, std)[0, 1]), "spearman": float(spearmanr(a, std)[0])}


def main() -> None:
    """Run every condition; print a Markdown table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--crops", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--photos", type=Path, help="measure on these PNG photographs instead of the test images")
    p.add_argument("--families", default="gaussian,poisson,camera")
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    if a.photos:
        paths = sorted(a.photos.glob("*.png"))
        names = [q.stem for q in paths]
        images = [to_gray(np.asarray(Image.open(q), dtype=np.float32) / 255.0) for q in paths]
    else:
        names, images = list(HELD_OUT), [to_gray(skimage_image(name)) for name in HELD_OUT]
    rng = np.random.default_rng(a.seed)
    t0 = time.time()
    print(f"Images: {', '.join(names)} (luminance); {a.crops} crops of {a.size} px per condition; "
          f"samples={a.samples}; shipped model; torch threads {a.threads}\n")
    print("| noise | pixels | ±1 std before | after | ±2 std before | after | RMS err/std before | after "
          "| Pearson before | after | Spearman before | after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for j, (family, level, label) in enumerate(CONDITIONS):
        if family not in a.families.split(","):
            continue
        errs, before, after = [], [], []
        for i in range(a.crops):
            image = images[(j + i * len(images) // a.crops) % len(images)]
            y0, x0 = (int(rng.integers(0, m - a.size + 1)) for m in image.shape)
            noisy, options, truth = noisy_crop(family, level, image[y0:y0 + a.size, x0:x0 + a.size], rng)
            seed = int(rng.integers(2**31))
            runs = {mode: restoration.denoise(noisy, seed=seed, samples=a.samples, return_std=True, uncertainty=mode,
                                              **options) for mode in ("spread", "calibrated")}
            np.testing.assert_array_equal(runs["spread"][0], runs["calibrated"][0])  # the same samples
            errs.append((runs["calibrated"][0] - truth).ravel())
            before.append(runs["spread"][1].ravel())
            after.append(runs["calibrated"][1].ravel())
        err = np.concatenate(errs)
        b, c = scores(err, np.concatenate(before)), scores(err, np.concatenate(after))
        print(f"| {family} {label} | {err.size} | {b['1']:.3f} | **{c['1']:.3f}** | {b['2']:.3f} | **{c['2']:.3f}** "
              f"| {b['rms']:.2f} | {c['rms']:.2f} | {b['pearson']:.2f} | {c['pearson']:.2f} "
              f"| {b['spearman']:.2f} | {c['spearman']:.2f} |", flush=True)
    print(f"\nTargets: ±1 std 0.68 ± 0.05, ±2 std 0.95 ± 0.02. Wall time {time.time() - t0:.0f} s.")


if __name__ == "__main__":
    main()
