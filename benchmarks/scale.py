"""Throughput and peak memory of `restoration run` with the default model on large float32 zarr
arrays, locally and on a 2-worker local Dask cluster, and the orchestration overhead.

Each run is a separate process; peak memory is the largest summed RSS of its process tree
(sampled every 0.1 s), without the Prefect API server. Overhead: against an already running
Prefect server, the wall time of `restoration run` minus that of a script making the same core
calls (restoration.pipeline) without Prefect; the server's start-up time is reported apart.

Usage: python benchmarks/scale.py [--sizes 2048,4096,8192] [--modes local,dask] [--no-overhead] [--workdir DIR]
[--out FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import torch
import zarr

from restoration.pipeline import region_pixels

BIN = Path(sys.executable).parent
CORE_SCRIPT = """
import sys
from restoration import pipeline
from restoration.options import RunOptions
pipeline.restore_locally(RunOptions(inputs=(sys.argv[1],), outdir=sys.argv[2]))
"""


def make_array(path: Path, side: int) -> None:
    """A smooth float32 image with Gaussian noise (sigma 0.1), written chunk by chunk."""
    arr = zarr.create_array(str(path), shape=(side, side), chunks=(512, 512), dtype=np.float32,
                            dimension_names=["y", "x"], overwrite=True)
    rng = np.random.default_rng(side)
    for y in range(0, side, 512):
        for x in range(0, side, 512):
            yy, xx = np.mgrid[y:y + 512, x:x + 512].astype(np.float32)
            clean = 0.5 + 0.3 * np.sin(yy / 37.0) * np.cos(xx / 23.0) + 0.1 * np.sign(np.sin(xx / 97.0))
            arr[y:y + 512, x:x + 512] = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)


def measure(cmd: list[str], env: dict, exclude: set[int]) -> tuple[float, float, int]:
    """(wall seconds, peak tree RSS in MiB, exit code)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            procs = [root] + root.children(recursive=True)
            rss = 0
            for p in procs:
                try:
                    if p.pid not in exclude and "uvicorn" not in " ".join(p.cmdline()):
                        rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - t
    if proc.returncode:
        print(proc.stderr.read()[-2000:], file=sys.stderr)
    return wall, peak / 2**20, proc.returncode


def start_server(home: Path) -> tuple[subprocess.Popen, str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    t = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api"
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url, time.perf_counter() - t
        except OSError:
            time.sleep(0.2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2048,4096,8192")
    p.add_argument("--modes", default="local,dask", help="comma-separated: local, dask (2 workers)")
    p.add_argument("--no-overhead", action="store_true", help="skip the orchestration-overhead runs")
    p.add_argument("--workdir")
    p.add_argument("--out")
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="restoration-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    sides = [int(s) for s in args.sizes.split(",")]
    server, url, startup = start_server(work / "prefect-home")
    env = dict(os.environ, PREFECT_API_URL=url, PREFECT_HOME=str(work / "prefect-home"))
    rows = []
    try:
        for side in sides:
            src = work / f"noisy_{side}.zarr"
            make_array(src, side)
            mpx = side * side / 1e6
            modes = (("local", []), ("dask 2 workers", ["--dask-workers", "2"]))
            for mode, extra in [m for m in modes if m[0].split()[0] in args.modes.split(",")]:
                out = work / f"out_{side}_{mode.split()[0]}"
                shutil.rmtree(out, ignore_errors=True)
                wall, peak, rc = measure([str(BIN / "restoration"), "run", str(src), "-o", str(out), *extra], env, {server.pid})
                rows.append((mpx, mode, wall, peak, rc))
                shutil.rmtree(out, ignore_errors=True)
                print(f"{mpx:6.1f} Mpx {mode:<15} {wall:8.1f} s {mpx / wall:6.3f} Mpx/s peak {peak:7.0f} MiB rc {rc}", file=sys.stderr)
        side = sides[len(sides) // 2] if len(sides) > 1 else sides[0]
        src = work / f"noisy_{side}.zarr"
        shutil.rmtree(work / "overhead_flow", ignore_errors=True)
        shutil.rmtree(work / "overhead_core", ignore_errors=True)
        if not args.no_overhead:
            flow_wall, _, _ = measure([str(BIN / "restoration"), "run", str(src), "-o", str(work / "overhead_flow")], env,
                                      {server.pid})
            core_wall, _, _ = measure([sys.executable, "-c", CORE_SCRIPT, str(src), str(work / "overhead_core")], env,
                                      {server.pid})
    finally:
        server.terminate()
        server.wait(30)
    base = {m: next(r for r in rows if r[1] == m and r[0] == rows[0][0]) for m in {r[1] for r in rows}}
    lines = ["# Scale: `restoration run` on float32 zarr arrays (default model, mmse, auto noise)", "",
             "Command: `python benchmarks/scale.py " + " ".join(sys.argv[1:]) + "`",
             f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, Python "
             f"{platform.python_version()}, torch {torch.__version__}; region budget RESTORATION_REGION_PIXELS="
             f"{region_pixels()}", "",
             "| size (Mpx) | mode | wall (s) | Mpx/s | s/Mpx relative to smallest | peak RSS (MiB) | peak / peak at smallest |",
             "|---|---|---|---|---|---|---|"]
    for mpx, mode, wall, peak, rc in rows:
        per = (wall / mpx) / (base[mode][2] / base[mode][0])
        lines.append(f"| {mpx:.1f} | {mode} | {wall:.1f} | {mpx / wall:.3f} | {per:.2f} | {peak:.0f} | "
                     f"{peak / base[mode][3]:.2f} |" + (" failed" if rc else ""))
    if not args.no_overhead:
        overhead = flow_wall - core_wall
        lines += ["", f"Orchestration overhead at {side * side / 1e6:.1f} Mpx (against a running API): flow {flow_wall:.1f} s, "
                  f"core calls without Prefect {core_wall:.1f} s, overhead {overhead:.1f} s = {100 * overhead / flow_wall:.1f} % "
                  f"of the run. Prefect API server start-up (separate): {startup:.1f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
