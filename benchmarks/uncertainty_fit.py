"""Fit the std calibration table of the shipped model on the validation samples.

Reads the crops ``benchmarks/uncertainty_validation.py`` wrote (the validation pictures of
``data/debian_pictures.py``, each noise family at each level, 8 posterior samples each) and fits, per
noise family, level and sample count K (2, 4 and 8: disjoint groups of the 8 samples), the ``c`` and ``b``
of the calibrated variance ``c² · spread² + (b · σ)²`` (``spread²`` pooled over a window, as the
denoiser pools it) that bring the shares of errors within ±1 and ±2 std closest to 68.3 % and
95.4 % (:func:`restoration.diffusion.uncertainty.fit_coefficients`). Gaussian draws give the
table's top-level rows; Poisson and camera draws (both stabilized by the Anscombe transform) one
family's rows, for both noise models, ordered by their noise level in model units (each crop's
own). Writes ``restoration/models/default_uncertainty.json`` with where it came from and the
validation coverage it reaches.

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
#: Noise models whose draws are fitted together, as one family of rows (the Gaussian ones: the top level).
FAMILIES = {"gaussian": ("gaussian",), "anscombe": ("poisson", "poisson-gaussian")}


def errors_and_spreads(crops: list[dict], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Errors of the mean, spread (population std, pooled as the denoiser pools it) of disjoint
    groups of ``k`` samples, and the noise sigma of each pixel."""
    errs, spreads, sigmas = [], [], []
    for d in crops:
        draws = d["samples"]
        for g in range(len(draws) // k):
            group = draws[g * k:(g + 1) * k]
            errs.append((d["clean"] - group.mean(0)).ravel())
            spreads.append(pool_spread(group.std(0)).ravel())
            sigmas.append(np.full(group[0].size, float(d["sigma"])))
    return np.concatenate(errs), np.concatenate(spreads), np.concatenate(sigmas)


def fit_rows(by_level: dict[tuple[str, float], list[dict]]) -> dict:
    """The rows (``sigma``, ``samples``, ``scale``, ``floor``, ``validation``) of one family, its
    levels ordered by their mean noise sigma in model units."""
    mean_sigma = {key: float(np.mean([float(d["sigma"]) for d in ds])) for key, ds in by_level.items()}
    levels = sorted(by_level, key=mean_sigma.get)
    sigmas = [mean_sigma[key] for key in levels]
    scale = [[0.0] * len(levels) for _ in SAMPLE_COUNTS]
    floor = [[0.0] * len(levels) for _ in SAMPLE_COUNTS]
    rows = []
    for i, key in enumerate(levels):
        for j, k in enumerate(SAMPLE_COUNTS):
            err, spread, sigma = errors_and_spreads(by_level[key], k)
            c, b = fit_coefficients(err, spread, sigma)
            scale[j][i], floor[j][i] = round(float(c), 4), round(float(b), 4)
            raw = coverage(err, spread)
            cal = coverage(err, np.sqrt((c * spread) ** 2 + (b * sigma) ** 2))
            # The noise as drawn (σ /255 or peak photons) and as the model saw it (σ in model units, x 255/2).
            rows.append({"noise": key[0], "level": key[1], "model_sigma_255": round(sigmas[i] * 255 / 2, 2),
                         "samples": k, "pixels": int(err.size),
                         "spread_within_1": round(raw[0], 4), "spread_within_2": round(raw[1], 4),
                         "calibrated_within_1": round(cal[0], 4), "calibrated_within_2": round(cal[1], 4)})
            print(rows[-1], f"c={c:.3f} b={b:.3f}", flush=True)
    return {"sigma": [round(s, 6) for s in sigmas], "samples": list(SAMPLE_COUNTS), "scale": scale, "floor": floor,
            "validation": rows}


def main() -> None:
    """Fit every family, level and sample count; write the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("samples", type=Path, nargs="+", help="folders of the validation .npz files")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--pictures", default="train/pictures/validation",
                   help="the folder uncertainty_validation.py drew the crops from (recorded in the table)")
    a = p.parse_args()
    groups: dict[str, dict[tuple[str, int], list[dict]]] = {}
    draws: dict[tuple[Path, str, int | None], set[int]] = {}  # (folder, noise, seed) -> levels
    for folder in a.samples:
        for f in sorted(folder.glob("*.npz")):
            d = dict(np.load(f))
            noise = str(d.get("noise", "gaussian"))
            level = int(d["level"]) if "level" in d else round(float(d["sigma"]) * 255 / 2)
            family = next(name for name, members in FAMILIES.items() if noise in members)
            groups.setdefault(family, {}).setdefault((noise, level), []).append(d)
            draws.setdefault((folder, noise, int(d["seed"]) if "seed" in d else None), set()).add(level)
    photos = sorted({str(d["photo"]) for g in groups.values() for ds in g.values() for d in ds})
    fitted = {name: fit_rows(by_level) for name, by_level in groups.items()}
    gaussian = fitted.pop("gaussian")
    levels: dict[str, set[int]] = {}
    for (_, noise, _), lvs in draws.items():
        levels.setdefault(noise, set()).update(lvs)
    described = "; ".join(f"{noise} at {', '.join(map(str, sorted(lvs)))}"
                          + (" /255" if noise == "gaussian" else " peak photons") for noise, lvs in sorted(levels.items()))
    # Each folder's draws, with their seed, so that the recorded commands redraw them.
    commands = [f"python benchmarks/uncertainty_validation.py {a.pictures} -o {folder} --noise {noise} "
                f"--levels {','.join(map(str, sorted(lvs)))}" + ("" if seed is None else f" --seed {seed}")
                for (folder, noise, seed), lvs in draws.items()]
    table = {
        "format": FORMAT,
        "model": DEFAULT_MODEL.name,
        "model_sha256": file_digest(DEFAULT_MODEL),
        "fitted_on": f"{described}, on {len(photos)} validation pictures of {a.pictures} "
                     f"(data/debian_pictures.py; never trained on, not the test set), one 128 px crop each",
        "photos": photos,
        "commands": ["python data/debian_pictures.py -o train/pictures", *commands,
                     "python benchmarks/uncertainty_fit.py " + " ".join(sys.argv[1:])],
        "variance": f"c^2 * spread^2 + (b * sigma)^2; spread^2: the samples' variance averaged over {POOL}x{POOL} "
                    "pixels; sigma: the noise std in model units ([-1, 1] = the data's range)",
    } | gaussian | {"families": [{"noise": list(FAMILIES[name])} | rows for name, rows in fitted.items()]}
    a.out.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
