"""The processes a command starts end with it, however it ends (SIGKILL and the OOM killer
included), and a terminal's Ctrl-C reaches only the command, which then stops them in order.

Prefect's temporary API server starts in a session of its own (out of reach of the terminal's
SIGINT, which used to stop it under a running flow) and is tied to this process by a guard: a
small process reading a pipe from this one, which sees end-of-file when this process ends, by
any means, and then stops what was tied to it. Local Dask workers are tied to this process by
Dask itself (they exit when their nanny's pipe closes); :func:`dask_setup` keeps the terminal's
SIGINT from them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import types

#: Seconds the guard waits for a process group to end after SIGTERM before it sends SIGKILL.
GRACE = 3.0

_guard: subprocess.Popen | None = None
_lock = threading.Lock()  # Prefect may start its server from any thread


def tie(pid: int) -> None:
    """End process group ``pid`` (a session or group leader) when this process ends, however it
    ends: SIGTERM, then SIGKILL after :data:`GRACE` seconds."""
    global _guard
    with _lock:
        if _guard is None or _guard.poll() is not None:
            # Its own session: the terminal's Ctrl-C must not stop the guard before it is needed.
            _guard = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, start_new_session=True, text=True)
        _guard.stdin.write(f"{pid}\n")
        _guard.stdin.flush()


def _server_popen(*args, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(*args, start_new_session=True, **kwargs)
    tie(proc.pid)
    return proc


def tie_prefect_server() -> None:
    """Start Prefect's temporary API server (``SubprocessASGIServer``) in a session of its own,
    tied to this process by :func:`tie`: the server module's ``subprocess`` becomes a view of the
    real one whose ``Popen`` does that, so Prefect's own command line and settings stay as they are."""
    from prefect.server.api import server

    if not isinstance(server.subprocess, types.SimpleNamespace):
        server.subprocess = types.SimpleNamespace(**{**vars(subprocess), "Popen": _server_popen})


def dask_setup(worker) -> None:
    """Dask preload hook (``distributed.worker.preload``): a local cluster's workers share the
    command's process group, so a terminal's Ctrl-C would reach them too and print their
    tracebacks; they ignore it, and end when the command closes the cluster or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _guard_tied() -> None:
    """The guard's body: read pids until end-of-file (the command ended), then stop the tied
    process groups that are still the processes they were (pids are reused)."""
    import psutil

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tied = []
    for line in sys.stdin:
        try:
            tied.append(psutil.Process(int(line)))
        except (ValueError, psutil.Error):
            continue
    alive = [p for p in tied if p.is_running()]
    for proc in alive:
        _signal_group(proc.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(alive, timeout=GRACE)
    for proc in alive:
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


if __name__ == "__main__":
    _guard_tied()
