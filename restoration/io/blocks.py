"""Walk an array in bounded blocks, in C order, and fingerprint its content that way."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from .item import Item

#: Default block budget of :func:`fingerprint`.
BLOCK_BYTES = 1 << 24


def iter_blocks(shape: Sequence[int], itemsize: int, max_bytes: int,
                chunks: Sequence[int] | None = None) -> Iterator[tuple[slice, ...]]:
    """Selections covering an array in C order, each at most ``max_bytes`` when possible.

    Leading axes are taken one index at a time until the trailing axes fit the budget; along the
    axis where they start to fit the block holds as many entries as the budget allows, rounded
    down to a multiple of ``chunks`` along that axis when at least one chunk fits. The blocks'
    bytes, concatenated in order, are the array's C-order bytes. A single element larger than
    the budget is still one block.

    Parameters
    ----------
    shape : sequence of int
        The array's shape.
    itemsize : int
        Bytes per element.
    max_bytes : int
        The budget per block.
    chunks : sequence of int, optional
        Chunk shape to align to (e.g. a zarr array's ``chunks``).

    Yields
    ------
    tuple of slice
        One slice per axis.
    """
    shape = tuple(int(n) for n in shape)
    if math.prod(shape) == 0:
        return
    ndim = len(shape)
    if ndim == 0:
        yield ()
        return
    axis = 0  # the first axis whose trailing block fits
    while axis < ndim - 1 and math.prod(shape[axis + 1:]) * itemsize > max_bytes:
        axis += 1
    inner = math.prod(shape[axis + 1:]) * itemsize
    step = max(1, min(shape[axis], max_bytes // max(inner, 1)))
    if chunks is not None and step >= chunks[axis] > 0:
        step -= step % chunks[axis]
    for lead in itertools.product(*(range(n) for n in shape[:axis])):
        head = tuple(slice(i, i + 1) for i in lead)
        tail = tuple(slice(0, n) for n in shape[axis + 1:])
        for start in range(0, shape[axis], step):
            yield head + (slice(start, min(start + step, shape[axis])),) + tail


class Fingerprint:
    """sha256 over an array's shape, dtype name and little-endian C-order bytes, fed by blocks.

    Feed every block of :func:`iter_blocks` in order to :meth:`update`; :meth:`hexdigest` gives
    ``"sha256:<hex>"``. The result depends on the values only, not on file format, byte order or
    block size.
    """

    def __init__(self, shape: Sequence[int], dtype: Any):
        dtype = np.dtype(dtype)
        self._dtype = dtype.newbyteorder("<")
        self._hash = hashlib.sha256()
        header = f"shape={tuple(int(n) for n in shape)};dtype={dtype.name};"
        self._hash.update(header.encode())

    def update(self, block: Any) -> None:
        """Hash the next ``block`` (converted to the little-endian dtype, C order)."""
        data = np.ascontiguousarray(np.asarray(block), dtype=self._dtype)
        self._hash.update(memoryview(data).cast("B"))

    def hexdigest(self) -> str:
        """``"sha256:<hex>"`` of everything fed so far."""
        return "sha256:" + self._hash.hexdigest()


def read_block(item: Item, data: Any, sel: tuple[slice, ...]) -> np.ndarray:
    """``data[sel]`` as a native-order array; a failed read (corrupt chunk, file gone) is an
    :class:`InputError` naming the item."""
    try:
        return np.asarray(data[sel], dtype=item.dtype)
    except InputError:
        raise
    except Exception as exc:
        where = ", ".join(f"{s.start}:{s.stop}" for s in sel)
        raise InputError(f"cannot read data at [{where}] ({type(exc).__name__}: {exc})",
                         path=item.where) from None


def fingerprint(item: Item, *, block_bytes: int = BLOCK_BYTES) -> str:
    """The content fingerprint of an item: ``"sha256:"`` + hex digest.

    Streams the data in blocks of at most ``block_bytes`` (never the whole array for ``.npy``
    and zarr inputs). Deterministic across runs; equal for equal shape, dtype and values.
    """
    data = item.open()
    chunks = getattr(data, "chunks", None)
    fp = Fingerprint(item.shape, item.dtype)
    for sel in iter_blocks(item.shape, item.dtype.itemsize, block_bytes, chunks):
        fp.update(read_block(item, data, sel))
    return fp.hexdigest()
