"""Make the sample data in data/noisy and data/clean (run: python data/make_samples.py).

Every sample is made from scikit-image's bundled held-out images (camera, astronaut, coffee,
coins; never used for training, see restoration.diffusion.data.HELD_OUT) with an explicit seed,
so running this again rewrites byte-identical files. data/clean holds the noise-free references
under the same item names, shapes and dtypes, so ``--reference data/clean`` pairs by name.
Noise conventions are the contract's ("Units and parameters"); parameters are in each file's own
units. See data/README.md for the table.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import skimage.data
import tifffile
import zarr
from PIL import Image
from scipy import ndimage
from skimage.color import rgb2gray
from skimage.transform import resize

HERE = Path(__file__).resolve().parent
NOISY, CLEAN = HERE / "noisy", HERE / "clean"

#: One seed per sample (numpy.random.default_rng).
SEEDS = {"camera_gaussian": 1, "coins_poisson": 2, "astronaut_rgb": 3, "coffee_speckle": 4,
         "camera_saltpepper": 5, "stack": 6}


def camera_gaussian(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 in [0, 1], Gaussian sigma 25/255, not clipped."""
    clean = (skimage.data.camera() / 255.0).astype(np.float32)
    noisy = clean + np.float32(25 / 255) * rng.standard_normal(clean.shape, dtype=np.float32)
    return clean, noisy


def coins_poisson(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """uint16 counts: clean = coins * 100, y = gain * Poisson(x / gain), peak ~200 events."""
    clean = skimage.data.coins().astype(np.uint16) * np.uint16(100)
    gain = float(clean.max()) / 200.0  # 126 input units per detected event
    noisy = gain * rng.poisson(clean / gain)
    return clean, np.round(noisy).astype(np.uint16), gain


def astronaut_rgb(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB downscaled to 256x256, Gaussian sigma 15 (of 255), clipped and rounded."""
    small = resize(skimage.data.astronaut(), (256, 256), anti_aliasing=True, preserve_range=True)
    clean = np.round(small).astype(np.uint8)
    noisy = clean + 15.0 * rng.standard_normal(clean.shape)
    return clean, np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def coffee_speckle(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 gray 200x300 in [0, 1], speckle y = x (1 + 0.2 n)."""
    gray = resize(rgb2gray(skimage.data.coffee()), (200, 300), anti_aliasing=True)
    clean = np.clip(gray, 0, 1).astype(np.float32)
    noisy = clean * (1 + np.float32(0.2) * rng.standard_normal(clean.shape, dtype=np.float32))
    return clean, noisy.astype(np.float32)


def camera_saltpepper(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """uint8 256x256 crop of camera, 5% of pixels set to 0 or 255 (half each on average)."""
    clean = skimage.data.camera()[100:356, 100:356].copy()
    hit = rng.random(clean.shape) < 0.05
    salt = rng.random(clean.shape) < 0.5
    noisy = clean.copy()
    noisy[hit & salt] = 255
    noisy[hit & ~salt] = 0
    return clean, noisy


def stack(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """float32 (8, 128, 128) camera crop drifting smoothly plane to plane, Gaussian sigma 20/255."""
    cam = skimage.data.camera() / 255.0
    y0, x0, pad, n = 120, 200, 16, 128
    region = cam[y0 - pad:y0 + n + pad, x0 - pad:x0 + n + pad]
    planes = []
    for z in range(8):
        shift = (0.8 * z, 3.0 * np.sin(2 * np.pi * z / 16))
        moved = ndimage.shift(region, shift, order=3, mode="reflect")
        planes.append(moved[pad:pad + n, pad:pad + n])
    clean = np.clip(np.stack(planes), 0, 1).astype(np.float32)
    noisy = clean + np.float32(20 / 255) * rng.standard_normal(clean.shape, dtype=np.float32)
    return clean, noisy


def _write_zarr(path: Path, data: np.ndarray) -> None:
    """An OME-Zarr 0.5 style group holding one array ``volume`` (z, y, x) with a pixel size."""
    if path.exists():
        shutil.rmtree(path)
    axes = [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "name": "stack", "axes": axes,
        "datasets": [{"path": "volume", "coordinateTransformations": [
            {"type": "scale", "scale": [2.0, 0.5, 0.5]}]}]}]}
    group.create_array("volume", data=data, chunks=(1, 128, 128), dimension_names=("z", "y", "x"))


def _png(path: Path, data: np.ndarray) -> None:
    Image.fromarray(data).save(path, optimize=False)


def main() -> None:
    NOISY.mkdir(exist_ok=True)
    CLEAN.mkdir(exist_ok=True)
    rng = {name: np.random.default_rng(seed) for name, seed in SEEDS.items()}

    clean, noisy = camera_gaussian(rng["camera_gaussian"])
    np.save(CLEAN / "camera_gaussian.npy", clean)
    np.save(NOISY / "camera_gaussian.npy", noisy)

    clean, noisy, gain = coins_poisson(rng["coins_poisson"])
    tifffile.imwrite(CLEAN / "coins_poisson.tif", clean, photometric="minisblack")
    tifffile.imwrite(NOISY / "coins_poisson.tif", noisy, photometric="minisblack")

    clean, noisy = astronaut_rgb(rng["astronaut_rgb"])
    _png(CLEAN / "astronaut_rgb.png", clean)
    _png(NOISY / "astronaut_rgb.png", noisy)

    clean, noisy = coffee_speckle(rng["coffee_speckle"])
    tifffile.imwrite(CLEAN / "coffee_speckle.tif", clean, photometric="minisblack")
    tifffile.imwrite(NOISY / "coffee_speckle.tif", noisy, photometric="minisblack")

    clean, noisy = camera_saltpepper(rng["camera_saltpepper"])
    _png(CLEAN / "camera_saltpepper.png", clean)
    _png(NOISY / "camera_saltpepper.png", noisy)

    clean, noisy = stack(rng["stack"])
    _write_zarr(CLEAN / "stack.zarr", clean)
    _write_zarr(NOISY / "stack.zarr", noisy)

    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"wrote {NOISY} and {CLEAN} (gain {gain:g}); data/ holds {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
