"""Object storage against local disk: `restoration run` of one large float32 plane on a 2-worker
local Dask cluster, OUTDIR on a local S3 server (moto's, on loopback) against OUTDIR on local
disk, in one run of this script.

Both runs read the same local zarr input and use the default model; each is a separate process
(`restoration run ... --dask-workers 2`) against one already running Prefect server (its
start-up is not timed). Reported per run: wall time, and the peak RSS of each Dask worker process
(sampled every 0.1 s). The S3 server's own memory is not counted: it stands for a remote store.
The outputs of the two runs are compared bit for bit.

Usage: python benchmarks/scale_s3.py [--side 8192] [--order s3,local] [--workdir DIR] [--out FILE]
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

sys.path.insert(0, str(Path(__file__).parent))
from scale import make_array, start_server  # noqa: E402  (the same input and Prefect server as scale.py)

BIN = Path(sys.executable).parent


def measure(cmd: list[str], env: dict) -> tuple[float, list[float], int]:
    """(wall seconds, peak RSS in MiB of each Dask worker process, exit code)."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    root, peaks = psutil.Process(proc.pid), {}
    while proc.poll() is None:
        try:
            for p in root.children(recursive=True):
                try:
                    cmdline = " ".join(p.cmdline())
                    if "spawn_main" in cmdline:  # a worker that the nanny spawned
                        peaks[p.pid] = max(peaks.get(p.pid, 0), p.memory_info().rss)
                except psutil.Error:
                    pass
        except psutil.Error:
            pass
        time.sleep(0.1)
    wall = time.perf_counter() - t
    if proc.returncode:
        print(proc.stderr.read()[-3000:], file=sys.stderr)
    return wall, sorted((v / 2**20 for v in peaks.values()), reverse=True), proc.returncode


def start_s3(env: dict) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.2)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--side", type=int, default=8192, help="plane side (8192: 67 Mpx)")
    p.add_argument("--order", default="s3,local", help="which OUTDIR runs first")
    p.add_argument("--workdir", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="scale-s3-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"plane{args.side}.zarr"
    if not src.exists():
        make_array(src, args.side)
    s3_env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
              "AWS_EC2_METADATA_DISABLED": "true"}
    s3, endpoint = start_s3(dict(os.environ, **s3_env))
    server, url, _ = start_server(work / "prefect-home")
    try:
        env = dict(os.environ, **s3_env, AWS_ENDPOINT_URL=endpoint, PREFECT_API_URL=url,
                   PREFECT_HOME=str(work / "prefect-home"))
        os.environ.update(s3_env, AWS_ENDPOINT_URL=endpoint)
        import fsspec

        fsspec.filesystem("s3").mkdir("bench")
        targets = {"s3": "s3://bench/out", "local": str(work / "out")}
        shutil.rmtree(work / "out", ignore_errors=True)
        rows = {}
        for name in args.order.split(","):
            wall, peaks, rc = measure([str(BIN / "restoration"), "run", str(src), "-o", targets[name], "--overwrite",
                                       "--dask-workers", "2"], env)
            rows[name] = (wall, peaks, rc)
            print(f"{name}: {wall:.1f} s, worker peaks {[round(x) for x in peaks]} MiB, rc {rc}", file=sys.stderr)
        from restoration.store import item_array, open_store

        a = item_array(open_store(targets["local"], mode="r"), src.stem)[:]
        b = item_array(open_store(targets["s3"], mode="r"), src.stem)[:]
        identical = bool(np.array_equal(a, b))
    finally:
        server.terminate()
        s3.terminate()
        server.wait()
        s3.wait()
    mpx = args.side * args.side / 1e6
    lines = [f"# Object storage: `restoration run` of a {mpx:.1f} Mpx float32 plane on 2 Dask workers, "
             "OUTDIR on S3 (moto on loopback) against local disk", "",
             f"Command: `{' '.join(['python benchmarks/scale_s3.py', *sys.argv[1:]])}`",
             f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
             f"Python {platform.python_version()}, torch {torch.__version__}", "",
             "| OUTDIR | wall (s) | peak RSS per worker (MiB) | exit |", "|---|---|---|---|"]
    for name in ("local", "s3"):
        wall, peaks, rc = rows[name]
        lines.append(f"| {'local disk' if name == 'local' else 'S3 (moto, loopback)'} | {wall:.1f} | "
                     f"{', '.join(f'{x:.0f}' for x in peaks)} | {rc} |")
    ratio = rows["s3"][0] / rows["local"][0]
    lines += ["", f"S3 / local wall time: {ratio:.2f}x (target at most 1.3x). "
              f"Outputs bit-identical: {'yes' if identical else 'NO'}.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if identical and not any(r[2] for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
