"""Stopping signals that must not be lost.

A stopping signal (SIGINT, SIGTERM) stops a command by the exception its Python handler raises.
Python drops that exception when the handler happens to run inside a finalizer or a weakref
callback (it prints ``Exception ignored in ...``), and the command would then go on as if it had
never been signalled, to exit 0. While :func:`recording_stops` is active every stopping signal is
also written to a pipe by the interpreter's C-level handler (:func:`signal.set_wakeup_fd`),
whatever the Python one does; :func:`raise_if_stopped`, called between the regions a denoiser
restores and before a command reports success, raises what was lost. The dropped exception is
not printed: the command's one line says that it stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator

STOPPING = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the same clean-up runs."""


_read_end: int | None = None
_seen: int | None = None


def note_stop(signum: int) -> None:
    """Record that the stopping signal ``signum`` arrived (for handlers that raise themselves)."""
    global _seen
    _seen = signum


def stop_received() -> int | None:
    """The last stopping signal received while recording (None when none, or not recording).

    Examples
    --------
    >>> stop_received() is None
    True
    """
    if _read_end is not None:
        with contextlib.suppress(BlockingIOError):
            while data := os.read(_read_end, 512):
                for signum in data:
                    if signum in STOPPING:
                        note_stop(signum)
    return _seen


def stop_exception(signum: int) -> KeyboardInterrupt:
    """The exception that stops a command on the stopping signal ``signum``.

    Examples
    --------
    >>> type(stop_exception(signal.SIGTERM)).__name__, type(stop_exception(signal.SIGINT)).__name__
    ('Terminated', 'KeyboardInterrupt')
    """
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def raise_if_stopped() -> None:
    """Raise :class:`KeyboardInterrupt` (:class:`Terminated` for SIGTERM) in the main thread
    when a stopping signal arrived while recording: its own exception may have been dropped.

    Examples
    --------
    >>> raise_if_stopped()  # no signal: nothing happens
    """
    if _read_end is not None and threading.current_thread() is threading.main_thread():
        signum = stop_received()
        if signum is not None:
            raise stop_exception(signum)


def _unraisable(previous):
    def hook(unraisable) -> None:
        # A stopping signal's exception (KeyboardInterrupt, Prefect's TerminationSignal) dropped
        # after the signal was recorded: raise_if_stopped raises it again.
        if isinstance(unraisable.exc_value, Exception) or stop_received() is None:
            previous(unraisable)
    return hook


@contextlib.contextmanager
def recording_stops() -> Iterator[None]:
    """Record the stopping signals that arrive while inside (main thread only: where Python
    runs signal handlers); what was recorded is forgotten on leaving."""
    global _read_end, _seen
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    read_end, write_end = os.pipe()
    for fd in (read_end, write_end):
        os.set_blocking(fd, False)  # the interpreter never blocks writing it, nor we reading it
    previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(previous_hook)
    _read_end, _seen = read_end, None
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        sys.unraisablehook = previous_hook
        _read_end, _seen = None, None
        os.close(read_end)
        os.close(write_end)
