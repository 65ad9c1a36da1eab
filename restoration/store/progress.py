"""Progress markers: which work regions of an item are written, so a crash costs only the rest."""

from __future__ import annotations

import os

from .files import join, list_names, make_dirs, read_text, remove, write_text_atomic
from .layout import WORK


def _progress_dir(outdir: str | os.PathLike, name: str) -> str:
    return join(outdir, WORK, "progress", name)


def start_progress(outdir: str | os.PathLike, name: str, key: str) -> set[int]:
    """Work regions of item ``name`` already written under plan ``key`` (a crash costs only the rest).

    Progress is one marker file per region (a plane, a band of one, or a slab of zx or zy
    planes), so workers in other processes record theirs without sharing a file; a different
    plan key starts over.
    """
    folder = _progress_dir(outdir, name)
    keyfile = join(folder, "plan.key")
    try:
        if read_text(keyfile) == key:
            return progress_done(outdir, name)
    except OSError:
        pass
    remove(folder)
    make_dirs(folder)
    write_text_atomic(keyfile, key)
    return set()


def progress_done(outdir: str | os.PathLike, name: str) -> set[int]:
    """The regions of item ``name`` marked done (:func:`mark_done`)."""
    return {int(n[:-5]) for n in list_names(_progress_dir(outdir, name)) if n.endswith(".done")}


def mark_done(outdir: str | os.PathLike, name: str, index: int) -> None:
    """Record work region ``index`` as written (called after its data is stored)."""
    write_text_atomic(join(_progress_dir(outdir, name), f"{index}.done"), "")


def clear_progress(outdir: str | os.PathLike, name: str) -> None:
    """Remove item ``name``'s progress markers (it is complete, or starts over)."""
    remove(_progress_dir(outdir, name))


def saved_work(outdir: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """What an interrupted run left in OUTDIR for the next one: the items marked complete, and
    the regions marked done (:func:`mark_done`) of each partial item."""
    from .items import item_provenance
    from .layout import open_store

    try:
        store = open_store(outdir, mode="r")
        complete = [n for n in store.keys() if (item_provenance(store, n) or {}).get("complete") is True]
    except Exception:  # no store yet, or an unreadable one: nothing to count
        complete = []
    partial = {n: len(progress_done(outdir, n)) for n in list_names(join(outdir, WORK, "progress"))}
    return complete, {k: v for k, v in partial.items() if v}
