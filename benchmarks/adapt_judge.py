"""Which score picks the adaptation checkpoint that restores best, without a clean image?

The decision record for ``restoration.diffusion.adapt.held_out_error`` (the judge that decides
which weights ``restoration adapt`` writes). On the microscopy benchmark's *validation* images
(``benchmarks/microscopy.py``: seed 20261213, 3 adapt and 3 held-out fluorescence phantoms per
level, camera noise gain 2, read noise 3, offset 100, ``--peaks`` photons at the peak), the
shipped model is adapted as the benchmark does (n2n, lr 1e-5, patch 64, batch 4, one thread), a
checkpoint every ``--every`` steps. Each checkpoint (and the base model, step 0) gets its true
PSNR (restored with the true noise, photons, both sets) and these scores (model units, noise
found by ``auto``):

- ``sure, data units``: Stein's unbiased risk estimate of the one-step restoration's error,
  relative to the noise variance, each pixel weighted by the squared slope of the data's units per
  model unit at the base model's restoration (one probe, finite difference; Gaussian noise of the
  known sigma assumed);
- ``hidden, data units``: the hidden-pixel (Noise2Self) loss, :func:`held_out_error`;
- both again on the noisy *held-out* images (``unseen``: a user has no second set; they show
  whether the adapted network remembers the noise of the pixels it trained on);
- the rule ``adapt`` uses: ``hidden, data units`` where it lies more than ``JUDGE_MARGIN``
  standard errors below the base model's (:func:`judge_margin`, :func:`kept_step`).

All but the ``unseen`` ones are computed on the planes ``adapt`` trains on. A score is right at a
level when the checkpoint it ranks first is the one with the best held-out PSNR, or within 0.05 dB
of it.

Usage::

    python benchmarks/adapt_judge.py --steps 600 --every 50 --peaks 5,20,100,10,50 --out runs/judge/judge6.md
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import microscopy as mb  # noqa: E402

import restoration  # noqa: E402
from restoration.diffusion.adapt import (JUDGE_MARGIN, AdaptConfig, JudgeTile, adapt, held_out_error,  # noqa: E402
                                         hidden_errors, judge_margin, judge_tiles, kept_step, noisy_planes)
from restoration.diffusion.model import DiffusionModel, load_model  # noqa: E402

SCORES = ("sure, data units", "hidden, data units", "sure, data units, unseen", "hidden, data units, unseen")
#: The judge ``adapt`` uses (:func:`kept_step`): the lowest hidden-pixel error of the checkpoints
#: whose error is lower than the base model's by more than ``JUDGE_MARGIN`` standard errors, else
#: the base model.
RULE = f"hidden, data units, > {JUDGE_MARGIN:g} SE"


def sure(model: DiffusionModel, tiles: list[JudgeTile], seed: int = 0) -> float:
    """SURE of the one-step restoration in the data's units over the noise variance, mean over the
    tiles (one probe, finite difference; Gaussian noise of the tiles' sigma assumed)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for t in tiles:
            w, s = t.weight, float(t.sigma)
            b = torch.randn(t.data.shape, generator=g)
            f0, _ = model.predict(t.data, t.sigma)
            f1, _ = model.predict(t.data + 0.01 * s * b, t.sigma)
            div = float((w * b * (f1 - f0)).sum()) / (0.01 * s)
            n = float(w.sum())
            out.append((float((w * (t.data - f0) ** 2).sum()) - s * s * n + 2 * s * s * div) / n / (s * s))
    return float(np.mean(out))


def scores(model: DiffusionModel, tiles: list[JudgeTile], unseen: list[JudgeTile]) -> tuple[dict, list]:
    """The scores of :data:`SCORES`, and the hidden-pixel errors on ``tiles`` (for the margin)."""
    errors = [hidden_errors(model, t) for t in tiles]
    return ({"sure, data units": sure(model, tiles), "hidden, data units": held_out_error(model, tiles, errors),
             "sure, data units, unseen": sure(model, unseen),
             "hidden, data units, unseen": held_out_error(model, unseen)}, errors)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--every", type=int, default=150)
    ap.add_argument("--peaks", default="5,20,100", help="photon levels (comma-separated)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.time()
    names = (*SCORES, RULE)
    rows, right = [], dict.fromkeys(names, 0)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for lv in mb.make_levels(mb.VALIDATION_SEED, tmp, tuple(float(p) for p in args.peaks.split(","))):
            out = tmp / f"a{lv.peak:g}.pt"
            cfg = AdaptConfig(sources=lv.paths["adapt"], output=str(out), steps=args.steps, seed=0, threads=1,
                              checkpoint_every=10**9)
            planes, _ = noisy_planes(cfg)
            base = load_model(None)
            tiles = judge_tiles(planes, base, torch.device("cpu"))
            unseen = judge_tiles(noisy_planes(replace(cfg, sources=lv.paths["held-out"]))[0], base, torch.device("cpu"))
            sc, base_errs = scores(base, tiles, unseen)
            points = [(0, mb.score(lv, lambda c: restoration.denoise(c, **mb.TRUE)), sc | {RULE: 0.0})]
            for k in range(args.every, args.steps + 1, args.every):
                adapt(replace(cfg, stop_at=k), resume=k > args.every)
                # the file holds the judge's pick: score the checkpoint itself, the EMA in the state
                state = torch.load(str(out) + ".state", weights_only=True)
                model = DiffusionModel.from_config(base.to_config())
                model.net.load_state_dict(state["ema"])
                model.net.eval()
                saved = _saved(model, tmp, f"{lv.peak:g}_{k}")
                psnr = mb.score(lv, lambda c: restoration.denoise(c, model=saved, **mb.TRUE))
                sc, errs = scores(model, tiles, unseen)
                points.append((k, psnr, sc | {RULE: judge_margin(errs, base_errs)}))
                print(f"peak {lv.peak:g} step {k}: held-out {psnr['held-out']:.2f} dB "
                      + " ".join(f"{n} {v:.5f}" for n, v in points[-1][2].items()), flush=True)
            best = max(p[1]["held-out"] for p in points)
            for name in SCORES:
                pick = min(points, key=lambda p: p[2][name])
                right[name] += pick[1]["held-out"] >= best - 0.05
            kept = kept_step([[k, sc["hidden, data units"], sc[RULE]] for k, _, sc in points])
            right[RULE] += next(p for p in points if p[0] == kept)[1]["held-out"] >= best - 0.05
            rows.append((lv.peak, points))
    lines = ["# Choosing the adaptation checkpoint without a clean image (validation images)", "",
             f"Command: `python benchmarks/adapt_judge.py --steps {args.steps} --every {args.every} "
             f"--peaks {args.peaks} --out {args.out}` ({time.time() - t0:.0f} s, one thread, beside other jobs).", "",
             "PSNR in photons (true noise given), adapt set / held-out; scores from the noisy adapt set "
             "(`unseen`: from the noisy held-out set, for comparison: a user has no second set); lower is better, "
             f"the lowest of each column in bold. `{RULE}`: how many standard errors of the paired difference the "
             "checkpoint's hidden-pixel error lies below the base model's (the rule keeps the best-scoring "
             f"checkpoint of those above {JUDGE_MARGIN:g}, else the base model).", ""]
    for peak, points in rows:
        lines += [f"{peak:g} photons:", "", "| step | PSNR adapt / held-out | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        lows = {n: min(p[2][n] for p in points) for n in SCORES}
        for k, psnr, sc in points:
            cells = [f"**{sc[n]:.5f}**" if sc[n] == lows[n] else f"{sc[n]:.5f}" for n in SCORES]
            lines.append(f"| {k} | {psnr['adapt']:.2f} / {psnr['held-out']:.2f} | " + " | ".join(cells)
                         + f" | {sc[RULE]:+.1f} |")
        lines.append("")
    lines += ["Levels where the score's pick is the best held-out checkpoint (or within 0.05 dB): "
              + ", ".join(f"{n} {right[n]}/{len(rows)}" for n in names) + "."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _saved(model: DiffusionModel, tmp: Path, key: str) -> str:
    """The checkpoint as a model file ``restoration.denoise`` can load."""
    from restoration.diffusion.checkpoint import save_model

    path = tmp / f"checkpoint_{key}.pt"
    if not path.exists():
        save_model(path, model.net.state_dict(), model.to_config(), {"note": "adapt_judge checkpoint"})
    return str(path)


if __name__ == "__main__":
    sys.exit(main())
