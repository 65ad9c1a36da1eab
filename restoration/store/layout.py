"""Where things are in OUTDIR: restored.zarr, the working store, run.json, the lock, the tables and the report.

::

    OUTDIR/restored.zarr       the restored items (OME-Zarr image groups, :mod:`.ome_zarr`)
    OUTDIR/.work/              ingested copies, samples, orientation parts, progress markers
    OUTDIR/run.json            the run's signature (resume or ``--overwrite``)
    OUTDIR/.restoration.lock   the run lock (:mod:`.locks`)
    OUTDIR/noise.csv, quality.csv, report.html
"""

from __future__ import annotations

import os

from .files import is_url, join, remove

STORE = "restored.zarr"
WORK = ".work"
LOCK = ".restoration.lock"
RUN_FILE = "run.json"
MANAGED = (STORE, WORK, RUN_FILE, "noise.csv", "quality.csv", "report.html")
#: The working store of each orientation's restoration until they are averaged (``planes``
#: ``yx,zx,zy``): ``.work/planes.zarr/<name>/<orientation>`` (and ``<orientation>_std``).
PARTS = "planes.zarr"


def clear_outputs(outdir: str | os.PathLike) -> None:
    """Remove what a previous run wrote (``--overwrite``); nothing else in OUTDIR is touched."""
    for name in MANAGED:
        remove(join(outdir, name))


def open_group(path: str | os.PathLike, mode: str = "a"):
    """The zarr v3 group at ``path`` (a local path or an fsspec URL), opened with ``mode``.

    On object storage, listings are not cached: workers in other processes add to the store.
    """
    import zarr

    options = {"storage_options": {"use_listings_cache": False}} if is_url(path) else {}
    return zarr.open_group(str(path), mode=mode, zarr_format=3, **options)


def open_store(outdir: str | os.PathLike, mode: str = "a"):
    """OUTDIR's restored.zarr (zarr v3 group), opened with ``mode``."""
    return open_group(join(outdir, STORE), mode)
