"""The guard process of :func:`~restoration_flows.children.tie` (``python -m restoration_flows.guard``):
reads pids from its standard input until end-of-file, which comes when the command that started
it ends, however it ends; then stops the tied process groups that are still the processes they were."""

from __future__ import annotations

import os
import signal
import sys

#: Seconds the guard waits for a process group to end after SIGTERM before it sends SIGKILL.
GRACE = 3.0


def guard() -> None:
    """Read pids until end-of-file, then SIGTERM each tied process group still alive (pids are
    reused: the process must be the one tied), and SIGKILL what is left after :data:`GRACE`."""
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
    guard()
