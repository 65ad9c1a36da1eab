"""The processes a command starts end with it, however it ends (SIGKILL and the OOM killer
included), and a terminal's Ctrl-C reaches only the command, which then stops them in order.

Prefect's temporary API server starts in a session of its own (out of reach of the terminal's
SIGINT, which used to stop it under a running flow) and is tied to this process by a guard: a
small process reading a pipe from this one, which sees end-of-file when this process ends, by
any means, and then stops what was tied to it. Local Dask workers are tied to this process by
Dask itself (they exit when their nanny's pipe closes), the temporary API each of them starts by
:func:`dask_setup`, and :func:`leave_interrupts_to_the_command` keeps the terminal's SIGINT from them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

_guard: subprocess.Popen | None = None
_lock = threading.Lock()  # Prefect may start its server from any thread


def tie(pid: int) -> None:
    """End process group ``pid`` (a session or group leader) when this process ends, however it
    ends: SIGTERM, then SIGKILL after :data:`~.guard.GRACE` seconds."""
    global _guard
    with _lock:
        if _guard is None or _guard.poll() is not None:
            # Its own session: the terminal's Ctrl-C must not stop the guard before it is needed.
            _guard = subprocess.Popen([sys.executable, "-m", "restoration_flows.guard"], stdin=subprocess.PIPE,
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


#: Set in the environment of the local Dask cluster's workers (see :func:`leave_interrupts_to_the_command`).
WORKER_MARK = "RESTORATION_LOCAL_WORKER"


def leave_interrupts_to_the_command() -> None:
    """In a worker of the command's local Dask cluster (:data:`WORKER_MARK` in its environment),
    ignore SIGINT: the workers share the command's process group, and a terminal's Ctrl-C would
    stop each with a traceback; the command stops them itself, or they end with it. Called where
    the worker first imports this package, before any slow import."""
    if os.environ.get(WORKER_MARK):
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def environment_kept() -> Iterator[None]:
    """This process's environment as it was on entering, again on leaving: Dask's nannies write
    their workers' environment (``distributed.nanny.pre-spawn-environ``, :data:`WORKER_MARK`
    among it) into the process that starts them, and what this process starts later (a flow run
    of ``serve``) must not take itself for a Dask worker."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        restore_environment(saved)


def restore_environment(saved: dict[str, str]) -> None:
    """Make this process's environment ``saved`` again (see :func:`environment_kept`)."""
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    os.environ.update({k: v for k, v in saved.items() if os.environ.get(k) != v})


def dask_setup(worker) -> None:
    """Dask's preload hook (``distributed.worker.preload``): the temporary Prefect API a worker
    starts for its task runs is tied to the worker, as the command's is to the command."""
    tie_prefect_server()
