"""Input files by local path or fsspec URL (``s3://bucket/cells.tif``): opened, sized, and read
lazily by byte range where the format lays its data out whole.

On object storage a file cannot be memory-mapped; :class:`RangeArray` stands in for the memory
map of ``.npy`` and uncompressed TIFF files: each slice taken is one range request
(``fs.cat_file(path, start, end)``), so a file larger than memory streams block by block as a
local one does. The filesystem comes from :func:`restoration.store.files.filesystem`
(credentials, endpoint and region where the storage's library finds them).
"""

from __future__ import annotations

import math
import os
from typing import IO, Any

import numpy as np

from ..store.files import filesystem, is_url

#: Read-ahead of a URL opened by :func:`open_binary`: headers and TIFF tags are read in requests
#: this large (s3fs's default, 50 MiB, would fetch that much to read a 26-byte header).
_BLOCK_SIZE = 1 << 20


def open_binary(path: str) -> IO[bytes]:
    """The file at ``path`` (a local path or an fsspec URL), opened for reading bytes.

    A URL's file reads with range requests of at least 1 MiB, as the reader seeks and reads.
    """
    if not is_url(path):
        return open(path, "rb")
    fs, p = filesystem(path)
    return fs.open(p, "rb", block_size=_BLOCK_SIZE, cache_type="readahead")


def file_size(path: str) -> int:
    """The size in bytes of the file (or object) at ``path``."""
    if not is_url(path):
        return os.path.getsize(path)
    fs, p = filesystem(path)
    return int(fs.size(p))


def read_bytes(path: str) -> bytes:
    """The whole content of the file at ``path``, a local path or a URL (for formats that are
    decoded whole anyway)."""
    fs, p = filesystem(path)
    return fs.cat_file(p)


def _bounds(key: Any, n: int) -> tuple[int, int]:
    """The range ``[start, stop)`` of the first axis that index ``key`` (an int or slice) reads."""
    if isinstance(key, slice):
        start, stop, step = key.indices(n)
        if step < 0:
            start, stop = stop + 1, start + 1
        return start, max(start, stop)
    i = int(key)
    i = i + n if i < 0 else i
    if not 0 <= i < n:
        raise IndexError(f"index {key} is out of bounds for axis 0 with size {n}")
    return i, i + 1


class RangeArray:
    """A read-only array stored whole (uncompressed, contiguous) in a file at an offset, read by
    byte range when sliced: the stand-in for ``numpy.memmap`` of a file on object storage.

    A slice reads the whole range of the first axis it covers and cuts the rest in memory, so the
    blocks of :func:`restoration.io.blocks.iter_blocks` (contiguous runs of the file) are read
    exactly. A Fortran-order array (``.npy`` may be one) is read whole when sliced.

    Parameters
    ----------
    url : str
        The file's URL (a local path works too).
    offset : int
        Where the array's first byte is.
    shape : tuple of int
        Its shape.
    dtype : numpy.dtype
        Its dtype, with the file's byte order.
    fortran_order : bool
        Whether it is stored in Fortran order; C order otherwise.
    """

    def __init__(self, url: str, offset: int, shape: tuple[int, ...], dtype: Any,
                 fortran_order: bool = False):
        self.url, self.offset, self.fortran_order = url, int(offset), bool(fortran_order)
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        """Number of axes."""
        return len(self.shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray:
        keys = key if isinstance(key, tuple) else (key,)
        first = keys[0] if keys else Ellipsis
        if self.fortran_order:
            whole = self._read(0, 1, math.prod(self.shape)).reshape(self.shape, order="F")
            return whole[key]
        if not self.shape or not isinstance(first, (slice, int, np.integer)):
            # a 0-d array, an Ellipsis or fancy indexing: read it all
            return self._read(0, self.shape[0] if self.shape else 1, math.prod(self.shape[1:])
                              ).reshape(self.shape)[key]
        start, stop = _bounds(first, self.shape[0])
        rows = self._read(start, stop, math.prod(self.shape[1:])).reshape((stop - start, *self.shape[1:]))
        local = slice(None, None, first.step) if isinstance(first, slice) else 0
        return rows[(local, *keys[1:])]

    def _read(self, start: int, stop: int, row: int) -> np.ndarray:
        """Entries ``start:stop`` of the first axis, ``row`` elements each, as a flat array."""
        nbytes = (stop - start) * row * self.dtype.itemsize
        if nbytes <= 0:
            return np.empty(max(0, stop - start) * row, self.dtype)
        fs, p = filesystem(self.url)
        begin = self.offset + start * row * self.dtype.itemsize
        raw = fs.cat_file(p, start=begin, end=begin + nbytes)
        if len(raw) != nbytes:
            raise OSError(f"file ends early: {len(raw)} of {nbytes} bytes at offset {begin}")
        return np.frombuffer(raw, self.dtype)
