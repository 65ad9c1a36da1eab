"""How the command stops on Ctrl-C (SIGINT) and SIGTERM: one line saying what was kept and how to
resume, exit 130 (143 for SIGTERM), within seconds."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator

from restoration.stopping import Terminated, note_stop, recording_stops


def _interrupt(signum, frame) -> None:
    note_stop(signum)
    raise KeyboardInterrupt()


def _terminate(signum, frame) -> None:
    # Inside a flow run Prefect's own handler raises first; it re-sends the signal here once
    # it has marked the run, so that the flow run ends and the temporary API server stops.
    note_stop(signum)
    raise Terminated()


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGINT raises :class:`KeyboardInterrupt` and SIGTERM :class:`Terminated` while inside (in
    the main thread, where Python allows handlers), and both are recorded for
    :func:`~restoration.stopping.raise_if_stopped`. SIGINT's handler is set even where the
    command was started with SIGINT ignored (a shell's background job): a SIGINT sent to the
    command is meant to stop it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with recording_stops():
            yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_kept(outdir: str) -> str:
    from restoration.store.progress import saved_work

    complete, partial = saved_work(outdir)
    kept = [f"{len(complete)} item{'s' * (len(complete) != 1)} complete"] if complete else []
    kept += [f"{n} region{'s' * (n != 1)} of {name}" for name, n in partial.items()]
    what = " and ".join(kept) if kept else "nothing restored yet"
    return f"{what} in {outdir}; the same command resumes"


def _training_kept(output: str) -> str:
    state = Path(str(output) + ".state")
    if state.is_file():
        return f"the last checkpoint is kept in {state}; the same command with --resume continues from it"
    return "stopped before the first checkpoint; nothing to resume, the same command starts again"


def stopped_line(args, exc: KeyboardInterrupt) -> str:
    """The one line for a command stopped by ``exc``: ``interrupted`` (``terminated`` for SIGTERM),
    what was kept, and how to resume."""
    word = "terminated" if isinstance(exc, Terminated) else "interrupted"
    command = getattr(args, "command", None)
    if command == "run":
        detail = _run_kept(args.outdir)
    elif command in ("train", "adapt"):
        detail = _training_kept(args.output)
    elif command == "serve":
        detail = f"serving stopped; datasets restored so far stay in {args.outroot}, the same command serves again"
    else:
        detail = "nothing was written; the same command starts again"
    return f"{word}: {detail}"


def leave(code: int) -> None:
    """End the process now with ``code``, after what Python's own exit runs first, in its order:
    the threads' exit hooks (Prefect's log and event workers send what they hold), then the exit
    handlers (Prefect's stop its temporary API server). What it skips, tearing down the
    interpreter's modules, takes seconds with Prefect and torch loaded, which an interrupted
    command must not spend."""
    threading._shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
