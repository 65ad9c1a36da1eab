"""The run lock: one run at a time per OUTDIR, on a local disk or on object storage.

A local OUTDIR is locked with ``flock`` on ``OUTDIR/.restoration.lock``: the kernel releases it
when the run ends, however it ends. Object storage has no such lock, so there the lock is a
lease: the object ``OUTDIR/.restoration.lock`` is created only if absent (S3's conditional
``PUT`` with ``If-None-Match: *``, through fsspec's exclusive ``"xb"`` mode; other stores' own
create-only writes), renewed by a heartbeat while the run lives, and deleted when it ends. A
run killed outright leaves its lease to expire: the next run may start once it has gone
unrenewed for ``RESTORATION_LEASE_SECONDS`` (default 60).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import InputError
from .files import filesystem, is_url, join, read_json
from .layout import LOCK


def lease_seconds() -> float:
    """How long a lease on object storage holds without renewal (``RESTORATION_LEASE_SECONDS``, default 60)."""
    return max(1.0, float(os.environ.get("RESTORATION_LEASE_SECONDS", 60)))


class Lease:
    """An exclusive lease on object storage: the object ``path``, created only if absent and
    renewed every third of ``seconds`` by a thread until released.

    Parameters
    ----------
    path : str
        The lease object's URL.
    seconds : float
        How long the lease holds without renewal.
    """

    def __init__(self, path: str, seconds: float):
        self.path, self.seconds = path, seconds
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _body(self) -> bytes:
        return json.dumps({"token": self.token, "host": socket.gethostname(), "pid": os.getpid(),
                           "expires": time.time() + self.seconds}).encode()

    def acquire(self) -> None:
        """Create the lease object, or take over one that expired.

        Raises
        ------
        InputError
            When another run holds an unexpired lease.
        """
        fs, p = filesystem(self.path)
        for attempt in range(2):
            try:
                with fs.open(p, "xb") as f:  # one PUT, refused if the object exists
                    f.write(self._body())
                break
            except FileExistsError:
                held = read_json(self.path)
                expires = held.get("expires") if isinstance(held, dict) else None
                left = float(expires) - time.time() if isinstance(expires, (int, float)) else None
                if attempt == 0 and left is not None and left < 0:
                    fs.rm(p)  # its run died without releasing it; a rival taking it over too is refused above
                    continue
                when = f" (its lease expires in {left:.0f} s unless renewed)" if left is not None and left >= 0 \
                    else f" (remove {self.path} if no run uses it)"
                raise InputError(f"output directory is locked by another restoration run{when}",
                                 path=self.path.rsplit("/", 1)[0]) from None
        self._thread = threading.Thread(target=self._renew, name="restoration-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        fs, p = filesystem(self.path)
        while not self._stop.wait(self.seconds / 3):
            held = read_json(self.path)
            if not isinstance(held, dict) or held.get("token") != self.token:
                return  # taken over after we stalled past expiry: never overwrite another run's lease
            fs.pipe_file(p, self._body())

    def release(self) -> None:
        """Stop renewing and delete the lease object (unless another run holds it now)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        held = read_json(self.path)
        if isinstance(held, dict) and held.get("token") == self.token:
            fs, p = filesystem(self.path)
            fs.rm(p)


class RunLock:
    """One run at a time on OUTDIR: ``flock`` on a local disk (released by the kernel if we die),
    a :class:`Lease` on object storage (expires if we die)."""

    def __init__(self, outdir: str | os.PathLike):
        self.outdir = outdir
        self._fd: int | None = None
        self._lease: Lease | None = None

    def __enter__(self) -> "RunLock":
        if is_url(self.outdir):
            self._lease = Lease(join(self.outdir, LOCK), lease_seconds())
            self._lease.acquire()
            return self
        outdir = Path(self.outdir)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(outdir / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:  # e.g. under /proc, or read-only: what a permission check cannot see
            raise InputError(f"cannot create or write the output directory ({exc.strerror})",
                             path=str(outdir)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError("output directory is locked by another restoration run", path=str(outdir)) from None
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
