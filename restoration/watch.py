"""Watched folders: which datasets of a folder still need restoring (used by scheduled runs).

Each top-level entry of the folder (a file, a zarr store or a subdirectory) is one dataset,
restored into ``OUTROOT/<entry name>/``. A dataset is done when its last successful restoration
recorded the same file sizes and modification times and the same parameters; a failed one is
remembered the same way and not retried until it changes. A dataset that vanishes during its run
(moved away, or the whole folder unmounted) is not a failure: it is restored when it comes back.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .io import SUFFIXES
from .store.files import read_json, write_text_atomic
from .store.layout import LOCK, clear_outputs

SETTLE_SECONDS = 30.0
DONE_FILE = "watch.json"
FAILED_FILE = ".restoration-failed.json"


def stat_signature(path: Path) -> list:
    """Sizes and modification times of every file under ``path``: changes when its content is rewritten."""
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


def _newest_mtime(sig: list, path: Path) -> float:
    times = [m / 1e9 for _, _, m in sig] + [path.stat().st_mtime]
    return max(times)


def entries(watch: Path) -> list[Path]:
    """Top-level datasets of the folder: supported files, zarr stores and subdirectories (none
    while the folder does not exist)."""
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
    watch, outroot = Path(watch), Path(outroot)
    now = time.time() if now is None else now
    failed = read_json(outroot / FAILED_FILE) or {}
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
        outdir = outroot / entry.name
        done = read_json(outdir / DONE_FILE)
        if isinstance(done, dict) and done.get("stat") == sig and done.get("params") == key:
            result["done"].append(str(entry))
        elif isinstance(failed.get(entry.name), dict) and failed[entry.name].get("stat") == sig \
                and failed[entry.name].get("params") == key:
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
    for entry in map(Path, waiting):
        try:
            left = max(left, _newest_mtime(stat_signature(entry), entry) + settle - now)
        except FileNotFoundError:
            continue
    return max(0.0, left)


def _forget(outdir: Path) -> None:
    """Remove what a run left in ``outdir`` (and the folder, when nothing else is in it)."""
    if outdir.is_dir():
        clear_outputs(outdir)
        for name in (DONE_FILE, LOCK):
            (outdir / name).unlink(missing_ok=True)
        try:
            outdir.rmdir()
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
    outroot = Path(outroot)
    if not ok and not os.path.lexists(pending["entry"]):
        _forget(Path(pending["outdir"]))
        return False
    entry = Path(pending["entry"]).name
    key = json.dumps(params, sort_keys=True)
    failed = read_json(outroot / FAILED_FILE) or {}
    if ok:
        write_text_atomic(Path(pending["outdir"]) / DONE_FILE, json.dumps({"stat": pending["stat"], "params": key}))
        failed.pop(entry, None)
    else:
        failed[entry] = {"stat": pending["stat"], "params": key, "error": error}
    outroot.mkdir(parents=True, exist_ok=True)
    write_text_atomic(outroot / FAILED_FILE, json.dumps(failed, indent=1))
    return True
