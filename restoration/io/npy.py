"""NumPy ``.npy`` files: header checks without unpickling, memory-mapped reads (by byte range
on object storage: :class:`~restoration.io.urlfiles.RangeArray`)."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib import format as npformat

from ..errors import InputError
from ..store.files import is_url
from .axes import infer_axes
from .item import Item
from .urlfiles import RangeArray, file_size, open_binary


def _read_header(path: str) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """``(shape, fortran_order, dtype, data_offset)`` from the header, never unpickling."""
    with open_binary(path) as fh:
        version = npformat.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = npformat.read_array_header_2_0(fh)
        elif version == (3, 0):  # a utf-8 header, otherwise laid out like 2.0
            shape, fortran, dtype = npformat.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unknown .npy format version {version[0]}.{version[1]}")
        return tuple(int(n) for n in shape), bool(fortran), np.dtype(dtype), fh.tell()


def probe_npy(path: str, name: str) -> Item:
    """Describe the ``.npy`` file at ``path`` from its header.

    Raises
    ------
    InputError
        Not a valid ``.npy`` file, holding Python objects, or truncated (file smaller than its
        header says).
    """
    try:
        shape, _fortran, dtype, offset = _read_header(path)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise InputError(f"not a valid .npy file ({exc})", path=path) from None
    if dtype.hasobject:
        raise InputError("holds Python objects (refusing to unpickle); save a numeric array",
                         path=path)
    expected = offset + math.prod(shape) * dtype.itemsize
    size = file_size(path)
    if size < expected:
        raise InputError(f"truncated .npy file: {size} bytes, header needs {expected}", path=path)
    try:
        axes = infer_axes(shape, format="npy")
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None
    attrs = {"byteorder": "big"} if dtype.byteorder == ">" else {}
    return Item(name=name, source=path, array_path=None, format="npy", shape=shape,
                dtype=dtype.newbyteorder("="), axes=axes, attrs=attrs)


def open_npy(item: Item) -> np.ndarray | RangeArray:
    """A read-only memory map of the item's ``.npy`` file (a plain array when it is 0 bytes); for
    a URL, a :class:`~restoration.io.urlfiles.RangeArray` reading it by byte range."""
    try:
        if is_url(item.source):
            shape, fortran, dtype, offset = _read_header(item.source)
            return RangeArray(item.source, offset, shape, dtype, fortran)
        return np.load(item.source, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read .npy file ({exc})", path=item.source) from None
