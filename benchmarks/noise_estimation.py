"""Noise estimation and automatic selection on scikit-image images, against the project's targets.

Protocol (fixed): grayscale scikit-image images as float64 in [0, 1] (the held-out camera,
astronaut, coffee, coins plus moon, clock, page, brick, chelsea); noise simulated by each built-in
model's own ``simulate`` with float output (no clipping, no quantization); one seeded generator.

Targets (ARCHITECTURE.md / research/diffusion_denoising.md section 7):
  gaussian sigma      mean relative error within +-6 % for sigma >= 15/255, +-3 % for >= 25/255
  poisson gain        within +-10 % (also poisson-gaussian gain)
  salt-and-pepper     amount within +-10 %
  GAT inverse         closed-form exact unbiased inverse within +-0.5 % for lambda >= 0.1
  auto selection      >= 95 % right (poisson-gaussian for poisson data counts as right)

Usage: python benchmarks/noise_estimation.py [--images a,b,...] [--seeds N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import numpy as np

from restoration.noise import GaussianNoise, PoissonGaussianNoise, PoissonNoise, SaltPepperNoise, SpeckleNoise
from restoration.noise.poisson import gat, gat_inverse
from restoration.noise.select import select_noise
from restoration.plugins import registry

IMAGES = ("camera", "astronaut", "coffee", "coins", "moon", "clock", "page", "brick", "chelsea")
# Selection strengths: three per model, each component of poisson-gaussian a sizeable share of
# the variance (otherwise the data is simply poisson or gaussian and either answer is right).
CASES = ([("gaussian", {"sigma": s / 255}) for s in (10, 25, 50)]
         + [("poisson", {"gain": g}) for g in (0.002, 0.01, 0.05)]
         + [("poisson-gaussian", {"gain": g, "sigma": s}) for g, s in ((0.004, 0.03), (0.01, 0.05), (0.04, 0.08))]
         + [("speckle", {"sigma": s}) for s in (0.1, 0.2, 0.4)]
         + [("salt-and-pepper", {"amount": a}) for a in (0.02, 0.1, 0.3)])


def load(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float64

    image = img_as_float64(getattr(data, name)())
    return rgb2gray(image) if image.ndim == 3 else image


def rel_errors(model, images, rng, seeds, key, **params) -> np.ndarray:
    errs = []
    for image in images.values():
        for _ in range(seeds):
            est = model.estimate(model.simulate(image, rng, **params))[key]
            errs.append(est / params[key] - 1.0)
    return np.array(errs)


def row(label: str, errs: np.ndarray, target: float | None) -> str:
    mean, worst = 100 * errs.mean(), 100 * errs[np.argmax(np.abs(errs))]
    verdict = "" if target is None else ("ok" if abs(mean) <= target else "MISS")
    tgt = "-" if target is None else f"+-{target:g} %"
    return f"  {label:<34} {mean:+7.2f} % {worst:+8.2f} %  {tgt:>9}  {verdict}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args(argv)
    names = args.images.split(",")
    images = {n: load(n) for n in names}
    rng = np.random.default_rng(20240601)
    t0 = time.time()
    print(f"images: {', '.join(names)} (grayscale float64 in [0, 1]); seeds per setting: {args.seeds}")
    print(f"\n{'estimate':<36} {'mean err':>9} {'worst':>10}  {'target':>9}")
    from skimage.restoration import estimate_sigma

    for s in (5, 15, 25, 50):
        target = 3.0 if s >= 25 else 6.0 if s >= 15 else None
        errs = rel_errors(GaussianNoise(), images, rng, args.seeds, "sigma", sigma=s / 255)
        print(row(f"gaussian sigma {s}/255", errs, target))
        plain = np.array([estimate_sigma(im + s / 255 * rng.standard_normal(im.shape)) / (s / 255) - 1
                          for im in images.values() for _ in range(args.seeds)])
        print(row(f"  (skimage estimate_sigma {s}/255)", plain, None))
    for g in (0.002, 0.01, 0.05):
        print(row(f"poisson gain {g}", rel_errors(PoissonNoise(), images, rng, args.seeds, "gain", gain=g), 10.0))
    for g, s in ((0.004, 0.03), (0.01, 0.05), (0.04, 0.08)):
        print(row(f"poisson-gaussian gain ({g}, {s})",
                  rel_errors(PoissonGaussianNoise(), images, rng, args.seeds, "gain", gain=g, sigma=s), 10.0))
        print(row(f"poisson-gaussian sigma ({g}, {s})",
                  rel_errors(PoissonGaussianNoise(), images, rng, args.seeds, "sigma", gain=g, sigma=s), None))
    for a in (0.02, 0.1, 0.3):
        errs = rel_errors(SaltPepperNoise(), images, rng, args.seeds, "amount", amount=a)
        print(row(f"salt-and-pepper amount {a}", errs, 10.0))
    for s in (0.1, 0.2, 0.4):
        print(row(f"speckle sigma {s}", rel_errors(SpeckleNoise(), images, rng, args.seeds, "sigma", sigma=s), None))

    print("\nGAT closed-form exact unbiased inverse of E[GAT(z)], z ~ Poisson(lambda) (target +-0.5 %)")
    from scipy.stats import poisson

    for lam in (0.1, 0.5, 1, 2, 5, 10, 30):
        k = np.arange(0, int(lam + 20 * np.sqrt(lam) + 30))
        mean_f = np.sum(poisson.pmf(k, lam) * gat(k.astype(float), 1.0))
        back = float(gat_inverse(np.array(mean_f), 1.0))
        bias = back / lam - 1
        print(f"  lambda {lam:<5g} bias {100 * bias:+6.2f} %  {'ok' if abs(bias) <= 0.005 else 'MISS'}")

    models = registry().noise_models
    print(f"\nauto selection among {', '.join(models)}: {len(names)} images x {len(CASES)} settings")
    confusion: Counter = Counter()
    wrong = []
    for name, image in images.items():
        for true, params in CASES:
            got = select_noise(models[true].simulate(image, rng, **params), models)[0].noise
            confusion[(true, got)] += 1
            if not (got == true or (true == "poisson" and got == "poisson-gaussian")):
                wrong.append(f"    {name}: {true} {params} -> {got}")
    right = sum(v for (t, g), v in confusion.items() if g == t or (t == "poisson" and g == "poisson-gaussian"))
    total = sum(confusion.values())
    print(f"  right: {right}/{total} = {100 * right / total:.1f} %  (target >= 95 %)  "
          f"{'ok' if right >= 0.95 * total else 'MISS'}")
    labels = [t for t, _ in dict.fromkeys((t, 0) for t, _ in CASES)]
    got_labels = sorted({g for _, g in confusion},
                        key=lambda g: (g not in labels, labels.index(g) if g in labels else 0))
    print("  confusion (rows: true, columns: selected):")
    print("    " + " " * 17 + "".join(f"{g[:8]:>9}" for g in got_labels))
    for t in labels:
        print(f"    {t:<17}" + "".join(f"{confusion[(t, g)]:>9}" for g in got_labels))
    if wrong:
        print("  wrong:")
        print("\n".join(wrong))
    print(f"\ntotal {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
