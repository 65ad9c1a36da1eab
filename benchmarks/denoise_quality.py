"""Denoising quality and speed on held-out images: classical baselines, BM3D and the diffusion model.

Protocol (fixed; research/diffusion_denoising.md): the scikit-image images held out of training
(restoration.diffusion.data.HELD_OUT), grayscale, float in [0, 1], centre crops of CROP x CROP;
float Gaussian noise sigma 15, 25, 50 (/255), no clipping, no quantization, seed per (image, sigma).
PSNR with data_range=1; SSIM with gaussian_weights=True, sigma=1.5, use_sample_covariance=False.
Every method sees the same noisy images in the same run; seconds per megapixel are wall time.

Usage: python benchmarks/denoise_quality.py [--model PATH] [--crop 256] [--out FILE]
BM3D comes from the optional `bench` extra (`pip install -e '.[bench]'`; non-commercial licence).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from restoration.denoisers.diffusion import DiffusionDenoiser
from restoration.diffusion.data import HELD_OUT, skimage_image, to_gray
from restoration.diffusion.model import load_model
from restoration.types import Observation

SIGMAS = (15, 25, 50)


def psnr(x, ref):
    return float(10 * np.log10(1.0 / np.mean((np.asarray(x, np.float64) - ref) ** 2)))


def ssim(x, ref):
    from skimage.metrics import structural_similarity

    return float(structural_similarity(ref, np.asarray(x, np.float64), data_range=1.0, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=False))


def methods(model: str | None):
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    diff = DiffusionDenoiser()

    def diffusion(method, steps=None, samples=1):
        def run(y, s, seed):
            out = diff.denoise(Observation(y.astype(np.float32), s), rng=np.random.default_rng(seed), method=method,
                               steps=steps, samples=samples, model=model)
            return out[0] if isinstance(out, tuple) else out
        return run

    table = {
        "noisy input": lambda y, s, seed: y,
        "nlm": lambda y, s, seed: denoise_nl_means(y, h=0.8 * s, sigma=s, patch_size=5, patch_distance=6, fast_mode=True),
        "tv": lambda y, s, seed: denoise_tv_chambolle(y, weight=1.1 * s),
        "wavelet": lambda y, s, seed: denoise_wavelet(y, sigma=s, method="BayesShrink", mode="soft", rescale_sigma=True),
    }
    try:
        import bm3d

        table["bm3d"] = lambda y, s, seed: bm3d.bm3d(y, s)
    except ImportError:
        print("bm3d not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
    table["diffusion mmse"] = diffusion("mmse")
    for k in (2, 3, 4):
        table[f"diffusion ddim K={k}"] = diffusion("ddim", steps=k)
    table["diffusion posterior"] = diffusion("posterior")
    table["diffusion posterior x8 mean"] = diffusion("posterior", samples=8)
    return table


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model file (default: the shipped one)")
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--out", help="also write the markdown table here")
    args = p.parse_args()
    images = {}
    for name in HELD_OUT:
        img = to_gray(skimage_image(name)).astype(np.float64)
        y0, x0 = (img.shape[0] - args.crop) // 2, (img.shape[1] - args.crop) // 2
        images[name] = img[y0:y0 + args.crop, x0:x0 + args.crop]
    table = methods(args.model)
    rows = {m: {s: [] for s in SIGMAS} for m in table}
    secs = {m: 0.0 for m in table}
    pixels = 0
    for s255 in SIGMAS:
        s = s255 / 255
        for i, (name, clean) in enumerate(images.items()):
            noisy = clean + np.random.default_rng(1000 * s255 + i).normal(0, s, clean.shape)
            pixels += clean.size if s255 == SIGMAS[0] else 0
            for m, fn in table.items():
                t = time.perf_counter()
                out = fn(noisy, s, seed=i)
                secs[m] += time.perf_counter() - t
                rows[m][s255].append((psnr(out, clean), ssim(out, clean)))
                print(f"sigma {s255:>2} {name:<10} {m:<28} {rows[m][s255][-1][0]:6.2f} dB", file=sys.stderr)
    mpx = pixels * len(SIGMAS) / 1e6
    model = load_model(args.model)
    lines = [f"# Denoising quality on held-out images ({', '.join(HELD_OUT)}; {args.crop}x{args.crop} centre crops, grayscale)", "",
             f"Command: `python benchmarks/denoise_quality.py{' --model ' + args.model if args.model else ''} --crop {args.crop}`",
             f"Model: {model.model_id}, {model.provenance.get('steps')} training steps"
             + (f" (fine-tuned from {init})" if (init := model.provenance.get("train_config", {}).get("init")) else "")
             + f"; torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads, Python {platform.python_version()}, {platform.machine()}", "",
             "PSNR (dB, data_range=1) / SSIM, mean over images; seconds per megapixel (wall, this machine).", "",
             "| method | " + " | ".join(f"σ={s} PSNR / SSIM" for s in SIGMAS) + " | s/Mpx |",
             "|---|" + "---|" * len(SIGMAS) + "---|"]
    for m in table:
        cells = [f"{np.mean([r[0] for r in rows[m][s]]):.2f} / {np.mean([r[1] for r in rows[m][s]]):.4f}" for s in SIGMAS]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {secs[m] / mpx:.2f} |")
    if "bm3d" in table:
        lines += ["", "Against BM3D (same images, same noise):", ""]
        for m in [k for k in table if k.startswith("diffusion")]:
            d = [np.mean([r[0] for r in rows[m][s]]) - np.mean([r[0] for r in rows["bm3d"][s]]) for s in SIGMAS]
            lines.append(f"- {m}: " + ", ".join(f"σ={s}: {v:+.2f} dB" for s, v in zip(SIGMAS, d))
                         + f"; speed {secs['bm3d'] / max(secs[m], 1e-9):.1f}x BM3D")
    mm = {s: np.mean([r[0] for r in rows["diffusion mmse"][s]]) for s in SIGMAS}
    for m in ("diffusion posterior", "diffusion posterior x8 mean"):
        lines.append(f"- {m} vs mmse: " + ", ".join(
            f"σ={s}: {np.mean([r[0] for r in rows[m][s]]) - mm[s]:+.2f} dB" for s in SIGMAS))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
