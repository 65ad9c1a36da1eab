"""A stopping signal whose exception Python drops (its handler ran inside a finalizer) still
stops the command: :mod:`restoration.stopping` recorded it. Other exceptions Python drops are
still printed."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from restoration.stopping import Terminated, raise_if_stopped, recording_stops, stop_received


class _SignalledWhileFinalized:
    """Sends ``signum`` to this process from its finalizer and waits there for the handler."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        os.kill(os.getpid(), self.signum)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the handler runs between these bytecodes
            time.sleep(0.01)


def _raising(signum, frame):
    raise KeyboardInterrupt()


@pytest.mark.parametrize("signum, raised", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_a_signal_dropped_in_a_finalizer_is_raised_at_the_next_check(signum, raised, monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)
    previous = signal.signal(signum, _raising)
    try:
        with recording_stops():
            raise_if_stopped()  # nothing yet
            started = time.monotonic()
            _SignalledWhileFinalized(signum)  # dropped at once: its finalizer runs here
            assert time.monotonic() - started < 4, "the handler did not run inside the finalizer"
            assert not dropped  # the exception Python drops is not printed: it is raised again
            assert stop_received() == signum
            with pytest.raises(raised) as stopped:
                raise_if_stopped()
            assert type(stopped.value) is raised
        assert stop_received() is None  # forgotten on leaving
        raise_if_stopped()
    finally:
        signal.signal(signum, previous)


def test_other_dropped_exceptions_are_still_reported(monkeypatch):
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)

    class Failing:
        def __del__(self):
            raise ValueError("in a finalizer")

    with recording_stops():
        Failing()
    assert [type(d.exc_value) for d in dropped] == [ValueError]
    assert sys.unraisablehook == dropped.append
