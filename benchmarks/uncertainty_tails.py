"""Why the calibrated std cannot hold both ±1 and ±2 std at a few photons: the errors' tails.

Reads the validation draws of ``benchmarks/uncertainty_validation.py`` (levels with all their
crops) and prints, per noise model and level (K = 8, errors and spreads in units of the level's σ):

1. **Tails within spread bins.** Pixels binned by their pooled spread (deciles); in each bin the
   ratio of the 95.45 % to the 68.27 % quantile of ``|error|`` (a Gaussian's: 2.00). Where it
   is above 2, no std that is a function of the spread can put both shares on target: one that
   meets ±2 std over-covers ±1.
2. **What a better error scale would do.** Coverage with an oracle std, the local RMS of the true
   error over a window of W pixels (one scale fitted for both targets): if it meets the targets,
   the errors are Gaussian at that scale and only their scale is unknown to the spread.
3. **The residual's local power as a third term.** ``std² = c² spread² + (b σ)² + d² e_W`` with
   ``e_W`` the local mean over W pixels of the noisy data's residual from the restored mean,
   neighbour products (lag 1 along each axis: the noise in the residual is white, missed detail is
   not, so no noise level is needed), clipped at 0. Fitted on all crops (in-sample coverage, the
   error–std correlation) and on half of the source pictures, measured on the other half.

Usage::

    python benchmarks/uncertainty_tails.py train/uncertainty_val9 [--noise gaussian] [--windows 15,31,63]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from scipy import ndimage

from restoration.diffusion.uncertainty import TARGETS, coverage, coverage_miss, pool_spread
from uncertainty_fit import sources

CROPS = 30


def load(folder: Path) -> dict[tuple[str, int], list[dict]]:
    """The draws by (noise model, level), only levels with every crop drawn."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for f in sorted(folder.glob("*.npz")):
        d = dict(np.load(f))
        groups.setdefault((str(d["noise"]), int(d["level"])), []).append(d)
    return {k: v for k, v in sorted(groups.items()) if len(v) == CROPS}


def residual_power(noisy: np.ndarray, mean: np.ndarray, window: int) -> np.ndarray:
    """Local mean over ``window`` pixels of the residual's neighbour products, clipped at 0 (0:
    none)."""
    if not window:
        return np.zeros(mean.shape)
    r = np.asarray(noisy, np.float64) - mean
    q = 0.5 * (r * np.roll(r, 1, 0) + r * np.roll(r, 1, 1))
    return np.maximum(ndimage.uniform_filter(q, window, mode="reflect"), 0.0)


def pixels(crops: list[dict], window: int, step: int = 1) -> tuple[np.ndarray, ...]:
    """Per pixel, in units of each crop's σ: error, pooled spread, σ (1) and the residual power."""
    out: list[list[np.ndarray]] = [[], [], [], []]
    for d in crops:
        g = d["samples"].astype(np.float64)
        mean, s = g.mean(0), float(d["sigma"])
        parts = ((d["clean"] - mean) / s, pool_spread(g.std(0)) / s, np.ones(mean.shape),
                 np.sqrt(residual_power(d["noisy"], mean, window)) / s)
        for o, a in zip(out, parts):
            o.append(a[::step, ::step].ravel())
    return tuple(np.concatenate(o) for o in out)


def calibrated(p: tuple[float, float, float], spread, sigma, power) -> np.ndarray:
    return np.sqrt((p[0] * spread) ** 2 + (p[1] * sigma) ** 2 + (p[2] * power) ** 2)


def fit(err, spread, sigma, power) -> tuple[float, float, float]:
    """``(c, b, d)`` closest to the targets: a grid, then a finer one around its best."""
    def loss(p):
        return coverage_miss(coverage(err, calibrated(p, spread, sigma, power)))

    terms = np.linspace(0, 3, 16) if power.any() else [0.0]
    p0 = min(itertools.product(np.linspace(0, 4, 21), np.linspace(0, 2, 11), terms), key=loss)
    return min(itertools.product(*(np.linspace(max(v - h, 0), v + h, 5) for v, h in zip(p0, (0.2, 0.1, 0.2)))),
               key=loss)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("draws", type=Path)
    p.add_argument("--windows", default="31", help="windows of the residual power (pixels)")
    p.add_argument("--noise", help="only this noise model's draws")
    p.add_argument("--pictures", type=Path, default=Path("train/pictures/validation"))
    a = p.parse_args()
    source = sources(a.pictures)
    for (noise, level), crops in load(a.draws).items():
        if a.noise and noise != a.noise:
            continue
        err, spread, _, _ = pixels(crops, 0)
        edges = np.quantile(spread, np.linspace(0, 1, 11))
        ratios = [np.quantile(np.abs(err[(spread >= lo) & (spread <= hi)]), [0.6827, 0.9545])
                  for lo, hi in zip(edges[:-1], edges[1:])]
        print(f"{noise} {level}: q95/q68 of |error| by spread decile "
              + " ".join(f"{q[1] / q[0]:.2f}" for q in ratios), flush=True)
        oracle = []
        for w in (5, 15, 31, 63):
            scale = np.concatenate([np.sqrt(ndimage.uniform_filter(((d["clean"] - d["samples"].mean(0))
                                                                    / float(d["sigma"])) ** 2, w)).ravel() for d in crops])
            k = min(np.linspace(0.5, 2, 61), key=lambda k: coverage_miss(coverage(err, k * scale)))
            oracle.append(f"W={w} " + "/".join(f"{v:.3f}" for v in coverage(err, k * scale)))
        print("  oracle local RMS error:", "; ".join(oracle), flush=True)
        pictures = sorted({source[str(d["photo"])] for d in crops})
        halves = [set(pictures[0::2]), set(pictures[1::2])]
        for w in [0, *map(int, a.windows.split(","))]:
            params = fit(*pixels(crops, w, 2))
            e, sp, sg, pw = pixels(crops, w)
            std = calibrated(params, sp, sg, pw)
            unseen = []
            for fit_on, test_on in (halves, halves[::-1]):
                q = fit(*pixels([d for d in crops if source[str(d["photo"])] in fit_on], w, 2))
                e2, sp2, sg2, pw2 = pixels([d for d in crops if source[str(d["photo"])] in test_on], w)
                unseen.append("/".join(f"{v:.3f}" for v in coverage(e2, calibrated(q, sp2, sg2, pw2))))
            label = f"third term W={w}" if w else "spread and floor"
            print(f"  {label}: c, b, d = {params[0]:.2f}, {params[1]:.2f}, {params[2]:.2f}; all crops "
                  + "/".join(f"{v:.3f}" for v in coverage(e, std))
                  + f", Pearson |error|-std {np.corrcoef(np.abs(e), std)[0, 1]:.2f}; unseen halves {' and '.join(unseen)}",
                  flush=True)
    print(f"Targets: ±1 std {TARGETS[0][1]:.3f} ± {TARGETS[0][2]}, ±2 std {TARGETS[1][1]:.3f} ± {TARGETS[1][2]}")


if __name__ == "__main__":
    main()
