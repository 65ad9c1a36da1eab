"""Watched folders: which datasets of a folder still need restoring (used by scheduled runs).

Each top-level entry of the folder (a supported file, a zarr store or a subdirectory) is one
dataset, restored into ``OUTROOT/<entry name>/``. The folder and OUTROOT may be object storage
(fsspec URLs such as ``s3://bucket/incoming``): there a dataset is an object with a supported
suffix (``cells.tif``, ``stack.npy`` ...) or a prefix (a zarr store, or a "folder" of such
files), and its objects' sizes and last-modified times stand for the files'. A dataset is done
when its last successful restoration recorded the same file sizes and modification times and the
same parameters; a failed one is remembered the same way and not retried until it changes. A
dataset that vanishes during its run (moved away, or the whole folder unmounted) is not a
failure: it is restored when it comes back.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .io import SUFFIXES
from .store.files import basename, exists, filesystem, is_url, join, make_dirs, read_json, remove, write_text_atomic
from .store.layout import LOCK, clear_outputs

SETTLE_SECONDS = 30.0
DONE_FILE = "watch.json"
FAILED_FILE = ".restoration-failed.json"


def _modified_ns(info: dict) -> int:
    """An object's last-modified time in ns from its fsspec info (S3 ``LastModified``, ``mtime``, ``created``)."""
    when = info.get("LastModified") or info.get("mtime") or info.get("created") or info.get("last_modified") or 0
    return int(when.timestamp() * 1e9) if hasattr(when, "timestamp") else int(float(when) * 1e9)


def _object_signature(url: str) -> list:
    fs, p = filesystem(url)
    fs.invalidate_cache()
    found = fs.find(p, detail=True)  # the object itself, or every object below the prefix
    if not found:
        raise FileNotFoundError(url)
    return [[k[len(p):].lstrip("/") or basename(url), int(v.get("size") or 0), _modified_ns(v)]
            for k, v in sorted(found.items())]


def stat_signature(path: str | os.PathLike) -> list:
    """Sizes and modification times of every file under ``path``: changes when its content is rewritten."""
    if is_url(path):
        return _object_signature(str(path))
    path = Path(path)
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns]]
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for f in sorted(files):
            st = (Path(root) / f).stat()
            out.append([str((Path(root) / f).relative_to(path)), st.st_size, st.st_mtime_ns])
    return out


def _newest_mtime(sig: list, path: str | os.PathLike) -> float:
    times = [m / 1e9 for _, _, m in sig] + ([] if is_url(path) else [Path(path).stat().st_mtime])
    return max(times)


def _object_entries(watch: str) -> list[str]:
    fs, p = filesystem(watch)
    fs.invalidate_cache()
    try:
        listed = fs.ls(p, detail=True)
    except FileNotFoundError:
        return []
    out = []
    for info in sorted(listed, key=lambda i: i["name"]):
        name = basename(info["name"])
        if info["name"].rstrip("/") == p.rstrip("/") or name.startswith("."):
            continue
        if info["type"] == "directory" or name.lower().endswith(tuple(SUFFIXES)):
            out.append(join(watch, name))
    return out


def entries(watch: str | os.PathLike) -> list:
    """Top-level datasets of the folder: supported files, zarr stores and subdirectories (none
    while the folder does not exist); URLs for a folder on object storage, else paths."""
    if is_url(watch):
        return _object_entries(str(watch))
    watch = Path(watch)
    if not watch.is_dir():
        return []
    out = []
    for p in sorted(watch.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_dir() or p.suffix.lower() in SUFFIXES:
            out.append(p)
    return out


def scan(watch: str | os.PathLike, outroot: str | os.PathLike, params: dict, *, now: float | None = None,
         settle: float = SETTLE_SECONDS) -> dict[str, list]:
    """Sort the folder's datasets into pending, waiting (still being written), done and failed.

    Returns a dict of lists; ``pending`` holds ``{"entry", "outdir", "stat", "overwrite"}``.
    """
    now = time.time() if now is None else now
    failed = read_json(join(outroot, FAILED_FILE)) or {}
    result: dict[str, list] = {"pending": [], "waiting": [], "done": [], "failed": []}
    key = json.dumps(params, sort_keys=True)
    for entry in entries(watch):
        try:
            sig = stat_signature(entry)
        except FileNotFoundError:  # removed while being scanned
            continue
        if now - _newest_mtime(sig, entry) < settle:
            result["waiting"].append(str(entry))
            continue
        outdir = join(outroot, basename(entry))
        done = read_json(join(outdir, DONE_FILE))
        if isinstance(done, dict) and done.get("stat") == sig and done.get("params") == key:
            result["done"].append(str(entry))
        elif isinstance(failed.get(basename(entry)), dict) and failed[basename(entry)].get("stat") == sig \
                and failed[basename(entry)].get("params") == key:
            result["failed"].append(str(entry))
        else:
            # Restored before from other content or parameters: replace it; never restored: resume.
            result["pending"].append({"entry": str(entry), "outdir": str(outdir), "stat": sig,
                                      "overwrite": isinstance(done, dict)})
    return result


def seconds_to_settle(waiting: list[str], *, now: float | None = None, settle: float = SETTLE_SECONDS) -> float:
    """Seconds until the last of the ``waiting`` entries (from :func:`scan`) has gone ``settle``
    seconds unchanged, were nothing written to them meanwhile (0 when they are gone)."""
    now = time.time() if now is None else now
    left = 0.0
    for entry in waiting:
        try:
            left = max(left, _newest_mtime(stat_signature(entry), entry) + settle - now)
        except FileNotFoundError:
            continue
    return max(0.0, left)


def _forget(outdir: str) -> None:
    """Remove what a run left in ``outdir`` (and the folder, when nothing else is in it)."""
    if is_url(outdir) or os.path.isdir(outdir):
        clear_outputs(outdir)
        for name in (DONE_FILE, LOCK):
            remove(join(outdir, name))
        if not is_url(outdir):  # object storage has no empty folders
            try:
                os.rmdir(outdir)
            except OSError:  # files of the user's: keep them
                pass


def record(outroot: str | os.PathLike, pending: dict, params: dict, *, ok: bool, error: str = "") -> bool:
    """Remember a dataset's outcome so later scans skip it until it changes.

    A failed dataset that no longer exists (it vanished during its run) is not remembered: what
    the run left in its OUTDIR is removed, and the dataset is pending again when it comes back.

    Returns
    -------
    bool
        False for such a vanished dataset, else True.
    """
    if not ok and not exists(pending["entry"]):
        _forget(pending["outdir"])
        return False
    entry = basename(pending["entry"])
    key = json.dumps(params, sort_keys=True)
    failed = read_json(join(outroot, FAILED_FILE)) or {}
    if ok:
        write_text_atomic(join(pending["outdir"], DONE_FILE), json.dumps({"stat": pending["stat"], "params": key}))
        failed.pop(entry, None)
    else:
        failed[entry] = {"stat": pending["stat"], "params": key, "error": error}
    make_dirs(outroot)
    write_text_atomic(join(outroot, FAILED_FILE), json.dumps(failed, indent=1))
    return True
