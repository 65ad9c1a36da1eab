"""The napari plugin's *Preview visible* against restoring the whole plane, on the CPU.

Protocol (fixed): a 2048 x 2048 float32 plane (scikit-image's ``camera`` tiled 4 x 4, / 255, plus
Gaussian noise of sigma 0.1 from ``default_rng(0)``), the shipped model, ``--method mmse``. Timed
in this process's main thread, each once after a warm-up on a 64 x 64 crop (the model loaded):

* ``restoration.denoise`` of the whole plane (what *Restore* runs);
* ``restoration.denoise_plane`` of a 512 x 512 region in the middle (what *Preview visible*
  runs when the canvas shows that much of the plane), and of a 512-row band (full width).

The region is checked against the same pixels of the whole restoration (float rounding: the
network's tiles fall elsewhere). Usage: python benchmarks/napari_preview.py [OUT.md]
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    """Run the protocol; print the table and write it to ``sys.argv[1]`` when given."""
    import torch
    from skimage import data

    import restoration

    rng = np.random.default_rng(0)
    plane = (np.tile(data.camera(), (4, 4)) / 255.0 + rng.normal(0, 0.1, (2048, 2048))).astype(np.float32)
    restoration.denoise(plane[:64, :64])
    rows = []

    def timed(label, fn):
        start = time.perf_counter()
        out = fn()
        rows.append((label, time.perf_counter() - start))
        return out

    region = timed("denoise_plane, 512 x 512 region", lambda: restoration.denoise_plane(
        plane, 0, rows=(768, 1280), cols=(768, 1280)))
    timed("denoise_plane, 512-row band", lambda: restoration.denoise_plane(plane, 0, rows=(768, 1280)))
    whole = timed("denoise, whole 2048 x 2048 plane", lambda: restoration.denoise(plane))
    diff = float(np.abs(region - whole[768:1280, 768:1280]).max())
    lines = ["# napari *Preview visible* vs the whole plane (CPU, shipped model, mmse)", "",
             f"`python benchmarks/napari_preview.py` on {platform.node() or 'this machine'}: "
             f"{os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads, "
             f"load average {os.getloadavg()[0]:.1f} at the end (shared machine).", "",
             "| what | seconds |", "|---|---|"]
    lines += [f"| {label} | {seconds:.1f} |" for label, seconds in rows]
    lines += ["", f"Largest difference of the region from the whole restoration there: {diff:.2g} (float rounding)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
