"""OUTDIR's files on a local disk or on object storage (any fsspec URL), small ones written whole.

Paths are strings: a local path, or a URL such as ``s3://bucket/run`` read and written through
fsspec (credentials, endpoint and region where the filesystem's library finds them: for S3 the
AWS environment variables and config files, ``AWS_ENDPOINT_URL`` included, or fsspec's own
configuration). A small file is never seen half written: locally it is written to a temporary
name and renamed, and an object store's PUT is atomic.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def is_url(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a URL (``s3://...``, ``memory://...``) rather than a local path.

    Examples
    --------
    >>> is_url("s3://bucket/run"), is_url("out/run")
    (True, False)
    """
    return "://" in str(path)


def join(base: str | os.PathLike, *names: str) -> str:
    """``base`` followed by ``names``: with ``/`` for a URL, as :func:`os.path.join` for a path.

    Examples
    --------
    >>> join("s3://bucket/run/", ".work", "progress")
    's3://bucket/run/.work/progress'
    """
    if is_url(base):
        return "/".join([str(base).rstrip("/"), *names])
    return os.path.join(base, *names)


def basename(path: str | os.PathLike) -> str:
    """The last component of a path or URL (``s3://b/run/`` gives ``run``)."""
    return str(path).rstrip("/").rsplit("/", 1)[-1] if is_url(path) else Path(path).name


def filesystem(path: str | os.PathLike):
    """The fsspec filesystem of ``path`` and the path within it (a local path: the local filesystem)."""
    from fsspec.core import url_to_fs

    return url_to_fs(str(path))


def _fresh(path: str | os.PathLike):
    """:func:`filesystem`, its cached listings of ``path`` dropped: other processes write OUTDIR too."""
    fs, p = filesystem(path)
    fs.invalidate_cache(p)
    return fs, p


def exists(path: str | os.PathLike) -> bool:
    """Whether a file or directory (an object or a prefix of some) is at ``path``."""
    if not is_url(path):
        return os.path.lexists(path)
    fs, p = _fresh(path)
    return fs.exists(p)


def remove(path: str | os.PathLike) -> None:
    """Remove the file or directory (with what it holds) at ``path``; nothing when there is none."""
    fs, p = _fresh(path)
    if fs.exists(p):
        fs.rm(p, recursive=fs.isdir(p))


def make_dirs(path: str | os.PathLike) -> None:
    """Create the local directory ``path`` and its parents; on object storage there are none to make
    (and a missing bucket is never created)."""
    if not is_url(path):
        os.makedirs(path, exist_ok=True)


def list_names(path: str | os.PathLike) -> list[str]:
    """The names of what the directory (or prefix) ``path`` holds, sorted; [] when there is none."""
    fs, p = _fresh(path)
    try:
        return sorted(basename(e) for e in fs.ls(p, detail=False) if e.rstrip("/") != p.rstrip("/"))
    except FileNotFoundError:
        return []


def read_text(path: str | os.PathLike) -> str:
    """The text of the file at ``path`` (FileNotFoundError when there is none)."""
    if not is_url(path):
        return Path(path).read_text()
    fs, p = _fresh(path)
    return fs.cat_file(p).decode()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` whole: readers never see half a file.

    A local file is written to a temporary name, flushed to disk and renamed over ``path``; an
    object is one PUT, which object stores apply whole.
    """
    if is_url(path):
        fs, p = filesystem(path)
        fs.pipe_file(p, text.encode())
        return
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        return json.loads(read_text(path))
    except (OSError, ValueError):
        return None
