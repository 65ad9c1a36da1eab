"""Fixtures for the I/O tests: writers of small real files (no mocks)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_bytes(width: int, height: int, depth: int, colour: int, rows: bytes | None = None) -> bytes:
    """A PNG file built by hand (so headers can claim anything); ``rows`` is the raw image."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\x00")
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


@pytest.fixture
def ramp():
    """``ramp(shape, dtype)``: a deterministic array spanning much of the dtype's range."""

    def make(shape, dtype="float32", seed=0):
        rng = np.random.default_rng(seed)
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            return rng.random(shape).astype(dtype)
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)

    return make


@pytest.fixture
def write_png_raw():
    """``write_png_raw(path, width, height, depth, colour, rows=None)`` -> path."""

    def write(path: Path, width, height, depth, colour, rows=None) -> Path:
        path.write_bytes(png_bytes(width, height, depth, colour, rows))
        return path

    return write


def snapshot(path: Path) -> tuple[int, str]:
    """(mtime_ns, sha256) of a file, or of every file under a directory."""
    import hashlib

    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(path.parent)).encode())
        h.update(f.read_bytes())
    return max(f.stat().st_mtime_ns for f in files), h.hexdigest()


@pytest.fixture
def file_snapshot():
    return snapshot
