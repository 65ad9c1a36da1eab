"""Fit the std calibration table of the shipped model on the validation samples.

Reads the crops ``benchmarks/uncertainty_validation.py`` wrote (the validation pictures of
``data/debian_pictures.py``, each noise model at several levels, 8 posterior samples each) and fits,
per noise model and sample count K (2, 4 and 8: disjoint groups of the 8 samples), the ``c`` and
``b`` of the calibrated variance ``c² · spread² + (b · σ)²`` (``spread²`` pooled over a window, as
the denoiser pools it) that bring the shares of errors within ±1 and ±2 std closest to 68.3 % and
95.4 % (:func:`restoration.diffusion.uncertainty.fit_coefficients`), level by level. Gaussian draws
give the table's top-level rows; Poisson and camera draws (both stabilized by the Anscombe
transform, their truth as a run maps it) rows of their own each: pooled by σ, the two models'
errors need different corrections (a camera at 20 photons got c = 1.42 to 1.58 from Poisson rows
against 1.30 from its own). Writes ``restoration/models/default_uncertainty.json`` with where it
came from and the validation coverage it reaches.

``--holdout`` measures instead how well such a table carries to pictures it was not fitted on:
two folds of the source pictures (``manifest.csv`` beside ``--pictures``: a picture's crops stay
in one fold), each fitted on one half and measured on the other; it prints each level's coverage
on the unseen half. (Curves of degree 0 to 2 in log σ fitted through every level, tried on
halves of the crops in commit 8aff85d, carried worse than rows fitted level by level.)

Usage::

    python benchmarks/uncertainty_fit.py train/uncertainty_val7 -o restoration/models/default_uncertainty.json
    python benchmarks/uncertainty_fit.py train/uncertainty_val7 --holdout
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

from restoration.diffusion.files import DEFAULT_MODEL, file_digest
from restoration.diffusion.uncertainty import FORMAT, POOL, TARGETS, coverage, fit_coefficients, pool_spread

SAMPLE_COUNTS = (2, 4, 8)
#: Fitting uses every STEP-th pixel of each crop along each axis (the pooled spread and the
#: errors change little from one pixel to the next); coverage is measured on every pixel.
STEP = 2


def errors_and_spreads(crops: list[dict], k: int, step: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Errors of the mean, spread (population std, pooled as the denoiser pools it) of disjoint
    groups of ``k`` samples, and the noise sigma of each pixel (every ``step``-th along each axis)."""
    errs, spreads, sigmas = [], [], []
    for d in crops:
        draws = d["samples"]
        for g in range(len(draws) // k):
            group = draws[g * k:(g + 1) * k]
            errs.append((d["clean"] - group.mean(0))[::step, ::step].ravel())
            spreads.append(pool_spread(group.std(0))[::step, ::step].ravel())
            sigmas.append(np.full(errs[-1].size, float(d["sigma"])))
    return np.concatenate(errs), np.concatenate(spreads), np.concatenate(sigmas)


def mean_sigma(crops: list[dict]) -> float:
    """The level's noise in model units: the geometric mean of its crops' (each its own range)."""
    return float(np.exp(np.mean([np.log(float(d["sigma"])) for d in crops])))


def fit_model(by_level: dict[int, list[dict]], noise: str) -> dict:
    """The rows (``sigma``, ``samples``, ``scale``, ``floor``, ``validation``) of one noise model,
    its levels ordered by their noise in model units."""
    levels = sorted(by_level, key=lambda lv: mean_sigma(by_level[lv]))
    scale = [[0.0] * len(levels) for _ in SAMPLE_COUNTS]
    floor = [[0.0] * len(levels) for _ in SAMPLE_COUNTS]
    rows = []
    for i, lv in enumerate(levels):
        for j, k in enumerate(SAMPLE_COUNTS):
            c, b = fit_coefficients(*errors_and_spreads(by_level[lv], k, STEP))
            scale[j][i], floor[j][i] = round(c, 4), round(b, 4)
            err, spread, sigma = errors_and_spreads(by_level[lv], k)
            raw, cal = coverage(err, spread), coverage(err, np.hypot(c * spread, b * sigma))
            # The noise as drawn (σ /255 or peak photons) and as the model saw it (σ in model units, x 255/2).
            rows.append({"noise": noise, "level": lv, "model_sigma_255": round(mean_sigma(by_level[lv]) * 255 / 2, 2),
                         "samples": k, "pixels": int(err.size),
                         "spread_within_1": round(raw[0], 4), "spread_within_2": round(raw[1], 4),
                         "calibrated_within_1": round(cal[0], 4), "calibrated_within_2": round(cal[1], 4)})
            print(rows[-1], f"c={c:.3f} b={b:.3f}", flush=True)
    return {"sigma": [round(mean_sigma(by_level[lv]), 6) for lv in levels], "samples": list(SAMPLE_COUNTS),
            "scale": scale, "floor": floor, "validation": rows}


def sources(pictures: Path) -> dict[str, str]:
    """Each validation crop's source picture (``manifest.csv`` beside the crops' folder, as
    ``data/debian_pictures.py`` writes it; two crops may come from one picture)."""
    with open(pictures.parent / "manifest.csv", newline="") as f:
        # Only this folder's rows: the test and validation folders share file names.
        return {Path(r["file"]).name: f"{r['package']}/{r['path']}" for r in csv.DictReader(f)
                if Path(r["file"]).parent.name == pictures.name}


def holdout(by_level: dict[int, list[dict]], noise: str, source: dict[str, str], k: int = 8) -> None:
    """Fit each level on the crops of half the source pictures and measure it on the other half's,
    both ways; prints each level's coverage on the unseen half and how many cells met both targets."""
    pictures = sorted({source[str(d["photo"])] for ds in by_level.values() for d in ds})
    halves = [set(pictures[0::2]), set(pictures[1::2])]
    cells = []
    for fit_on, test_on in (halves, halves[::-1]):
        for lv in sorted(by_level):
            c, b = fit_coefficients(*errors_and_spreads([d for d in by_level[lv] if source[str(d["photo"])] in fit_on],
                                                        k, STEP))
            err, spread, sigma = errors_and_spreads([d for d in by_level[lv] if source[str(d["photo"])] in test_on], k)
            cov = coverage(err, np.hypot(c * spread, b * sigma))
            cells.append((lv, cov, all(abs(v - t) <= tol for v, (_, t, tol) in zip(cov, TARGETS))))
    print(f"{noise} K={k}: {sum(met for *_, met in cells)}/{len(cells)} met on the unseen half | "
          + " ".join(f"{lv}:{cov[0]:.3f}/{cov[1]:.3f}{'' if met else '✗'}" for lv, cov, met in cells), flush=True)


def main() -> None:
    """Fit every noise model, level and sample count; write the table (or measure fits on halves)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("samples", type=Path, nargs="+", help="folders of the validation .npz files")
    p.add_argument("-o", "--out", type=Path)
    p.add_argument("--holdout", action="store_true", help="measure fits on half the pictures on the other half")
    p.add_argument("--pictures", default="train/pictures/validation",
                   help="the folder uncertainty_validation.py drew the crops from (recorded in the table)")
    a = p.parse_args()
    if not (a.holdout or a.out):
        p.error("give -o OUT (or --holdout)")
    groups: dict[str, dict[int, list[dict]]] = {}
    draws: dict[tuple[Path, str, int | None], set[int]] = {}  # (folder, noise, seed) -> levels
    for folder in a.samples:
        for f in sorted(folder.glob("*.npz")):
            d = dict(np.load(f))
            noise = str(d.get("noise", "gaussian"))
            level = int(d["level"]) if "level" in d else round(float(d["sigma"]) * 255 / 2)
            groups.setdefault(noise, {}).setdefault(level, []).append(d)
            draws.setdefault((folder, noise, int(d["seed"]) if "seed" in d else None), set()).add(level)
    source = sources(Path(a.pictures))
    if a.holdout:
        for noise, by_level in groups.items():
            holdout(by_level, noise, source)
        return
    photos = sorted({str(d["photo"]) for g in groups.values() for ds in g.values() for d in ds})
    fitted = {noise: fit_model(by_level, noise) for noise, by_level in groups.items()}
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
        "fitted_on": f"{described}, on the {len(photos)} validation crops of {a.pictures} "
                     f"({len({source[p] for p in photos})} pictures; data/debian_pictures.py; never trained on, "
                     "not the test set), one 128 px crop of each",
        "photos": photos,
        "commands": ["python data/debian_pictures.py -o train/pictures", *commands,
                     "python benchmarks/uncertainty_fit.py " + " ".join(sys.argv[1:])],
        "variance": f"c^2 * spread^2 + (b * sigma)^2; spread^2: the samples' variance averaged over {POOL}x{POOL} "
                    "pixels; sigma: the noise std in model units ([-1, 1] = the data's range)",
    } | gaussian | {"families": [{"noise": [noise]} | rows for noise, rows in fitted.items()]}
    a.out.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
