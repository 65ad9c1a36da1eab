"""Keep freed memory in the process heap while a network runs on the CPU, and hand it back after.

glibc serves every allocation above 32 MB (the ceiling of its adaptive threshold) with a fresh
``mmap`` and returns it on free, so each large activation tensor of a tile is page-faulted in anew:
on this project's 2-core benchmark machine the kernel spent as long faulting pages as the
convolutions took (6.9 s/Mpx, half of it system time, against 3.0 s/Mpx with the heap kept).
:func:`heap_kept` turns that off for the length of a network pass only, so the image-sized arrays
around it are mapped and unmapped as usual. When a pass leaves more than ``KEEP_FREE`` bytes free
in the heap, the free pages go back to the OS: without that, a long-lived process ratcheted up
region after region, because each region left the heap fragmented a little differently (a Dask
worker grew from 1.6 to 2.2 GB over eight 4 Mpx bands). Smaller passes keep their pages for the
next call: refaulting them cost a 256 x 256 crop a quarter of its time.

This works in the threads whose heap is glibc's main arena. Any other thread has an arena of its
own, made of 64 MB heaps, and there a larger block is always mmap'd, whatever the setting. So
processes that run networks in a worker thread (Dask workers) must start with the environment of
:func:`worker_environment`. That puts every thread on the main arena: a band of a 67 Mpx plane
then took 13.6 s in a worker thread instead of 23.4 s.

``RESTORATION_MALLOC=system`` leaves the C library's defaults alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4   # glibc <malloc.h>
_DEFAULT_MMAP_MAX = 65536
#: Free heap bytes a pass may leave resident for the next one before they are handed back.
KEEP_FREE = 512 * 2**20


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                      "fsmblks", "uordblks", "fordblks", "keepcost")]


_depth = 0   # blocks open, across threads
_lock = threading.Lock()
log = logging.getLogger(__name__)


def _opted_out() -> bool:
    return not sys.platform.startswith("linux") or os.environ.get("RESTORATION_MALLOC") == "system"


@lru_cache(maxsize=1)
def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not (hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim")):   # musl has neither
        return None
    if hasattr(libc, "mallinfo2"):   # glibc 2.33 and later
        libc.mallinfo2.restype = _Mallinfo2
    return libc


def _free_bytes(libc) -> int:
    """Free bytes inside the heap (resident or not); unknown before glibc 2.33: count as many."""
    return int(libc.mallinfo2().fordblks) if hasattr(libc, "mallinfo2") else KEEP_FREE + 1


@lru_cache(maxsize=1)
def _warn_thread_arena() -> None:
    """Once per process: a network run in a thread of a process started without one arena."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if os.environ.get("MALLOC_ARENA_MAX") != "1" and "glibc.malloc.arena_max=1" not in tunables:
        log.warning("CPU inference in a worker thread of a process started without MALLOC_ARENA_MAX=1: "
                    "about 1.7x slower; start Dask workers with MALLOC_ARENA_MAX=1 (see README)")


def worker_environment() -> dict[str, str]:
    """Environment for processes that will run networks in threads, to be set before they start.

    glibc reads ``MALLOC_ARENA_MAX`` only at process start: one arena means every thread shares
    the main heap, where :func:`heap_kept` applies.

    Examples
    --------
    >>> worker_environment() in ({"MALLOC_ARENA_MAX": "1"}, {})
    True
    """
    return {} if _opted_out() else {"MALLOC_ARENA_MAX": "1"}


@contextmanager
def heap_kept(enabled: bool = True) -> Iterator[bool]:
    """Within the block, freed memory stays in the heap for reuse; on leaving it, large blocks are
    mapped as usual again, and more than ``KEEP_FREE`` free bytes go back to the OS.

    Parameters
    ----------
    enabled : bool
        False makes the block a no-op (a network on the GPU allocates nothing large here).

    Yields
    ------
    bool
        Whether the setting is in effect (False off Linux/glibc or when opted out).

    Examples
    --------
    >>> with heap_kept() as kept:
    ...     kept in (True, False)
    True
    """
    global _depth
    libc = None if not enabled or _opted_out() else _glibc()
    if libc is None:
        yield False
        return
    if threading.current_thread() is not threading.main_thread():
        _warn_thread_arena()
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(_M_MMAP_MAX, 0)
            libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)   # for good: handing back is explicit, below
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                if _free_bytes(libc) > KEEP_FREE:
                    libc.malloc_trim(0)
