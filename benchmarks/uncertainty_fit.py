"""Fit the std calibration table of the shipped model on the validation samples.

Reads the crops ``benchmarks/uncertainty_validation.py`` wrote (the validation pictures of
``data/debian_pictures.py``, Gaussian noise at each level, 8 posterior samples each) and fits, per
noise level and sample count K (2, 4 and 8: disjoint groups of the 8 samples), the ``c`` and ``b``
of the calibrated variance ``c² · spread² + (b · σ)²`` (``spread²`` pooled over a window, as the
denoiser pools it) that bring the shares of errors within ±1 and ±2 std closest to 68.3 % and
95.4 % (:func:`restoration.diffusion.uncertainty.fit_coefficients`). Writes
``restoration/models/default_uncertainty.json`` with where it came from and the validation
coverage it reaches.

Usage::

    python benchmarks/uncertainty_fit.py train/uncertainty_val2 -o restoration/models/default_uncertainty.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from restoration.diffusion.files import DEFAULT_MODEL, file_digest
from restoration.diffusion.uncertainty import FORMAT, POOL, coverage, fit_coefficients, pool_spread

SAMPLE_COUNTS = (2, 4, 8)


def errors_and_spreads(crops: list[dict], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Errors of the mean and spread (population std, pooled as the denoiser pools it) of
    disjoint groups of ``k`` samples."""
    errs, spreads = [], []
    for d in crops:
        draws = d["samples"]
        for g in range(len(draws) // k):
            group = draws[g * k:(g + 1) * k]
            errs.append((d["clean"] - group.mean(0)).ravel())
            spreads.append(pool_spread(group.std(0)).ravel())
    return np.concatenate(errs), np.concatenate(spreads)


def main() -> None:
    """Fit every level and sample count; write the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("samples", type=Path, help="folder of the validation .npz files")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--pictures", default="train/pictures/validation",
                   help="the folder uncertainty_validation.py drew the crops from (recorded in the table)")
    a = p.parse_args()
    by_level: dict[float, list[dict]] = {}
    for f in sorted(a.samples.glob("*.npz")):
        d = dict(np.load(f))
        by_level.setdefault(float(d["sigma"]), []).append(d)
    sigmas = sorted(by_level)
    scale = [[0.0] * len(sigmas) for _ in SAMPLE_COUNTS]
    floor = [[0.0] * len(sigmas) for _ in SAMPLE_COUNTS]
    rows = []
    for i, s in enumerate(sigmas):
        for j, k in enumerate(SAMPLE_COUNTS):
            err, spread = errors_and_spreads(by_level[s], k)
            c, b = fit_coefficients(err, spread, s)
            scale[j][i], floor[j][i] = round(float(c), 4), round(float(b), 4)
            raw = coverage(err, spread)
            cal = coverage(err, np.sqrt((c * spread) ** 2 + (b * s) ** 2))
            rows.append({"sigma_255": round(s * 255 / 2, 2), "samples": k, "pixels": int(err.size),
                         "spread_within_1": round(raw[0], 4), "spread_within_2": round(raw[1], 4),
                         "calibrated_within_1": round(cal[0], 4), "calibrated_within_2": round(cal[1], 4)})
            print(rows[-1], f"c={c:.3f} b={b:.3f}", flush=True)
    photos = sorted({str(d["photo"]) for ds in by_level.values() for d in ds})
    # The draws' seed, so that the recorded command redraws them (files from before it was stored: none).
    seeds = sorted({int(d["seed"]) for ds in by_level.values() for d in ds if "seed" in d})
    seed = f" --seed {seeds[0]}" if len(seeds) == 1 else ""
    table = {
        "format": FORMAT,
        "model": DEFAULT_MODEL.name,
        "model_sha256": file_digest(DEFAULT_MODEL),
        "fitted_on": f"Gaussian noise at {len(sigmas)} levels on {len(photos)} validation pictures of {a.pictures} "
                     f"(data/debian_pictures.py; never trained on, not the test set), one 128 px crop each",
        "photos": photos,
        "commands": ["python data/debian_pictures.py -o train/pictures",
                     f"python benchmarks/uncertainty_validation.py {a.pictures} -o {a.samples}{seed}",
                     "python benchmarks/uncertainty_fit.py " + " ".join(sys.argv[1:])],
        "variance": f"c^2 * spread^2 + (b * sigma)^2; spread^2: the samples' variance averaged over {POOL}x{POOL} "
                    "pixels; sigma: the noise std in model units ([-1, 1] = the data's range)",
        "sigma": [round(s, 6) for s in sigmas],
        "samples": list(SAMPLE_COUNTS),
        "scale": scale,
        "floor": floor,
        "validation": rows,
    }
    a.out.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
