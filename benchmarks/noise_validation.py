"""Characterize-noise on a validation set (to decide on) and a test set (never decided on).

Protocol (fixed before the first run; one seeded generator per set):

- **Images.** Validation: synthetic images (a fluorescence phantom, flat discs on a ramp) and
  scikit-image's training images (``restoration.diffusion.data.TRAIN``, natural and scientific
  ones). Test: scikit-image's held-out images (``HELD_OUT``: camera, astronaut, coffee, coins) and
  the Debian held-out photographs (``python data/debian_photos.py -o train/photos`` writes
  ``train/photos/held_out``). Grayscale, central crops of ``--size`` pixels.
- **Camera data** (``y = gain * Poisson(photons) + N(offset, read**2)``, rounded, uint16, as
  :func:`~restoration.noise.camera.camera_counts`): per image ``--settings`` camera settings
  drawn log-uniformly over gain 0.5-8 ADU/photon, read noise 1-10 ADU, 5-1000 photons at the
  brightest pixel, and the offset uniformly over 0-1000 ADU (a fifth of them exactly 0: clipped at
  the floor). Each setting twice: *with* a dark region (the image's darkest 5 % photon-free) and
  *without* (the darkest pixel at 10 % of the peak). Right: ``poisson-gaussian`` selected by
  ``characterize_array(noise="auto")``; parameters right: gain within 10 % and the intercept of
  the noise level function ``b = read**2 - gain * offset`` within 10 % (or the offset within 2 ADU
  and the read noise within 20 %).
- **Noise families** on float images in [0.05, 0.95] (each model's own ``simulate``), two
  strengths each, plus uint8-saved (rounded, clipped) Gaussian, Laplace and salt-and-pepper:
  every built-in model and a Laplace-noise plugin (:class:`LaplaceNoise`, registered through the
  plugin manager as an installed plugin's object is). Right: the simulated model or one nesting
  it (poisson-gaussian for poisson).
- **Speed**: ``characterize_array`` on a few of the cases, this checkout against ``--baseline``
  (a checkout of the code before this change), in the same run.

Targets (issue 22): camera model right >= 90 %, camera parameters right >= 90 %, built-in models
right >= 95 %, the plugin right >= 85 % on its own noise and chosen for built-in noise <= 5 %.

Usage::

    python benchmarks/noise_validation.py validation [--baseline DIR]
    python benchmarks/noise_validation.py test
    python benchmarks/noise_validation.py validation --estimate-only    # the camera estimate alone
    python benchmarks/noise_validation.py validation --oracle           # which camera cases any selector can get right
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from restoration import NoiseModel, Observation, hookimpl
from restoration.noise.camera import camera_counts, fluorescence_phantom
from restoration.noise import select
from restoration.noise.select import characterize_array
from restoration.plugins import load_plugins

ROOT = Path(__file__).resolve().parent.parent
HELD_OUT_PHOTOS = ROOT / "train" / "photos" / "held_out"
# Two strengths per family (float data in [0.05, 0.95]).
FAMILIES = ([("gaussian", {"sigma": s}) for s in (0.03, 0.1)]
            + [("poisson", {"gain": g}) for g in (0.003, 0.03)]
            + [("poisson-gaussian", {"gain": g, "sigma": s}) for g, s in ((0.005, 0.03), (0.03, 0.06))]
            + [("speckle", {"sigma": s}) for s in (0.1, 0.3)]
            + [("salt-and-pepper", {"amount": a}) for a in (0.02, 0.1)]
            + [("laplace", {"scale": b}) for b in (0.02, 0.06)])
# uint8-saved files, the commonest input: rounded to 1/255 and clipped.
UINT8 = [("gaussian", {"sigma": 0.05}), ("laplace", {"scale": 0.04}), ("salt-and-pepper", {"amount": 0.05})]
PLUGIN = "laplace"


class LaplaceNoise(NoiseModel):
    """Additive Laplace noise ``y = x + Laplace(0, scale)``, written as a plugin author would."""

    name = "laplace"
    params = ("scale",)
    example_params = {"scale": 0.05}

    def simulate(self, clean, rng, *, scale):
        """``clean`` plus Laplace noise."""
        x = np.asarray(clean, dtype=np.float64)
        return x + rng.laplace(0.0, scale, x.shape)

    def estimate(self, noisy):
        """``scale``: the mean absolute difference of horizontal neighbours over 2 (robust enough;
        the host's profile likelihood refines it)."""
        a = np.asarray(noisy, dtype=np.float64)
        d = np.abs(np.diff(a, axis=-1))
        return {"scale": float(np.median(d[np.isfinite(d)])) / 1.1}

    def log_likelihood(self, noisy, clean, *, scale):
        """Mean Laplace log density of ``noisy - clean``."""
        r = np.asarray(noisy, dtype=np.float64) - np.asarray(clean, dtype=np.float64)
        b = max(float(scale), 1e-12)
        return float(np.mean(-np.abs(r) / b - math.log(2.0 * b)))

    def to_gaussian(self, noisy, *, scale):
        """The data, with the Laplace std."""
        return Observation(np.asarray(noisy, dtype=np.float64), scale * math.sqrt(2.0))

    def from_gaussian(self, restored, *, scale):
        """Identity."""
        return np.asarray(restored, dtype=np.float64)


class LaplacePlugin:
    """The plugin object: its hook registered under another name, by ``specname``."""

    @hookimpl(specname="restoration_noise_models")
    def noise_models(self):
        """The Laplace model."""
        return [LaplaceNoise()]


def _gray(image: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray
    from skimage.util import img_as_float64

    image = img_as_float64(image)
    if image.ndim == 3:
        image = rgb2gray(image[..., :3])
    return image


def _centre(image: np.ndarray, side: int) -> np.ndarray:
    y, x = (max(0, (n - side) // 2) for n in image.shape[:2])
    return image[y:y + side, x:x + side]


def synthetic(size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A fluorescence phantom and flat discs on a ramp, in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    discs = 0.2 + 0.5 * xx
    for _ in range(12):
        cy, cx, r = rng.random(3) * (1, 1, 0.15)
        discs[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.05, 0.95)
    return {"synthetic_phantom": fluorescence_phantom(rng, (size, size), nuclei=size // 12),
            "synthetic_discs": discs}


def images_for(part: str, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The validation or the test images (grayscale float in [0, 1], central crops)."""
    from skimage import data, io

    from restoration.diffusion.data import HELD_OUT, TRAIN

    if part == "validation":
        out = synthetic(size, rng)
        for name in TRAIN:
            image = _gray(getattr(data, name)())
            if min(image.shape) >= 128 and np.ptp(image) > 0.2 and name not in ("checkerboard", "logo",
                                                                                 "colorwheel", "shepp_logan_phantom"):
                out[name] = _centre(image, size)     # (drawings and phantoms are not photographs)
        return out
    out = {name: _centre(_gray(getattr(data, name)()), size) for name in HELD_OUT}
    photos = sorted(HELD_OUT_PHOTOS.glob("*.png"))
    if not photos:
        print(f"(no Debian held-out photographs in {HELD_OUT_PHOTOS}: run data/debian_photos.py)")
    for p in photos:
        out[p.stem] = _centre(_gray(io.imread(p)), size)
    return out


def camera_settings(rng: np.random.Generator, k: int) -> list[dict]:
    """``k`` camera settings over the issue's ranges."""
    out = []
    for _ in range(k):
        offset = 0.0 if rng.random() < 0.2 else float(rng.uniform(0, 1000))
        out.append({"gain": float(np.exp(rng.uniform(math.log(0.5), math.log(8.0)))),
                    "read": float(np.exp(rng.uniform(0.0, math.log(10.0)))),
                    "offset": round(offset, 1), "peak": float(np.exp(rng.uniform(math.log(5.0), math.log(1000.0))))})
    return out


def photon_rate(image: np.ndarray, dark: bool) -> np.ndarray:
    """Photon rate (peak 1): the darkest 5 % photon-free, or the darkest pixel at 10 % of the peak."""
    lo, hi = (np.quantile(image, 0.05), image.max()) if dark else (image.min(), image.max())
    r = np.clip((image - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    return r if dark else 0.1 + 0.9 * r


def camera_part(images, models, rng, k: int, saved: list, estimate_only: bool = False,
                oracle: bool = False) -> list[dict]:
    """Characterize camera data of every image and setting; a row per case (a few kept in ``saved``).

    ``estimate_only``: the ``poisson-gaussian`` model's own estimate instead, no selection (its
    parameters right or not, whichever model ``auto`` would choose). ``oracle``: also
    :func:`oracle_margin` and :func:`texture_free` per case (the columns ``margin`` and ``free``)."""
    rows = []
    print(f"\ncamera data: {len(images)} images x {k} settings x (dark region, none), uint16")
    print(f"{'image':<28} {'dark':>4} {'gain':>5} {'read':>5} {'offset':>6} {'peak':>6} | {'noise':<16} "
          f"{'gain est':>8} {'b est':>9} {'b true':>9} {'off est':>8} {'read est':>8} {'basis':<12} ok"
          + ("  margin  free" if oracle else ""))
    for name, image in images.items():
        for s in camera_settings(rng, k):
            for dark in (True, False):
                rate = s["peak"] * photon_rate(image, dark)
                y = camera_counts(rng, rate, gain=s["gain"], sigma=s["read"], offset=s["offset"])
                if len(saved) < 6 and not dark:
                    saved.append(y)
                row = ({"noise": "poisson-gaussian", **models["poisson-gaussian"].estimate(y)} if estimate_only
                       else characterize_array(y, models=models))
                g, r, o = (row.get(k_, math.nan) for k_ in ("gain", "sigma", "offset"))
                b_true = s["read"] ** 2 - s["gain"] * s["offset"]
                b_est = r * r - g * o
                params_ok = bool(abs(g / s["gain"] - 1) <= 0.1 and (
                    abs(b_est - b_true) <= 0.1 * abs(b_true)
                    or (abs(o - s["offset"]) <= 2 and abs(r / s["read"] - 1) <= 0.2)))
                model_ok = row["noise"] == "poisson-gaussian"
                margin = oracle_margin(y, s["gain"] * rate + s["offset"], s, models) if oracle else math.nan
                free = texture_free(rate, s) if oracle else math.nan
                rows.append({"image": name, "dark": dark, **s, "noise": row["noise"], "model_ok": model_ok,
                             "params_ok": model_ok and params_ok, "basis": row.get("offset_basis", "-"),
                             "margin": margin, "free": free})
                print(f"{name[:28]:<28} {'yes' if dark else 'no':>4} {s['gain']:5.2f} {s['read']:5.2f} "
                      f"{s['offset']:6.1f} {s['peak']:6.1f} | {row['noise']:<16} {g:8.3f} {b_est:9.1f} {b_true:9.1f} "
                      f"{o:8.1f} {r:8.2f} {row.get('offset_basis', '-'):<12} "
                      f"{'model' if model_ok else '-'}{'+params' if model_ok and params_ok else ''}"
                      + (f"  {margin:+.5f}  {free:.2f}" if oracle else ""), flush=True)
    return rows


#: A pixel is texture-free when the clean image's share of its residual's variance is at most this
#: fraction of the noise's.
TEXTURE_FREE = 0.1


def texture_free(rate: np.ndarray, s: dict) -> float:
    """The share of pixels where the clean image adds at most :data:`TEXTURE_FREE` of the noise
    variance to the residual the camera estimate measures (the pixel minus the mean of its four
    diagonal neighbours, :func:`restoration.noise.camera.parity_stats`): where few are, every
    intensity's variance carries texture, and no estimate from the image alone can tell it from
    shot noise."""
    clean = s["gain"] * rate
    resid = clean[1:-1, 1:-1] - 0.25 * (clean[:-2, :-2] + clean[2:, 2:] + clean[:-2, 2:] + clean[2:, :-2])
    noise = (s["gain"] * clean[1:-1, 1:-1] + s["read"] ** 2) * (1.0 + 4.0 / 16)
    return float(np.mean(resid ** 2 <= TEXTURE_FREE * noise))


def oracle_margin(y: np.ndarray, expected: np.ndarray, s: dict, models) -> float:
    """How far the true camera model beats the best ``poisson`` and ``gaussian`` fits when the clean
    image is known (mean log-likelihood per pixel, BIC-penalized as in selection), on the pixels
    :func:`~restoration.noise.select.select_noise` compares. Below its tie tolerance, no selector
    working from these pixels can tell the camera model from a simpler one: the data hold no
    evidence for it (a narrow intensity range, or read noise small against the shot noise)."""
    from scipy import optimize

    sample = select.sample_planes(y, budget=select.SAMPLE_BUDGET)
    _, idx = select.compared_pixels(sample)
    pixels = (sample.reshape(-1)[idx][None, :], expected.reshape(-1)[idx][None, :])
    n = idx.size

    def best(name: str, key: str) -> float:
        """The model's highest likelihood over its one parameter (log scale, 1e-4..1e4)."""
        res = optimize.minimize_scalar(lambda t: -select._loglik(models[name], *pixels, {key: math.exp(t)}),
                                       bounds=(math.log(1e-4), math.log(1e4)), method="bounded",
                                       options={"xatol": 1e-3})
        return select._bic(-float(res.fun), 1, n)
    true = select._bic(select._loglik(models["poisson-gaussian"], *pixels,
                                      {"gain": s["gain"], "sigma": s["read"], "offset": s["offset"]}), 3, n)
    return true - max(best("poisson", "gain"), best("gaussian", "sigma"))


def family_part(images, models, rng, saved: list) -> Counter:
    """Characterize every noise family on every image: the (true, selected) counts."""
    confusion: Counter = Counter()
    cases = [(t, p, "float") for t, p in FAMILIES] + [(t, p, "uint8") for t, p in UINT8]
    print(f"\nnoise families: {len(images)} images x {len(cases)} cases, among {', '.join(models)}")
    for name, image in images.items():
        clean = 0.05 + 0.9 * image
        for true, params, fmt in cases:
            noisy = models[true].simulate(clean, rng, **params)
            if fmt == "uint8":
                noisy = np.clip(np.rint(noisy * 255), 0, 255).astype(np.uint8)
            if len(saved) < 12:
                saved.append(noisy)
            got = characterize_array(noisy, models=models)["noise"]
            confusion[(true, got)] += 1
            if not (got == true or true in models[got].nests):
                print(f"  wrong: {name}: {true} {params} {fmt} -> {got}", flush=True)
    return confusion


def share(k: int, n: int) -> str:
    """``k/n = p %``."""
    return f"{k}/{n} = {100 * k / max(n, 1):.1f} %"


def summarize(cam: list[dict], confusion: Counter, models) -> None:
    """The tables against the targets."""
    print("\nsummary, camera data (poisson-gaussian right; parameters: gain within 10 % and intercept within 10 %,"
          " or offset +-2 ADU and read noise +-20 %)")
    groups = {"all": cam, "with a dark region": [r for r in cam if r["dark"]],
              "without a dark region": [r for r in cam if not r["dark"]],
              "synthetic images": [r for r in cam if r["image"].startswith("synthetic")],
              "photographs / scientific images": [r for r in cam if not r["image"].startswith("synthetic")],
              "offset 0 (clipped at the floor)": [r for r in cam if r["offset"] == 0]}
    print(f"  {'group':<34} {'model right':>20} {'parameters right':>20}   target >= 90 % each")
    for label, rs in groups.items():
        print(f"  {label:<34} {share(sum(r['model_ok'] for r in rs), len(rs)):>20} "
              f"{share(sum(r['params_ok'] for r in rs), len(rs)):>20}")
    if any(math.isfinite(r["margin"]) for r in cam):
        tie = select.TIE_TOLERANCE
        for label, rs in (("oracle: evidence for the camera model", [r for r in cam if r["margin"] > tie]),
                          ("oracle: none (a simpler model ties)", [r for r in cam if r["margin"] <= tie])):
            print(f"  {label:<34} {share(sum(r['model_ok'] for r in rs), len(rs)):>20} "
                  f"{share(sum(r['params_ok'] for r in rs), len(rs)):>20}")
        for label, rs in (("oracle: texture-free pixels >= 50 %", [r for r in cam if r["free"] >= 0.5]),
                          ("oracle: texture-free pixels < 50 %", [r for r in cam if r["free"] < 0.5])):
            print(f"  {label:<34} {share(sum(r['model_ok'] for r in rs), len(rs)):>20} "
                  f"{share(sum(r['params_ok'] for r in rs), len(rs)):>20}")
    print("  offset basis stated: " + ", ".join(f"{b}: {n}" for b, n in Counter(r["basis"] for r in cam).items()))
    print("  chosen instead: " + ", ".join(f"{b}: {n}" for b, n in Counter(
        r["noise"] for r in cam if not r["model_ok"]).items()))
    labels = list(dict.fromkeys(t for t, _ in confusion))
    got_labels = labels + sorted({g for _, g in confusion} - set(labels))
    print("\nsummary, noise families (rows: true, columns: selected)")
    print("    " + " " * 17 + "".join(f"{g[:8]:>9}" for g in got_labels) + "    right")
    for t in labels:
        n = sum(confusion[(t, g)] for g in got_labels)
        ok = sum(confusion[(t, g)] for g in got_labels if g == t or t in models[g].nests)
        print(f"    {t:<17}" + "".join(f"{confusion[(t, g)]:>9}" for g in got_labels) + f"  {100 * ok / n:5.1f} %")
    builtin = [(t, g) for t in labels if t != PLUGIN for g in got_labels]
    n_b = sum(confusion[c] for c in builtin)
    ok_b = sum(confusion[(t, g)] for t, g in builtin if g == t or t in models[g].nests)
    n_p = sum(confusion[(PLUGIN, g)] for g in got_labels)
    wrongly = sum(confusion[(t, PLUGIN)] for t in labels if t != PLUGIN)
    print(f"  built-in models right: {share(ok_b, n_b)}   (target >= 95 %)")
    print(f"  plugin ({PLUGIN}) right on its own noise: {share(confusion[(PLUGIN, PLUGIN)], n_p)}   (target >= 85 %)")
    print(f"  plugin chosen for built-in noise: {share(wrongly, n_b)}   (target <= 5 %)")


TIMER = """
import json, sys, time, numpy as np
from restoration.noise import select
from restoration.noise.select import characterize_array
from restoration.plugins import registry
models = registry().noise_models
arrays = np.load(sys.argv[1])
characterize_array(arrays["a0"], models=models)      # warm-up (imports, caches)
out = []
for key in sorted(arrays.files, key=lambda k: int(k[1:])):
    t = time.perf_counter(); characterize_array(arrays[key], models=models); out.append(time.perf_counter() - t)
print(json.dumps(out))
"""


def speed(saved: list, baseline: str) -> None:
    """Seconds per characterize_array call on the same arrays: this checkout and the baseline,
    alternated twice, in fresh processes with the same registry."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arrays.npz"
        np.savez(path, **{f"a{i}": a for i, a in enumerate(saved)})
        times = {"this checkout": [], "baseline": []}
        for _ in range(2):
            for label, root in (("this checkout", str(ROOT)), ("baseline", baseline)):
                env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, str(Path(root) / "flows")])}
                res = subprocess.run([sys.executable, "-c", TIMER, str(path)], env=env, capture_output=True,
                                     text=True, check=True)
                times[label] += json.loads(res.stdout.strip().splitlines()[-1])
    print(f"\nspeed: characterize_array on {len(saved)} arrays (camera uint16 and family cases), twice each")
    for label, t in times.items():
        print(f"  {label:<14} mean {np.mean(t):.2f} s per array, median {np.median(t):.2f} s")
    print(f"  ratio (this / baseline, means): {np.mean(times['this checkout']) / np.mean(times['baseline']):.2f}"
          f"   (target <= 2)")


def restoration_part(images: dict[str, np.ndarray], rng: np.random.Generator, names: list[str]) -> None:
    """PSNR (photons, range = the peak) of ``restoration.denoise`` with the noise found by
    ``auto`` and with the true camera parameters, the shipped model, with and without a dark region."""
    import restoration

    settings = [{"gain": 2.0, "read": 3.0, "offset": 100.0, "peak": 100.0},
                {"gain": 4.0, "read": 6.0, "offset": 500.0, "peak": 20.0},
                {"gain": 1.0, "read": 2.0, "offset": 0.0, "peak": 300.0}]
    print("\nrestoration (shipped model, 256 x 256 crops): PSNR in photons, auto against the true noise given")
    print(f"{'image':<28} {'dark':>4} {'gain':>5} {'read':>5} {'offset':>6} {'peak':>6} | {'noisy':>6} {'auto':>6} "
          f"{'true':>6} {'auto-true':>9}")
    diffs = []
    for name in names:
        image = _centre(images[name], 256)
        for s in settings:
            for dark in (True, False):
                rate = s["peak"] * photon_rate(image, dark)
                y = camera_counts(rng, rate, gain=s["gain"], sigma=s["read"], offset=s["offset"])

                def psnr(est, s=s, rate=rate) -> float:
                    photons = (np.asarray(est, np.float64) - s["offset"]) / s["gain"]
                    return float(10 * np.log10(s["peak"] ** 2 / np.mean((photons - rate) ** 2)))
                auto = psnr(restoration.denoise(y))
                true = psnr(restoration.denoise(y, gain=s["gain"], read_noise=s["read"], offset=s["offset"]))
                diffs.append(auto - true)
                print(f"{name[:28]:<28} {'yes' if dark else 'no':>4} {s['gain']:5.2f} {s['read']:5.2f} "
                      f"{s['offset']:6.1f} {s['peak']:6.1f} | {psnr(y):6.2f} {auto:6.2f} {true:6.2f} {auto - true:+9.2f}",
                      flush=True)
    d = np.array(diffs)
    print(f"  auto - true: mean {d.mean():+.2f} dB, worst {d.min():+.2f} dB; within 0.2 dB: "
          f"{share(int(np.sum(d >= -0.2)), d.size)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=("validation", "test"))
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--settings", type=int, default=3, help="camera settings per image")
    ap.add_argument("--baseline", help="a checkout of the code before this change (speed comparison)")
    ap.add_argument("--restore", default="", help="comma-separated images also restored (auto against true noise)")
    ap.add_argument("--only-restore", action="store_true", help="skip the characterize tables")
    ap.add_argument("--oracle", action="store_true",
                    help="also the margin of the true camera model over poisson and gaussian, the clean image known")
    ap.add_argument("--estimate-only", action="store_true",
                    help="camera data only, the poisson-gaussian estimate without selection (parameters right)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(20261206 if args.part == "validation" else 20261207)
    models = load_plugins([LaplacePlugin()]).noise_models
    images = images_for(args.part, args.size, rng)
    t0 = time.time()
    print(f"{args.part} set: {', '.join(images)} ({args.size} x {args.size} crops); models: {', '.join(models)}")
    saved: list = []
    if args.estimate_only:
        cam = camera_part(images, models, rng, args.settings, saved, estimate_only=True)
        for label, rs in (("all", cam), ("with a dark region", [r for r in cam if r["dark"]]),
                          ("without a dark region", [r for r in cam if not r["dark"]])):
            print(f"  poisson-gaussian estimate, parameters right, {label}: {share(sum(r['params_ok'] for r in rs), len(rs))}")
    elif not args.only_restore:
        cam = camera_part(images, models, rng, args.settings, saved, oracle=args.oracle)
        confusion = family_part(images, models, rng, saved)
        summarize(cam, confusion, models)
        if args.baseline:
            speed(saved, args.baseline)
    if args.restore:
        restoration_part(images, np.random.default_rng([rng.integers(1 << 31), 1]), args.restore.split(","))
    print(f"\ntotal {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
