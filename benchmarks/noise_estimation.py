"""Noise estimation and automatic selection on scikit-image images, against the project's targets.

Protocol (fixed): grayscale images as float64 in [0, 1]; noise simulated by each model's own
``simulate`` with float output (no clipping, no quantization); one seeded generator.

- Estimation and the first selection table: the scikit-image images the estimators and the
  selection were developed on (camera, astronaut, coffee, coins, moon, clock, page, brick, chelsea).
- Held-out selection: images never used while developing the selection: the Debian held-out
  photographs (``train/photos/held_out/*.png``, read only; left out when absent), the bundled
  scikit-image images in neither ``restoration.diffusion.data.TRAIN`` nor ``HELD_OUT`` (the
  motorcycle stereo pair), and two seeded synthetic images; central 512 x 512 crops.

Selection competes every registered model (built-ins, installed plugins such as
restoration-uniform) plus a Laplace-noise model registered as an in-process plugin object through
the plugin manager (:class:`LaplacePlugin`), and is tested on each model's own noise, ``uniform``
and ``laplace`` included. An answer is right when it is the simulated model or one nesting it
(``NoiseModel.nests``: poisson-gaussian for poisson data).

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
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from restoration import NoiseModel, Observation, hookimpl
from restoration.noise import GaussianNoise, PoissonGaussianNoise, PoissonNoise, SaltPepperNoise, SpeckleNoise
from restoration.noise.poisson import gat, gat_inverse
from restoration.noise.select import select_noise
from restoration.plugins import load_plugins

IMAGES = ("camera", "astronaut", "coffee", "coins", "moon", "clock", "page", "brick", "chelsea")
HELD_OUT_PHOTOS = Path(__file__).resolve().parent.parent / "train" / "photos" / "held_out"
# Selection strengths: three per model, each component of poisson-gaussian a sizeable share of
# the variance (otherwise the data is simply poisson or gaussian and either answer is right).
CASES = ([("gaussian", {"sigma": s / 255}) for s in (10, 25, 50)]
         + [("poisson", {"gain": g}) for g in (0.002, 0.01, 0.05)]
         + [("poisson-gaussian", {"gain": g, "sigma": s}) for g, s in ((0.004, 0.03), (0.01, 0.05), (0.04, 0.08))]
         + [("speckle", {"sigma": s}) for s in (0.1, 0.2, 0.4)]
         + [("salt-and-pepper", {"amount": a}) for a in (0.02, 0.1, 0.3)]
         + [("laplace", {"scale": b}) for b in (0.02, 0.05, 0.1)]
         + [("uniform", {"amplitude": a}) for a in (0.05, 0.15, 0.3)])


class LaplaceNoise(NoiseModel):
    """Additive Laplace noise ``y = x + Laplace(0, scale)`` (std ``scale * sqrt(2)``), data units.

    Written as a plugin author would, from the public API only.
    """

    name = "laplace"
    params = ("scale",)
    example_params = {"scale": 0.05}

    def simulate(self, clean, rng, *, scale):
        x = np.asarray(clean, dtype=np.float64)
        return x + rng.laplace(0.0, scale, x.shape)      # NaN + anything stays NaN

    def estimate(self, noisy):
        """``scale`` from the noise std: the MAD of the finest diagonal wavelet band (16 pixels
        mixed per coefficient, so near-Gaussian whatever the noise's shape), divided by sqrt(2)."""
        import pywt

        a = np.asarray(noisy, dtype=np.float64)
        a = np.where(np.isfinite(a), a, np.nanmedian(a))
        coeffs = np.concatenate([pywt.dwt2(p, "db2")[1][2].ravel() for p in a.reshape(-1, *a.shape[-2:])])
        return {"scale": float(np.median(np.abs(coeffs)) / 0.6745 / math.sqrt(2.0))}

    def log_likelihood(self, noisy, clean, *, scale):
        r = np.asarray(noisy, dtype=np.float64) - np.asarray(clean, dtype=np.float64)
        r = r[np.isfinite(r)]
        b = max(float(scale), 1e-12)
        return float(np.mean(-np.abs(r) / b - math.log(2.0 * b)))

    def to_gaussian(self, noisy, *, scale):
        # The same variance: after any averaging the residual is near-Gaussian, and the denoisers
        # only need the variance. Missing pixels are filled and masked.
        y = np.asarray(noisy, dtype=np.float64)
        bad = ~np.isfinite(y)
        data = np.where(bad, np.median(y[~bad]) if (~bad).any() else 0.0, y)
        return Observation(data, scale * math.sqrt(2.0), bad if bad.any() else None)

    def from_gaussian(self, restored, *, scale):
        return np.asarray(restored, dtype=np.float64)


class LaplacePlugin:
    """A plugin object: its hook is a method, registered through the plugin manager."""

    @hookimpl
    def restoration_noise_models(self):
        return [LaplaceNoise()]


def load(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float64

    image = img_as_float64(getattr(data, name)())
    return rgb2gray(image) if image.ndim == 3 else image


def _centre(image: np.ndarray, side: int = 512) -> np.ndarray:
    """The central ``side x side`` crop (at most): bounds the benchmark's time."""
    y, x = (max(0, (n - side) // 2) for n in image.shape[:2])
    return image[y:y + side, x:x + side]


def held_out_images() -> dict[str, np.ndarray]:
    """Images never used while developing the selection (see the module docstring), grayscale,
    central 512 x 512 crops."""
    from skimage import data, io
    from skimage.color import rgb2gray
    from skimage.util import img_as_float64

    images = {p.stem: _centre(rgb2gray(img_as_float64(io.imread(p))[..., :3]))
              for p in sorted(HELD_OUT_PHOTOS.glob("*.png"))}
    left, right, _ = data.stereo_motorcycle()
    images["motorcycle_left"] = _centre(rgb2gray(img_as_float64(left)))
    images["motorcycle_right"] = _centre(rgb2gray(img_as_float64(right)))
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:384, 0:384] / 384.0
    shapes = 0.2 + 0.5 * xx
    for _ in range(12):        # flat discs on a ramp: edges and smooth regions
        cy, cx, r = rng.random(3) * (1, 1, 0.15)
        shapes[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.05, 0.95)
    images["synthetic_discs"] = shapes
    cells = np.full((384, 384), 0.05)
    for _ in range(40):        # bright blobs on a dark background, as in fluorescence microscopy
        cy, cx = rng.random(2)
        cells += rng.uniform(0.2, 0.8) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 0.02 ** 2))
    images["synthetic_cells"] = np.minimum(cells, 1.0)
    return images


def selection(title: str, images: dict[str, np.ndarray], models: dict, rng: np.random.Generator) -> None:
    """Select a model for each image x case; print the fraction right per model and overall."""
    cases = [(true, params) for true, params in CASES if true in models]   # uniform: when installed
    print(f"\n{title}: {len(images)} images x {len(cases)} settings, among {', '.join(models)}")
    confusion: Counter = Counter()
    wrong = []
    for name, image in images.items():
        for true, params in cases:
            got = select_noise(models[true].simulate(image, rng, **params), models)[0].noise
            confusion[(true, got)] += 1
            if not (got == true or true in models[got].nests):
                wrong.append(f"    {name}: {true} {params} -> {got}")
    total = sum(confusion.values())
    right = total - len(wrong)
    exact = sum(v for (t, g), v in confusion.items() if g == t)
    print(f"  right: {right}/{total} = {100 * right / total:.1f} %  (target >= 95 %)  "
          f"{'ok' if right >= 0.95 * total else 'MISS'}")
    print(f"  exact (the simulated model itself, no nesting one): {exact}/{total} = {100 * exact / total:.1f} %")
    labels = list(dict.fromkeys(t for t, _ in cases))
    got_labels = labels + sorted({g for _, g in confusion} - set(labels))
    print("  confusion (rows: true, columns: selected; right: the row's fraction right):")
    print("    " + " " * 17 + "".join(f"{g[:8]:>9}" for g in got_labels) + "    right")
    for t in labels:
        n = sum(confusion[(t, g)] for g in got_labels)
        ok = sum(confusion[(t, g)] for g in got_labels if g == t or t in models[g].nests)
        print(f"    {t:<17}" + "".join(f"{confusion[(t, g)]:>9}" for g in got_labels) + f"  {100 * ok / n:5.1f} %")
    if wrong:
        print("  wrong:")
        print("\n".join(wrong))


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

    reg = load_plugins(extra=[LaplacePlugin()])
    assert not reg.failures, reg.failures
    models = reg.noise_models
    selection("auto selection, development images", images, models, rng)
    selection("auto selection, held-out images", held_out_images(), models, rng)
    print(f"\ntotal {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
