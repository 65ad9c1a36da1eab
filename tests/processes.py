"""Subprocesses in process groups of their own, stopped as a whole (the tests' ``spawn`` fixtures
and the screenshot scripts under docs/ use it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time


class ProcessGroups:
    """Subprocesses started each in a process group of its own, so that stopping one also stops
    what it started (the temporary Prefect API of ``restoration run``, flow-run processes of
    ``serve``), even after a SIGKILL left those orphaned."""

    def __init__(self):
        self.started: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs) -> subprocess.Popen:
        """``subprocess.Popen(args, **kwargs)`` in a new session, stopped by :meth:`stop`."""
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        self.started.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole group of ``proc`` (nothing if the group is gone)."""
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every group, SIGKILL what is left after ``grace`` seconds, reap the leaders."""
        for proc in self.started:
            self.kill(proc, signal.SIGTERM)
        deadline = time.time() + grace
        for proc in self.started:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                pass
            self.kill(proc)  # members of the group may outlive its leader
            proc.wait()
        self.started.clear()
