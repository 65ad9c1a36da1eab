"""Inference throughput of the diffusion denoiser's mmse restoration on one large plane.

mmse is one network evaluation at the observation's noise level (``sampler.restore`` with
``method="mmse"`` is ``TiledNetwork.x0_eps`` at sigma followed by a DDIM step to 0, which returns
its x0), so this times ``TiledNetwork.x0_eps`` on a seeded synthetic SIZE x SIZE plane (sigma
25/255): bf16 autocast and channels-last on CUDA (TiledNetwork's own), one warm-up run (cuDNN's
kernel choice, compilation), then ``--runs`` timed runs, each between ``torch.cuda.synchronize()``
calls. Mpx/s is plane pixels over the median run time.

Rows, each tile size of ``--tiles`` with ``--batch`` tiles per network call (default: all of the
plane's tiles in one call):

* ``device``: the plane already on the accelerator, the result left there (what the network
  sustains; on the CPU this is the only row kind);
* ``host``: the fastest tile size again with the plane in host memory and the result copied back,
  as ``restoration run`` pays it (CUDA only);
* ``device, compiled``: with ``--compile``, the fastest tile size with ``torch.compile``'s network.

Writes ``OUT/throughput.json`` and ``OUT/throughput.md``. Usage::

    python benchmarks/gpu_throughput.py --out DIR [--model MODEL] [--size 4096] [--tiles 4096,2048,1024]
        [--batch B] [--runs 5] [--compile] [--device auto] [--threads N]

On the CPU give a small plane and tile, e.g. ``--size 256 --tiles 128 --runs 1``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from restoration.diffusion.model import DEFAULT_MODEL, load_model
from restoration.diffusion.tiling import TiledNetwork
from restoration.diffusion.device import resolve_device

SIGMA = 25 / 255          # image units; the network's cost does not depend on it
CUDA_TILES = "4096,2048,1024"
CPU_TILES = "768"         # TiledNetwork's default


def synthetic_plane(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A clean smooth-with-edges plane in [0, 1] and its noisy copy (Gaussian, std SIGMA), float32."""
    rng = np.random.default_rng(seed)
    yy, xx = np.ogrid[0:size, 0:size]
    clean = 0.5 + 0.25 * np.sin(xx / 37.0) * np.cos(yy / 23.0) + 0.2 * ((xx // 97 + yy // 89) % 2 - 0.5)
    clean = clean.astype(np.float32)
    noisy = clean + rng.normal(0, SIGMA, clean.shape).astype(np.float32)
    return clean, noisy


def time_runs(net: TiledNetwork, z: torch.Tensor, sigma: torch.Tensor, runs: int) -> tuple[torch.Tensor, list[float]]:
    """One warm-up call of ``net.x0_eps``, then ``runs`` timed calls; returns the last x0 and the times."""
    sync = torch.cuda.synchronize if net.device.type == "cuda" else (lambda: None)
    x0, _ = net.x0_eps(z, sigma)
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        x0, _ = net.x0_eps(z, sigma)
        sync()
        times.append(time.perf_counter() - start)
    return x0, times


def measure(args: argparse.Namespace, save: Callable[[dict], None]) -> dict:
    """Time every configuration ``args`` asks for; ``save`` gets the report after each row.

    Saving as it goes keeps the eager rows when a later compilation runs out of time.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True   # one input shape per row: pick the fastest kernels once
    model = load_model(args.model).to(device)
    clean, noisy = synthetic_plane(args.size, args.seed)
    host = torch.from_numpy(noisy * 2 - 1)[None, None]     # model units: [0, 1] -> [-1, 1]
    on_device = host.to(device)
    clean_t = torch.from_numpy(clean).to(device)
    sigma = torch.tensor([2 * SIGMA])
    mpx = args.size * args.size / 1e6
    report = {
        "method": "mmse", "size": [args.size, args.size], "megapixels": round(mpx, 3),
        "sigma_image_units": round(SIGMA, 5), "runs": args.runs, "seed": args.seed,
        "dtype": "bfloat16 autocast, channels_last" if cuda else "float32", "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else (platform.processor() or "cpu"),
        "torch": torch.__version__, "cuda": torch.version.cuda, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "model": str(args.model), "model_id": model.model_id,
        "rmse_noisy": round(float(np.sqrt(np.mean((noisy - clean) ** 2))), 5),
        "rows": [], "best": None, "compile_error": None,
    }
    rows = report["rows"]

    def row(kind: str, tile: int, z: torch.Tensor) -> None:
        net = TiledNetwork(model, device, tile=tile, batch=args.batch or 1)
        windows = net._windows(args.size)
        if not args.batch:
            net.batch = len(windows) ** 2    # every tile of the plane in one network call
        with torch.inference_mode():   # inside: TiledNetwork measures its receptive field with autograd
            x0, times = time_runs(net, z, sigma, args.runs)
            # A check that the timed path restores: its error against the clean plane.
            rmse = float(torch.sqrt(torch.mean(((x0[0, 0].to(device) + 1) / 2 - clean_t) ** 2)))
        median = statistics.median(times)
        rows.append({"kind": kind, "tile": net.tile, "tiles": len(windows) ** 2, "batch": net.batch,
                     "computed_px_per_plane_px": round(sum(w[1] - w[0] for w in windows) ** 2 / args.size**2, 3),
                     "seconds": [round(t, 5) for t in times], "median_s": round(median, 5),
                     "mpx_s": round(mpx / median, 3), "rmse_restored": round(rmse, 5)})
        report["best"] = max(rows, key=lambda r: r["mpx_s"])
        print(f"{kind:>16}  tile {net.tile:>5}  batch {net.batch:>3}: {mpx / median:10.2f} Mpx/s", flush=True)
        save(report)

    for tile in [int(t) for t in (args.tiles or (CUDA_TILES if cuda else CPU_TILES)).split(",")]:
        row("device", tile, on_device)
    best_tile = report["best"]["tile"]
    if cuda:
        row("host", best_tile, host)
    if args.compile:
        try:
            model.net = torch.compile(model.net)
            row("device, compiled", best_tile, on_device)
        except Exception as exc:  # a compiler toolchain fails in many ways; the eager rows stand
            report["compile_error"] = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:300]}"
            print(f"torch.compile failed: {report['compile_error']}", flush=True)
            save(report)
    return report


def markdown(report: dict) -> str:
    """The report as a short markdown page."""
    lines = [f"# mmse throughput: {report['size'][0]}x{report['size'][1]} plane ({report['megapixels']} Mpx)", "",
             f"Device: {report['device_name']} ({report['device']}), {report['dtype']}; torch {report['torch']}"
             f" (CUDA {report['cuda']}), Python {report['python']}, {report['threads']} CPU threads.",
             f"Model: {report['model_id']}. Median of {report['runs']} runs after one warm-up.", "",
             "| kind | tile | tiles | batch | computed px / plane px | median s | Mpx/s | RMSE restored |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['kind']} | {r['tile']} | {r['tiles']} | {r['batch']} | {r['computed_px_per_plane_px']} "
                     f"| {r['median_s']} | {r['mpx_s']} | {r['rmse_restored']} |")
    b = report["best"]
    lines += ["", f"**Best: {b['mpx_s']} Mpx/s** ({b['kind']}, tile {b['tile']}, batch {b['batch']}).",
              f"RMSE of the noisy plane against the clean one: {report['rmse_noisy']} (restored: per row)."]
    if report["compile_error"]:
        lines.append(f"torch.compile failed (eager rows only): {report['compile_error']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/gpu_throughput.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for throughput.json and throughput.md")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model file (default: the shipped model)")
    p.add_argument("--size", type=int, default=4096, help="plane side in pixels")
    p.add_argument("--tiles", help=f"core tile sizes to time, comma-separated (default {CUDA_TILES} on CUDA, "
                                    f"{CPU_TILES} on the CPU)")
    p.add_argument("--batch", type=int, help="tiles per network call (default: all of the plane's tiles)")
    p.add_argument("--runs", type=int, default=5, help="timed runs per row, after one warm-up")
    p.add_argument("--compile", action="store_true", help="also time the fastest tile with torch.compile")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.size < 1 or args.runs < 1 or (args.batch is not None and args.batch < 1):
        p.error("--size, --runs and --batch must be >= 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def save(report: dict) -> None:
        (out / "throughput.json").write_text(json.dumps(report, indent=1) + "\n")
        (out / "throughput.md").write_text(markdown(report))

    report = measure(args, save)
    print(f"best {report['best']['mpx_s']} Mpx/s; wrote {out / 'throughput.json'} and {out / 'throughput.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
