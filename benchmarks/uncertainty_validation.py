"""Draw posterior samples on validation crops: the data the std calibration is fitted on.

Validation images: the validation pictures of ``data/debian_pictures.py`` (30 crops of 20
pictures in 8 content classes, never trained on and apart from the frozen test set;
``python data/debian_pictures.py -o train/pictures`` writes them to ``train/pictures/validation``),
grayscale, one 128 x 128 crop per photograph and noise level (a different place for each level).
Each crop gets ``--samples`` independent posterior chains (``method="posterior"``, the default 20
steps) of the shipped model, saved one file per crop (clean, noisy and every sample, model units)
for ``benchmarks/uncertainty_fit.py``. The scikit-image held-out images (the test set) and images
of other Python packages are not used.

``--noise`` picks the family: ``gaussian`` (``--levels``: σ in image units, /255, added to the
crop in [0, 1]), ``poisson`` (``--levels``: peak photons; counts ``Poisson(peak * crop)``) or
``poisson-gaussian`` (peak photons of a camera: ``CAMERA`` gain, read noise and offset, uint16).
The counts go through the noise model's own ``to_gaussian`` (the product's Anscombe transform and
its noise level), and the truth is stored in that space as the value whose exact unbiased inverse
is the clean count: the restored mean's error there is its error in counts over the inverse's
slope, as the run maps the std. Every family reaches the model's units as a run's data does:
the noisy data's robust range onto ``[-1, 1]``.

Usage::

    python benchmarks/uncertainty_validation.py train/pictures/validation -o train/uncertainty_val2
    python benchmarks/uncertainty_validation.py train/pictures/validation -o train/uncertainty_val2 --noise poisson --levels 3,10
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from restoration.diffusion.data import to_gray
from restoration.diffusion.model import load_model
from restoration.diffusion.sampler import NoiseField, restore
from restoration.diffusion.tiling import TiledNetwork
from restoration.noise.camera import camera_counts
from restoration.planning import measure_value_range
from restoration.plugins import registry

#: Gaussian noise levels (image units, x/255) of the validation set: the trained range's span.
LEVELS = (2, 5, 10, 20, 50, 100)
CROP = 128
#: The validation camera (not the test benchmark's): gain (ADU per photon), read noise (ADU), offset.
CAMERA = {"gain": 1.5, "sigma": 2.5, "offset": 50.0}
#: ``--noise`` choices; the index keys the draws' seeds (0: the Gaussian seeds as before the others came).
NOISES = ("gaussian", "poisson", "poisson-gaussian")


def observe(noise: str, level: float, image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """``(clean, noisy, sigma)`` in model units of a crop in [0, 1] under ``noise`` at ``level``.

    Model units as a run has them: the noise model's stabilized data, its robust range
    (:func:`restoration.planning.measure_value_range`, noise included) mapped onto [-1, 1].
    """
    if noise == "gaussian":
        sigma = level / 255.0
        noisy, truth = image + sigma * rng.standard_normal(image.shape), image
    else:
        params = {"gain": 1.0} if noise == "poisson" else CAMERA
        gain, offset = params["gain"], params.get("offset", 0.0)
        photons = level * image
        counts = (rng.poisson(photons).astype(np.float32) if noise == "poisson"
                  else camera_counts(rng, photons, gain=gain, sigma=CAMERA["sigma"], offset=offset))
        model = registry().get("noise", noise)
        stabilized = model.to_gaussian(counts, **params)
        noisy, sigma = stabilized.data, float(stabilized.sigma)
        # The truth: where the exact unbiased inverse (monotone) meets the clean count.
        grid = np.linspace(float(noisy.min()) - 8 * sigma, float(noisy.max()) + 8 * sigma, 8192)
        truth = np.interp(offset + gain * photons, model.from_gaussian(grid, **params), grid)
    lo, hi = measure_value_range(noisy)
    to_model = lambda v: (2.0 * (np.asarray(v, np.float64) - lo) / (hi - lo) - 1.0).astype(np.float32)  # noqa: E731
    return to_model(truth), to_model(noisy), 2.0 * sigma / (hi - lo)


def main() -> None:
    """Parse arguments and write one ``.npz`` per (photograph, level)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", type=Path, help="folder of validation photographs (PNG)")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--levels", default=",".join(map(str, LEVELS)),
                   help="σ /255 (gaussian) or peak photons (poisson, poisson-gaussian)")
    p.add_argument("--noise", choices=NOISES, default="gaussian")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    model = load_model(None)
    net = TiledNetwork(model, torch.device("cpu"))
    photos = sorted(a.photos.glob("*.png"))
    family = NOISES.index(a.noise)
    for level in (int(v) for v in a.levels.split(",")):
        for i, path in enumerate(photos):
            target = a.out / (f"{path.stem}_s{level:03d}.npz" if a.noise == "gaussian"
                              else f"{path.stem}_{a.noise}_p{level:03d}.npz")
            if target.exists():
                continue
            rng = np.random.default_rng([a.seed, level, i] + ([family] if family else []))
            image = to_gray(np.asarray(Image.open(path), dtype=np.float32) / 255.0)
            y0, x0 = (int(rng.integers(0, n - CROP + 1)) for n in image.shape)
            clean, noisy, sigma = observe(a.noise, level, image[y0:y0 + CROP, x0:x0 + CROP], rng)
            t = time.time()
            draws = []
            with torch.inference_mode():
                for k in range(a.samples):
                    out = restore(net, torch.from_numpy(noisy)[None, None], np.array([sigma]), method="posterior",
                                  noise=NoiseField(int(rng.integers(2**62))))
                    draws.append(out.mean[0, 0].numpy())
            np.savez(target, clean=clean, noisy=noisy, samples=np.stack(draws), sigma=sigma,
                     crop=(y0, x0), photo=path.name, seed=a.seed, noise=a.noise, level=level)
            print(f"{target.name}: {time.time() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
