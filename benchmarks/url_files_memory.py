"""Input files on object storage read lazily: the content fingerprint (what ingest reads) of a
``.npy`` and an uncompressed TIFF on a local S3 server (moto's, on loopback), against the same
files on local disk (memory-mapped), in one run of this script.

Each read runs in a fresh process; reported are its wall time and its peak RSS growth over the
process's peak RSS once the libraries are imported (the S3 server's memory is not counted: it
stands for a remote store). Flat memory means the growth does not follow the file size. On local
disk the pages of the memory map that were read count in RSS (clean file pages, which the system
may drop at any time), so the anchor grows with the file. The files are written in pieces, never
whole in memory.

Usage: python benchmarks/url_files_memory.py [--sizes 128,512] [--workdir DIR] [--out FILE]
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
import psutil

ROWS = 4096  # float32 columns per row: 16 KiB


def peak_rss_mib() -> float:
    """This process's peak RSS (``VmHWM``: unlike ``ru_maxrss``, not inherited across exec)."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def child(source: str) -> None:
    """Fingerprint ``source`` and print its wall time and peak RSS growth as JSON."""
    import s3fs  # noqa: F401  (imported before the baseline, as the readers are)
    import tifffile  # noqa: F401

    from restoration.io import discover, fingerprint

    base = peak_rss_mib()
    start = time.perf_counter()
    (item,) = discover([source])
    digest = fingerprint(item)
    print(json.dumps({"seconds": time.perf_counter() - start, "digest": digest,
                      "growth_mib": peak_rss_mib() - base}))


def write(local: Path, url: str, mib: int, tiff: bool) -> None:
    """A float32 array of ``mib`` MiB written piece by piece to ``local`` and uploaded to ``url``."""
    import fsspec
    import tifffile
    from numpy.lib import format as npformat

    shape = (mib * 2**20 // (ROWS * 4), ROWS)
    rng = np.random.default_rng(mib)
    if tiff:
        out = tifffile.memmap(local, shape=shape, dtype="float32")  # uncompressed, contiguous
        for i in range(0, shape[0], 1024):
            out[i:i + 1024] = rng.random((min(1024, shape[0] - i), ROWS), dtype=np.float32)
        out.flush()
        del out
    else:
        with open(local, "wb") as fh:
            npformat.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": shape})
            for i in range(0, shape[0], 1024):
                fh.write(rng.random((min(1024, shape[0] - i), ROWS), dtype=np.float32).tobytes())
    fsspec.filesystem("s3").put_file(str(local), url.removeprefix("s3://"))


def measure(source: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", source], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="128,512", help="file sizes in MiB")
    p.add_argument("--workdir", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child)
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    from scale_s3 import start_s3  # moto's server on a free loopback port

    work = Path(args.workdir or tempfile.mkdtemp(prefix="url-files-"))
    work.mkdir(parents=True, exist_ok=True)
    s3_env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
              "AWS_EC2_METADATA_DISABLED": "true"}
    s3, endpoint = start_s3(dict(os.environ, **s3_env))
    rows, same = [], True
    try:
        os.environ.update(s3_env, AWS_ENDPOINT_URL=endpoint)
        import fsspec

        fsspec.filesystem("s3").mkdir("bench")
        for mib in (int(s) for s in args.sizes.split(",")):
            for suffix in ("npy", "tif"):
                local, url = work / f"a{mib}.{suffix}", f"s3://bench/a{mib}.{suffix}"
                write(local, url, mib, suffix == "tif")
                results = {where: measure(src, dict(os.environ)) for where, src in (("local", str(local)), ("s3", url))}
                same &= results["local"]["digest"] == results["s3"]["digest"]
                rows += [(mib, suffix, where, r) for where, r in results.items()]
                local.unlink()
                print(rows[-2:], file=sys.stderr)
    finally:
        s3.terminate()
        s3.wait()
    lines = ["# Input files on object storage: fingerprint (ingest's read) of .npy and uncompressed TIFF, "
             "S3 (moto on loopback) against local disk", "",
             f"Command: `{' '.join(['python benchmarks/url_files_memory.py', *sys.argv[1:]])}`",
             f"Machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
             f"Python {platform.python_version()}", "",
             "| file | MiB | where | wall (s) | peak RSS growth (MiB) |", "|---|---|---|---|---|"]
    lines += [f"| .{suffix} | {mib} | {'local disk (memmap)' if where == 'local' else 'S3 (byte ranges)'} | "
              f"{r['seconds']:.1f} | {r['growth_mib']:.0f} |" for mib, suffix, where, r in rows]
    lines += ["", f"Fingerprints equal on local disk and S3: {'yes' if same else 'NO'}.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
