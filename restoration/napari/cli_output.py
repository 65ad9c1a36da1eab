"""What the napari plugin reads in the output of ``restoration run`` (no Qt: doctests run without
the napari extra)."""

from __future__ import annotations

import re
from urllib.parse import urlparse

UI_LINE = re.compile(r"^Prefect UI: (\S+)")
OUTPUTS_LINE = re.compile(r"^outputs: .*?(\S+report\.html)$")


def run_url(line: str) -> str | None:
    """The flow run's page from a ``Prefect UI: URL`` line of ``restoration run`` (an http URL).

    Examples
    --------
    >>> run_url("Prefect UI: http://127.0.0.1:4200/runs/flow-run/1234")
    'http://127.0.0.1:4200/runs/flow-run/1234'
    >>> run_url("restoring into out") is None
    True
    """
    m = UI_LINE.match(line.strip())
    return m.group(1) if m and urlparse(m.group(1)).scheme in ("http", "https") else None


def report_path(line: str) -> str | None:
    """The report from the ``outputs: ...`` line ``restoration run`` prints at the end.

    Examples
    --------
    >>> report_path("outputs: o/restored.zarr, o/noise.csv, o/quality.csv, o/report.html")
    'o/report.html'
    """
    m = OUTPUTS_LINE.match(line.strip())
    return m.group(1) if m else None
