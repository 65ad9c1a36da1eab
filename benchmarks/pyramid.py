"""Time and peak memory of writing an item's OME-Zarr pyramid and metadata (restoration.store.ome_zarr.finish_image)
on large float32 planes, the step `restoration run` adds after an item's full resolution is written.

For each size, level 0 of an image group (chunks 512 x 512, as `restoration run` writes them) is
filled chunk by chunk with a smooth noisy image; then a fresh process runs finish_image on it and
reports its wall time, its own peak RSS (VmHWM) and what importing numpy, zarr and restoration alone
costs, so the difference is what the pyramid holds.

Usage: python benchmarks/pyramid.py [--sizes 2048,4096,8192] [--workdir DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import psutil
import zarr

CHILD = """
import json, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
import numpy, zarr
from restoration.store import ome_zarr
base = hwm()
store = zarr.open_group(sys.argv[1], mode="r+")
t = time.perf_counter()
ome = ome_zarr.finish_image(store, "img", {"scale": [0.5, 0.5], "units": ["micrometer", "micrometer"]})
print(json.dumps({"seconds": time.perf_counter() - t, "peak": hwm(), "imports": base,
                  "levels": [store["img"][d["path"]].shape for d in ome["multiscales"][0]["datasets"]]}))
"""


def make_level0(path: Path, side: int) -> None:
    """An image group ``img`` whose level 0 is a side x side float32 plane, written chunk by chunk."""
    from restoration.store import items

    store = zarr.open_group(str(path), mode="w", zarr_format=3)
    arr = items.create_item_array(store, "img", (side, side), np.float32, "yx")
    rng = np.random.default_rng(side)
    for y in range(0, side, 512):
        yy, xx = np.mgrid[y:y + 512, 0:side].astype(np.float32)
        clean = 0.5 + 0.3 * np.sin(yy / 37.0) * np.cos(xx / 23.0)
        arr[y:y + 512, :] = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="2048,4096,8192")
    p.add_argument("--workdir")
    p.add_argument("--out")
    args = p.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="restoration-pyramid-"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for side in [int(s) for s in args.sizes.split(",")]:
        path = work / f"level0_{side}.zarr"
        make_level0(path, side)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((side, r))
        shutil.rmtree(path, ignore_errors=True)
        print(f"{side * side / 1e6:6.1f} Mpx {r['seconds']:6.1f} s peak {r['peak']:7.0f} MiB (imports {r['imports']:.0f})",
              file=sys.stderr)
    lines = ["# Pyramid: restoration.store.ome_zarr.finish_image on float32 planes (chunks 512 x 512)", "",
             "Command: `python benchmarks/pyramid.py " + " ".join(sys.argv[1:]) + "`",
             f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, Python "
             f"{platform.python_version()}, zarr {zarr.__version__}", "",
             "| size (Mpx) | plane (MiB) | levels | wall (s) | s/Mpx | peak RSS (MiB) | of which imports (MiB) "
             "| peak - imports (MiB) |", "|---|---|---|---|---|---|---|---|"]
    for side, r in rows:
        mpx = side * side / 1e6
        levels = " ".join(f"{s[-1]}" for s in r["levels"])
        lines.append(f"| {mpx:.1f} | {side * side * 4 / 2**20:.0f} | {levels} | {r['seconds']:.1f} | "
                     f"{r['seconds'] / mpx:.3f} | {r['peak']:.0f} | {r['imports']:.0f} | {r['peak'] - r['imports']:.0f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
