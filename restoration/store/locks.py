"""The run lock: one run at a time per OUTDIR."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from .layout import LOCK


class RunLock:
    """An exclusive OS lock on OUTDIR: one run at a time, released by the kernel if we die."""

    def __init__(self, outdir: str | os.PathLike):
        self.outdir = Path(outdir)
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.outdir / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:  # e.g. under /proc, or read-only: what a permission check cannot see
            raise InputError(f"cannot create or write the output directory ({exc.strerror})",
                             path=str(self.outdir)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError("output directory is locked by another restoration run", path=str(self.outdir)) from None
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
