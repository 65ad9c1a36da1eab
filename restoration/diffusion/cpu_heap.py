"""Keep freed memory in the process heap while networks run on the CPU.

glibc serves every allocation above 32 MB (the ceiling of its adaptive threshold) with a fresh
``mmap`` and returns it on free, so each large activation tensor of a tile is page-faulted in anew:
on this project's 2-core benchmark machine the kernel spent as long faulting pages as the
convolutions took (6.9 s/Mpx, half of it system time, against 3.0 s/Mpx with the heap kept). The
price is that the process keeps its peak heap after a denoise instead of handing it back.

``RESTORATION_MALLOC=system`` leaves the C library's defaults alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4   # glibc <malloc.h>
_done = False


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed blocks instead of unmapping them (once per process).

    Returns
    -------
    bool
        Whether the setting is in effect (False off Linux/glibc or when opted out).

    Examples
    --------
    >>> keep_freed_memory() in (True, False)
    True
    """
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get("RESTORATION_MALLOC") == "system":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):   # musl and others have no mallopt
        return False
    _done = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _done
