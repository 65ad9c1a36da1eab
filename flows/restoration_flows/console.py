"""What the command prints while a flow runs: a progress bar on stderr, one line per failure."""

from __future__ import annotations

import sys
import time


class Console:
    """The command's terminal output: a progress bar redrawn in place and whole lines between bars.

    Disabled, it prints nothing (the module's ``console`` starts disabled; ``restoration run`` enables it).
    """
    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self._stream = stream
        self._last = 0.0
        self._open = False

    @property
    def stream(self):
        """The stream written to: the one given, else the current ``sys.stderr``."""
        return self._stream or sys.stderr  # looked up each time: tests and shells swap stderr

    def progress(self, label: str, done: int, total: int) -> None:
        """Draw ``label``'s bar at ``done`` of ``total`` (at most every 0.2 s until done; the line ends
        when ``done`` reaches ``total``).
        """
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        width = 28
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r{label[:32]:<32} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        self._open = done < total
        if not self._open:
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
