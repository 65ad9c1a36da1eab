"""Writing and reading OUTDIR's small files: whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


#: Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write the pandas DataFrame ``frame`` as CSV (atomically), text cells made formula-safe.

    A text cell starting with ``= + - @``, a tab or a carriage return (an item named after a
    file such as ``=HYPERLINK(...).npy``) gets a leading ``'``, as OWASP advises, so that a
    spreadsheet shows it instead of running it. Numbers are written as they are.
    """
    def safe(value):
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value

    from pandas.api.types import is_numeric_dtype

    frame = frame.copy()
    for col in frame.columns:
        if not is_numeric_dtype(frame[col]):
            frame[col] = frame[col].map(safe)
    write_text_atomic(path, frame.to_csv(index=False))


def read_json(path: str | os.PathLike) -> Any:
    """The JSON ``path`` holds, or None when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None
