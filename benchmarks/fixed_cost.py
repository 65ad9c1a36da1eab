"""Per-item fixed cost of the pipeline: everything a run does besides the denoiser's own compute.

The stages run in this process without Prefect (discovery, ingest, normalize, characterize,
plan, the region loop's reads and writes, provenance, assessment, the tables and report.html),
with the ``nlm`` denoiser, whose ``denoise`` calls are timed and subtracted: what remains is what
the host spends per item. Two inputs: the bundled sample data (``data/noisy``) and one
4 Mpx float32 plane. Each case runs ``--repeat`` times in a fresh OUTDIR; the minimum is kept.

``--before REV`` also measures the pipeline at git revision REV (its source checked out into a
temporary worktree, same interpreter and packages), side by side in the same run.

Usage: python benchmarks/fixed_cost.py [--before d9a8e8b] [--repeat 3] [--out benchmarks/results/fixed_cost.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent

#: Runs the stages of one checkout (its ``restoration`` first on sys.path) and prints JSON.
DRIVER = r"""
import json, sys, time
from pathlib import Path
src, inputs, outdir = sys.argv[1], sys.argv[2:-1], sys.argv[-1]
sys.path.insert(0, src)
from restoration import pipeline
from restoration.denoisers.nlm import NLMDenoiser
assert pipeline.__file__.startswith(src), pipeline.__file__

spent = [0.0]
plain = NLMDenoiser.denoise
def timed(self, *args, **kwargs):
    t = time.perf_counter()
    try:
        return plain(self, *args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - t
NLMDenoiser.denoise = timed

t0 = time.perf_counter()
if hasattr(pipeline, "restore_locally"):  # typed records, RunOptions
    from restoration.options import RunOptions
    summary = pipeline.restore_locally(RunOptions(inputs=tuple(inputs), outdir=outdir, denoiser="nlm"))
    n = summary["ok"] + summary["failed"]
else:                                     # the dict-based stages
    plan = pipeline.prepare({"inputs": list(inputs), "outdir": outdir, "denoiser": "nlm"})
    req, results = plan["request"], []
    for item in plan["items"]:
        ing = pipeline.ingest(req, item)
        norm = pipeline.normalize(req, ing)
        noise = pipeline.characterize(req, ing)
        pipeline.denoise(req, ing, norm, noise)
        results.append({"item": ing, "quality": pipeline.assess(req, ing), "noise_rows": noise["rows"]})
    pipeline.finish(req, results, {})
    n = len(plan["items"])
total = time.perf_counter() - t0
print(json.dumps({"items": n, "total": total, "denoiser": spent[0]}))
"""


def make_plane(path: Path, side: int = 2048) -> None:
    """A smooth float32 image with Gaussian noise (sigma 0.1)."""
    rng = np.random.default_rng(side)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    clean = 0.5 + 0.3 * np.sin(12 * xx) * np.cos(9 * yy)
    np.save(path, (clean + rng.normal(0, 0.1, clean.shape)).astype(np.float32))


def measure(src: Path, inputs: list[str], repeat: int) -> dict:
    """The minimum over ``repeat`` fresh runs of ``src``'s stages on ``inputs``."""
    best = None
    env = dict(os.environ, PYTHONPATH=str(src))
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run([sys.executable, "-c", DRIVER, str(src), *inputs, str(Path(tmp) / "out")],
                                 capture_output=True, text=True, env=env, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["fixed"] = result["total"] - result["denoiser"]
        if best is None or result["fixed"] < best["fixed"]:
            best = result
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", metavar="REV", help="also measure the pipeline at this git revision")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", help="also write the report (markdown) here")
    args = ap.parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        plane = Path(tmp) / "plane4mpx.npy"
        make_plane(plane)
        cases = {"sample data (data/noisy)": [str(ROOT / "data" / "noisy")],
                 "one 4 Mpx plane (2048 x 2048 float32)": [str(plane)]}
        versions = {"this checkout": ROOT}
        if args.before:
            old = Path(tmp) / "before"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.before],
                           check=True, capture_output=True)
            versions = {f"before ({args.before})": old, **versions}
        try:
            rows = {(case, v): measure(src, inputs, args.repeat) for case, inputs in cases.items()
                    for v, src in versions.items()}
        finally:
            if args.before:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=True)
    command = "python benchmarks/fixed_cost.py" + (f" --before {args.before}" if args.before else "") \
        + f" --repeat {args.repeat}" + (f" --out {args.out}" if args.out else "")
    lines = [f"Command: `{command}`", "",
             "Seconds per run, minimum of the repeats; `fixed` = total minus the time inside the nlm denoiser's "
             "`denoise` calls (the host's own cost: discovery, ingest, sampling, planning, region reads and writes, "
             "provenance, assessment, tables, report).", "",
             "| input | pipeline | items | total s | denoiser s | fixed s | fixed s per item |", "|---|---|---|---|---|---|---|"]
    for (case, v), r in rows.items():
        lines.append(f"| {case} | {v} | {r['items']} | {r['total']:.2f} | {r['denoiser']:.2f} | {r['fixed']:.2f} | "
                     f"{r['fixed'] / max(1, r['items']):.2f} |")
    if args.before:
        lines.append("")
        for case in cases:
            b, a = rows[(case, versions and list(versions)[0])], rows[(case, "this checkout")]
            lines.append(f"- {case}: fixed cost {a['fixed']:.2f} s against {b['fixed']:.2f} s "
                         f"({a['fixed'] / b['fixed']:.2f}x)")
    lines += ["", f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
              f"total {time.time() - started:.0f} s."]
    report = "\n".join(lines) + "\n"
    sys.stdout.write(report)
    if args.out:
        Path(args.out).write_text("# Per-item fixed cost of the pipeline\n\n" + report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
