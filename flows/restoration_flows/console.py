"""What the command prints while a flow runs: a progress bar on stderr, one line per failure."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` past an hour)."""
    m, sec = divmod(int(round(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Console:
    """Progress bars (elapsed time and ETA) and one-line messages on stderr, when enabled."""
    """The command's terminal output: a progress bar redrawn in place and whole lines between bars.

    Disabled, it prints nothing (the module's ``console`` starts disabled; ``restoration run`` enables it).
    """
    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self._stream = stream
        self._last = 0.0
        self._open = False
        self._started: dict[str, tuple[float, int]] = {}  # label -> (when its bar started, done then)

    @property
    def stream(self):
        """The stream written to: the one given, else the current ``sys.stderr``."""
        return self._stream or sys.stderr  # looked up each time: tests and shells swap stderr

    def progress(self, label: str, done: float, total: int) -> None:
        """Draw ``label``'s bar at ``done`` of ``total`` (a fraction of a unit moves it too)."""
        """Draw ``label``'s bar at ``done`` of ``total`` (at most every 0.2 s until done; the line ends
        when ``done`` reaches ``total``).
        """
        if not self.enabled:
            return
        now = time.monotonic()
        start, first = self._started.setdefault(label, (now, done))
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        width = 28
        filled = int(width * done / max(total, 1))
        elapsed = now - start
        # The rate of this run's own regions (a resumed item starts with some done).
        eta = elapsed / (done - first) * (total - done) if done > first and done < total else None
        clock = f" {_clock(elapsed)}" + (f" eta {_clock(eta)}" if eta is not None else "")
        count = f"{int(done)}/{total}" + (f" {100 * done / total:3.0f}%" if done != int(done) or total == 1 else "")
        self.stream.write(f"\r{label[:32]:<32} [{'#' * filled}{'.' * (width - filled)}] {count}{clock}")
        self._open = done < total
        if not self._open:
            self._started.pop(label, None)
            self.stream.write("\n")
        self.stream.flush()

    def end_line(self) -> None:
        """End a progress bar's line, so that what is printed next starts a line of its own."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False

    def line(self, text: str) -> None:
        """Print ``text`` on a line of its own (ending an open progress bar first)."""
        if not self.enabled:
            return
        self.end_line()
        self.stream.write(text + "\n")
        self.stream.flush()


console = Console(enabled=False)
