"""Progress markers: which work regions of an item are written, so a crash costs only the rest."""

from __future__ import annotations

import shutil
from pathlib import Path

from .files import write_text_atomic
from .layout import WORK


def _progress_dir(outdir: Path, name: str) -> Path:
    return Path(outdir) / WORK / "progress" / name


def start_progress(outdir: Path, name: str, key: str) -> set[int]:
    """Work regions of item ``name`` already written under plan ``key`` (a crash costs only the rest).

    Progress is one marker file per region (a plane, a band of one, or a slab of zx or zy
    planes), so workers in other processes record theirs without sharing a file; a different
    plan key starts over.
    """
    folder = _progress_dir(outdir, name)
    keyfile = folder / "plan.key"
    if keyfile.is_file() and keyfile.read_text() == key:
        return progress_done(outdir, name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_text_atomic(keyfile, key)
    return set()


def progress_done(outdir: Path, name: str) -> set[int]:
    """The regions of item ``name`` marked done (:func:`mark_done`)."""
    return {int(p.stem) for p in _progress_dir(outdir, name).glob("*.done")}


def mark_done(outdir: Path, name: str, index: int) -> None:
    """Record work region ``index`` as written (called after its data is stored)."""
    (_progress_dir(outdir, name) / f"{index}.done").touch()


def clear_progress(outdir: Path, name: str) -> None:
    """Remove item ``name``'s progress markers (it is complete, or starts over)."""
    shutil.rmtree(_progress_dir(outdir, name), ignore_errors=True)
