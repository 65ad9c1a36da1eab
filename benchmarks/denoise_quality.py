"""Denoising quality and speed on held-out images against the classical anchors, in one run.

Sections (every method of a section sees the same noisy images, drawn with a seed per image and
level; float noise, no clipping, no quantization; 256x256 centre crops):

- ``gray``: grayscale, Gaussian sigma 15 / 25 / 50 (/255), against BM3D (``bm3d.bm3d``);
- ``colour``: RGB, Gaussian sigma 15 / 25 / 50, against CBM3D (``bm3d.bm3d_rgb``), the diffusion
  model per channel and jointly in the opponent colour space;
- ``poisson``: grayscale, Poisson counts at peak 10 / 30 / 100 photons, against the generalized
  Anscombe transform + BM3D + the closed-form exact unbiased inverse; the diffusion model runs in
  the same stabilized space with the same inverse (the path ``--noise poisson`` takes).

Quality options: the geometric self-ensemble (``ensemble``, 8 flips/rotations) and DDIM steps
(``--methods`` keeps a subset). Image sets (``--set``):

- ``test``: the frozen test set (``benchmarks/test_set.csv``: 256x256 crops of 38 pictures in 8
  content classes from Debian packages nothing is trained or decided on), written by
  ``python data/debian_pictures.py -o train/pictures``. Run it once per model you intend to ship;
  the report gives the mean, the mean per content class and the worst decile (the 10th percentile
  of the per-crop differences) against the anchor. Grayscale sections use the grayscale crops and
  the luminance of the colour ones; the colour section the colour crops.
- ``validation``: the validation crops of the same script: what decisions are made on.
- ``skimage``: the scikit-image pictures held out of training (``HELD_OUT``), 256x256 centre
  crops; kept for continuity with earlier tables, not for decisions.

PSNR with data_range=1; SSIM with gaussian_weights=True, sigma=1.5, use_sample_covariance=False.
Seconds per megapixel are wall time on this machine.

Usage: python benchmarks/denoise_quality.py [--model PATH] [--set test|validation|skimage]
       [--sections gray,colour,poisson] [--methods NAME,...] [--pictures DIR] [--out FILE]
BM3D comes from the optional `bench` extra (`pip install -e '.[bench]'`; non-commercial licence).
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from restoration.denoisers.diffusion import DiffusionDenoiser
from restoration.diffusion.data import HELD_OUT, skimage_image, to_gray
from restoration.diffusion.model import load_model
from restoration.noise.poisson import gat, gat_inverse
from restoration.types import Observation

LEVELS = {"gray": (15, 25, 50), "colour": (15, 25, 50), "poisson": (10, 30, 100)}
ANCHOR = {"gray": "bm3d", "colour": "cbm3d", "poisson": "gat+bm3d"}
UNIT = {"gray": "σ", "colour": "σ", "poisson": "peak"}


def psnr(x, ref):
    return float(10 * np.log10(1.0 / np.mean((np.asarray(x, np.float64) - ref) ** 2)))


def ssim(x, ref):
    from skimage.metrics import structural_similarity

    return float(structural_similarity(ref, np.asarray(x, np.float64), data_range=1.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False, channel_axis=-1 if x.ndim == 3 else None))


def crop(img: np.ndarray, side: int) -> np.ndarray:
    y0, x0 = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
    return img[y0:y0 + side, x0:x0 + side]


def load_images(which: str, pictures: Path, side: int = 256) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The set's images, float64 in [0, 1], (y, x) or (y, x, 3), and each image's content class."""
    from skimage.io import imread

    if which == "skimage":
        return ({name: crop(skimage_image(name).astype(np.float64), side) for name in HELD_OUT},
                {name: "scikit-image" for name in HELD_OUT})
    manifest = pictures / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"{manifest}: missing; build it with python data/debian_pictures.py -o {pictures}")
    with manifest.open() as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == which]
    images = {r["file"]: imread(pictures / r["file"]).astype(np.float64) / 255.0 for r in rows}
    return images, {r["file"]: r["class"] for r in rows}


def diffusion(model: str | None, **options):
    den = DiffusionDenoiser()

    def run(y, s, seed, value_range=(0.0, 1.0)):
        obs = Observation(y.astype(np.float32), s if np.ndim(y) == 2 else np.full(3, s), value_range=value_range,
                          rgb=np.ndim(y) == 3)
        out = den.denoise(obs, rng=np.random.default_rng(seed), model=model, **options)
        return np.asarray(out, np.float64)
    return run


def gaussian_methods(model: str | None, colour: bool):
    import bm3d

    table = {"noisy input": lambda y, s, seed: y}
    if colour:
        table["cbm3d"] = lambda y, s, seed: bm3d.bm3d_rgb(y, s)
        table["diffusion mmse, per channel"] = diffusion(model, colour="per-channel")
        table["diffusion mmse"] = diffusion(model, colour="joint")
        table["diffusion mmse + ensemble"] = diffusion(model, colour="joint", ensemble=True)
    else:
        table["bm3d"] = lambda y, s, seed: bm3d.bm3d(y, s)
        table["diffusion mmse"] = diffusion(model)
        table["diffusion mmse + ensemble"] = diffusion(model, ensemble=True)
        for k in (2, 3):
            table[f"diffusion ddim K={k}"] = diffusion(model, method="ddim", steps=k)
    return table


def poisson_methods(model: str | None):
    import bm3d

    def stabilized(denoise):
        def run(counts, peak, seed):
            d = gat(counts, 1.0)
            return gat_inverse(denoise(d, seed), 1.0) / peak
        return run

    def diff(**options):
        fn = diffusion(model, **options)
        # The data range the percentile transform would give: the stabilized values' 0.1-99.9 %.
        return stabilized(lambda d, seed: fn(d, 1.0, seed, value_range=tuple(np.quantile(d, [0.001, 0.999]))))

    return {"noisy input": lambda counts, peak, seed: counts / peak,
            "gat+bm3d": stabilized(lambda d, seed: bm3d.bm3d(d, 1.0)),
            "diffusion mmse": diff(),
            "diffusion mmse + ensemble": diff(ensemble=True)}


def decile_summary(d: np.ndarray, classes: list[str]) -> str:
    """Mean, worst decile (10th percentile), minimum and per-class means of per-image differences."""
    per_class = ", ".join(f"{c} {d[[k == c for k in classes]].mean():+.2f}" for c in dict.fromkeys(classes))
    return (f"mean {d.mean():+.2f} dB, worst decile {np.percentile(d, 10):+.2f}, min {d.min():+.2f}"
            + (f" [{per_class}]" if len(set(classes)) > 1 else ""))


def run_section(section: str, images: dict[str, np.ndarray], classes: dict[str, str], model: str | None,
                methods: set[str] | None = None, per_image: list[dict] | None = None) -> list[str]:
    """Every method of ``section`` on ``images``; markdown lines (and per-image rows into ``per_image``)."""
    colour = section == "colour"
    pool = {k: v for k, v in images.items() if v.ndim == 3} if colour else \
        {k: (to_gray(v.astype(np.float32)).astype(np.float64) if v.ndim == 3 else v) for k, v in images.items()}
    table = poisson_methods(model) if section == "poisson" else gaussian_methods(model, colour)
    if methods:
        table = {m: fn for m, fn in table.items() if m in methods or m in ("noisy input", ANCHOR[section])}
    levels = LEVELS[section]
    rows = {m: {lv: [] for lv in levels} for m in table}
    secs = {m: 0.0 for m in table}
    for lv in levels:
        for i, (name, clean) in enumerate(pool.items()):
            rng = np.random.default_rng(1000 * lv + i)
            if section == "poisson":
                noisy, arg = rng.poisson(clean * lv).astype(np.float64), lv
            else:
                noisy, arg = clean + rng.normal(0, lv / 255, clean.shape), lv / 255
            for m, fn in table.items():
                t = time.perf_counter()
                out = fn(noisy, arg, seed=i)
                secs[m] += time.perf_counter() - t
                rows[m][lv].append((psnr(out, clean), ssim(out, clean)))
                if per_image is not None:
                    per_image.append({"section": section, "level": lv, "image": name, "class": classes[name],
                                      "method": m, "psnr": round(rows[m][lv][-1][0], 3),
                                      "ssim": round(rows[m][lv][-1][1], 4)})
                print(f"{section} {UNIT[section]} {lv:>3} {name:<36} {m:<30} {rows[m][lv][-1][0]:6.2f} dB", file=sys.stderr)
    mpx = sum(v.shape[0] * v.shape[1] for v in pool.values()) * len(levels) / 1e6
    u = UNIT[section]
    lines = [f"## {section}: {len(pool)} images ({', '.join(pool)})", "",
             "| method | " + " | ".join(f"{u}={lv} PSNR / SSIM" for lv in levels) + " | s/Mpx |",
             "|---|" + "---|" * len(levels) + "---|"]
    for m in table:
        cells = [f"{np.mean([r[0] for r in rows[m][lv]]):.2f} / {np.mean([r[1] for r in rows[m][lv]]):.4f}" for lv in levels]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {secs[m] / mpx:.2f} |")
    anchor = ANCHOR[section]
    lines += ["", f"Against {anchor} (same images, same noise; per-image PSNR differences):", ""]
    names = [classes[k] for k in pool]
    for m in [k for k in table if k.startswith("diffusion")]:
        lines.append(f"- {m} (speed {secs[anchor] / max(secs[m], 1e-9):.1f}x {anchor}):")
        for lv in levels:
            d = np.array([a[0] - b[0] for a, b in zip(rows[m][lv], rows[anchor][lv])])
            lines.append(f"  - {u}={lv}: {decile_summary(d, names)}")
    return lines + [""]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model file (default: the shipped one)")
    p.add_argument("--set", choices=["test", "validation", "skimage"], default="test")
    p.add_argument("--sections", default="gray,colour,poisson")
    p.add_argument("--methods", help="diffusion methods to run (comma-separated names; default all)")
    p.add_argument("--pictures", type=Path, default=Path("train/pictures"),
                   help="the output of data/debian_pictures.py")
    p.add_argument("--out", help="also write the markdown here (and the per-image values to OUT.csv)")
    args = p.parse_args()
    images, classes = load_images(args.set, args.pictures)
    model = load_model(args.model)
    command = " ".join(["python benchmarks/denoise_quality.py", *sys.argv[1:]])
    lines = [f"# Denoising quality on the {args.set} set (256x256 crops)", "",
             f"Command: `{command}`", "",
             f"Model: {model.model_id}, {model.provenance.get('steps')} training steps; torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads, Python {platform.python_version()}, {platform.machine()}", ""]
    methods = set(args.methods.split(",")) if args.methods else None
    per_image: list[dict] = []
    for section in args.sections.split(","):
        lines += run_section(section, images, classes, args.model, methods, per_image)
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
        with open(args.out + ".csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(per_image[0]))
            w.writeheader()
            w.writerows(per_image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
