"""Resume or replace: what an existing OUTDIR holds decides whether a run continues it.

A run writes its signature (:meth:`~restoration.options.CheckedRun.signature`) to OUTDIR; the next
run with the same signature resumes (complete items are skipped, partial ones continue from their
last region); one with another signature needs ``--overwrite``, unless nothing in OUTDIR completed.
"""

from __future__ import annotations

import json

from .. import __version__
from ..errors import InputError
from ..options import CheckedRun
from ..store.files import exists, join, make_dirs, read_json, write_text_atomic
from ..store.items import item_provenance
from ..store.layout import RUN_FILE, STORE, clear_outputs, open_store
from .checks import discover_entries
from .records import Entry


def _holds_complete(outdir: str) -> bool:
    """Whether OUTDIR's restored.zarr holds an item marked complete (an unreadable one is assumed
    to: it is not a run's to delete without ``--overwrite``)."""
    try:
        store = open_store(outdir, mode="r")
        return any((item_provenance(store, name) or {}).get("complete") is True for name in store.keys())
    except Exception:
        return True


def stale_outputs(run: CheckedRun) -> bool:
    """Whether OUTDIR's outputs are to be cleared before the run: with ``overwrite``, or when
    they come from another run's options and nothing in them completed (a run in which every
    item failed never blocks the next).

    Raises
    ------
    InputError
        Naming OUTDIR, when it holds complete items of other options and ``overwrite`` is not set.
    """
    outdir = str(run.options.outdir)
    if run.options.overwrite:
        return True
    if not exists(join(outdir, STORE)):
        return False
    previous = read_json(join(outdir, RUN_FILE))
    if isinstance(previous, dict) and previous.get("signature") == run.signature():
        return False
    if _holds_complete(outdir):
        raise InputError("holds a restoration made with other inputs or parameters; use --overwrite to replace it",
                         path=outdir)
    return True


def prepare(run: CheckedRun) -> tuple[list[Entry], list[dict]]:
    """Settle resume versus ``--overwrite`` of OUTDIR, record the run's signature there, and
    discover the entries (see :func:`~.checks.discover_entries`).

    Raises
    ------
    InputError
        OUTDIR holds another run's complete items (without ``overwrite``), or the inputs as a
        whole cannot be read.
    """
    outdir = str(run.options.outdir)
    if stale_outputs(run):
        clear_outputs(outdir)
    make_dirs(outdir)
    write_text_atomic(join(outdir, RUN_FILE), json.dumps({"signature": run.signature(), "version": __version__}, indent=1))
    return discover_entries(run)
