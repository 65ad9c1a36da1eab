"""Send a dataset to the ``restore-dataset`` pipeline from napari: ``restoration run`` in a
background process (a Qt ``QProcess``: the GUI never waits), which reports its flow run to the
Prefect server that ``PREFECT_API_URL`` names, or runs on Prefect's temporary local API when
none is configured. Its output gives the run's page in the Prefect UI and the report."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from qtpy.QtCore import QObject, QProcess, Signal

from ..options import RunOptions, run_argv
from .cli_output import report_path, run_url

class PipelineRun(QObject):
    """One ``restoration run`` of ``options`` in a child process.

    Signals: ``status(str)`` the latest line (progress bars included), ``page(str)`` the run's
    Prefect UI page, ``finished(int, str, str)`` exit code, report path ("" when none) and the
    last error line ("" when none).
    """

    status = Signal(str)
    page = Signal(str)
    finished = Signal(int, str, str)

    def __init__(self, options: RunOptions, parent: QObject | None = None):
        super().__init__(parent)
        self.options = options
        self.url = ""
        self.report = ""
        self.error = ""
        self._buffers = {"out": "", "err": ""}
        self.process = QProcess(self)  # inherits this process's environment (PREFECT_API_URL among it)
        self.process.readyReadStandardOutput.connect(lambda: self._read("out"))
        self.process.readyReadStandardError.connect(lambda: self._read("err"))
        self.process.finished.connect(self._finished)

    def arguments(self) -> list[str]:
        """The child's command line after the interpreter."""
        return ["-m", "restoration_flows.cli", "run", *run_argv(self.options)]

    def start(self) -> None:
        """Start the run (returns at once)."""
        self.process.start(sys.executable, self.arguments())

    def running(self) -> bool:
        """Whether the child is still running."""
        return self.process.state() != QProcess.ProcessState.NotRunning

    def stop(self, wait_ms: int = 5000) -> None:
        """Terminate the child (SIGTERM: it ends its flow run), killing it if it does not end."""
        if self.running():
            self.process.terminate()
            if not self.process.waitForFinished(wait_ms):
                self.process.kill()
                self.process.waitForFinished(wait_ms)

    def _read(self, which: str) -> None:
        raw = self.process.readAllStandardOutput() if which == "out" else self.process.readAllStandardError()
        text = self._buffers[which] + bytes(raw).decode("utf-8", "replace")
        *lines, self._buffers[which] = re.split(r"[\r\n]", text)
        for line in lines:
            self._line(line)

    def _line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        if url := run_url(line):
            self.url = url
            self.page.emit(url)
        if report := report_path(line):
            self.report = str(Path(report).resolve())
        if line.startswith(("error: ", "internal error: ")):
            self.error = line
        self.status.emit(line)

    def _finished(self, code: int, _status) -> None:
        for which in ("out", "err"):
            if self._buffers[which]:
                self._line(self._buffers[which])
                self._buffers[which] = ""
        self.finished.emit(int(code), self.report, self.error)
