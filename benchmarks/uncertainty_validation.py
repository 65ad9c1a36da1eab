"""Draw posterior samples on validation crops: the data the std calibration is fitted on.

Validation images: the validation pictures of ``data/debian_pictures.py`` (30 crops of 20
pictures in 8 content classes, never trained on and apart from the frozen test set;
``python data/debian_pictures.py -o train/pictures`` writes them to ``train/pictures/validation``),
grayscale, one 128 x 128 crop per photograph and noise level (a different place for each level),
Gaussian noise of each level in :data:`LEVELS` (image units, /255). Each crop gets ``--samples``
independent posterior chains (``method="posterior"``, the default 20 steps) of the shipped model,
saved one file per crop (clean, noisy and every sample, model units) for
``benchmarks/uncertainty_fit.py``. The scikit-image held-out images (the test set) and images of
other Python packages are not used.

Usage::

    python benchmarks/uncertainty_validation.py train/pictures/validation -o train/uncertainty_val2
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

#: Gaussian noise levels (image units, x/255) of the validation set: the trained range's span.
LEVELS = (2, 5, 10, 20, 50, 100)
CROP = 128


def main() -> None:
    """Parse arguments and write one ``.npz`` per (photograph, level)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", type=Path, help="folder of validation photographs (PNG)")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--levels", default=",".join(map(str, LEVELS)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    model = load_model(None)
    net = TiledNetwork(model, torch.device("cpu"))
    photos = sorted(a.photos.glob("*.png"))
    for level in (int(v) for v in a.levels.split(",")):
        for i, path in enumerate(photos):
            target = a.out / f"{path.stem}_s{level:03d}.npz"
            if target.exists():
                continue
            rng = np.random.default_rng([a.seed, level, i])
            image = to_gray(np.asarray(Image.open(path), dtype=np.float32) / 255.0)
            y0, x0 = (int(rng.integers(0, n - CROP + 1)) for n in image.shape)
            clean = 2.0 * image[y0:y0 + CROP, x0:x0 + CROP] - 1.0      # model units: [0, 1] -> [-1, 1]
            sigma = 2.0 * level / 255.0
            noisy = (clean + sigma * rng.standard_normal(clean.shape)).astype(np.float32)
            t = time.time()
            draws = []
            with torch.inference_mode():
                for k in range(a.samples):
                    out = restore(net, torch.from_numpy(noisy)[None, None], np.array([sigma]), method="posterior",
                                  noise=NoiseField(int(rng.integers(2**62))))
                    draws.append(out.mean[0, 0].numpy())
            np.savez(target, clean=clean, noisy=noisy, samples=np.stack(draws), sigma=sigma,
                     crop=(y0, x0), photo=path.name, seed=a.seed)
            print(f"{target.name}: {time.time() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
