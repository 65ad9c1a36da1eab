"""Model files by path, without torch: which file a run uses and its id (part of a run's signature,
so that a check of OUTDIR before any work does not wait seconds for torch to import)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import InputError

DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "default.pt"


class CheckpointError(InputError):
    """The file is not a usable restoration model (corrupt, foreign, incompatible or non-finite)."""


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 hex digest of the file at ``path`` (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_file(path: str | os.PathLike | None = None) -> Path:
    """The resolved model file ``path`` names (default: the shipped model).

    Raises
    ------
    CheckpointError
        When it is not a file.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL
    if not path.is_file():
        raise CheckpointError(f"{path}: model file not found")
    return path.resolve()


def model_id(path: str | os.PathLike) -> str:
    """``NAME@sha256:DIGEST`` of the resolved model file ``path``: its content, not its location."""
    return f"{Path(path).name}@sha256:{file_digest(path)[:16]}"
