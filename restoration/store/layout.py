"""Where things are in OUTDIR: restored.zarr, the working store, run.json, the lock, the tables and the report.

::

    OUTDIR/restored.zarr       the restored items (OME-Zarr image groups, :mod:`.ome_zarr`)
    OUTDIR/.work/              ingested copies, samples, orientation parts, progress markers
    OUTDIR/run.json            the run's signature (resume or ``--overwrite``)
    OUTDIR/.restoration.lock   the run lock (:mod:`.locks`)
    OUTDIR/noise.csv, quality.csv, report.html
"""

from __future__ import annotations

import shutil
from pathlib import Path

STORE = "restored.zarr"
WORK = ".work"
LOCK = ".restoration.lock"
RUN_FILE = "run.json"
MANAGED = (STORE, WORK, RUN_FILE, "noise.csv", "quality.csv", "report.html")
#: The working store of each orientation's restoration until they are averaged (``planes``
#: ``yx,zx,zy``): ``.work/planes.zarr/<name>/<orientation>`` (and ``<orientation>_std``).
PARTS = "planes.zarr"


def clear_outputs(outdir: Path) -> None:
    """Remove what a previous run wrote (``--overwrite``); nothing else in OUTDIR is touched."""
    for name in MANAGED:
        p = outdir / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def open_store(outdir: Path, mode: str = "a"):
    """OUTDIR's restored.zarr (zarr v3 group), opened with ``mode``."""
    import zarr

    return zarr.open_group(str(outdir / STORE), mode=mode, zarr_format=3)
