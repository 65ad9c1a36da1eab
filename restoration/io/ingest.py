"""Copy an item into the run's working zarr store, block by block, fingerprinting on the way."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .blocks import Fingerprint, iter_blocks, read_block
from .item import Item

#: Copy blocks hold at least this many bytes (and at most this or one chunk row band).
_MIN_BLOCK = 1 << 24


def chunk_shape(shape: Sequence[int], axes: str, itemsize: int, chunk_bytes: int = 1 << 22
                ) -> tuple[int, ...]:
    """Chunks for a working array: one plane along t/z, the channel axis whole, y/x tiled.

    A whole plane is one chunk when it fits ``chunk_bytes``; otherwise y/x are cut into tiles of
    about ``chunk_bytes`` (square, sides a multiple of 64 where the image allows).
    """
    chunks = [1] * len(shape)
    per_pixel = itemsize
    for i, a in enumerate(axes):
        if a == "c":
            chunks[i] = int(shape[i])
            per_pixel *= int(shape[i])
    iy, ix = axes.index("y"), axes.index("x")
    ny, nx = int(shape[iy]), int(shape[ix])
    pixels = max(1, chunk_bytes // per_pixel)
    if ny * nx <= pixels:
        cy, cx = ny, nx
    else:
        side = max(1, math.isqrt(pixels))
        if side >= 128:
            side -= side % 64
        if nx <= side:
            cx, cy = nx, min(ny, max(1, pixels // nx))
        elif ny <= side:
            cy, cx = ny, min(nx, max(1, pixels // ny))
        else:
            cy = cx = side
    chunks[iy], chunks[ix] = cy, cx
    return tuple(chunks)


def ingest_attributes(item: Item) -> dict[str, Any]:
    """The attributes recorded on an ingested array (``fingerprint`` is added when complete)."""
    return {"source": item.source, "array_path": item.array_path, "format": item.format,
            "dtype": np.dtype(item.dtype).name, "shape": list(item.shape), "axes": item.axes,
            "attrs": item.attrs}


def ingest(item: Item, group: Any, *, chunk_bytes: int = 1 << 22, overwrite: bool = True) -> Any:
    """Copy ``item`` into a zarr v3 array named ``item.name`` in ``group``.

    The copy streams in blocks of bounded size (for ``.npy`` and zarr inputs memory stays
    bounded; PNG/JPEG/compressed TIFF are decoded whole by their readers). The input is only read.

    Parameters
    ----------
    item : Item
        What to copy (from :func:`restoration.io.discover`).
    group : zarr.Group
        The run's working store, opened for writing.
    chunk_bytes : int
        Target chunk size in bytes (see :func:`chunk_shape`).
    overwrite : bool
        Replace an existing array of that name (default); otherwise an existing one is an error.

    Returns
    -------
    zarr.Array
        Same shape and dtype (native byte order) as the item, ``dimension_names`` set to its axes,
        attributes ``source, array_path, format, dtype, shape, axes, attrs`` and, written last,
        once every block is in, ``fingerprint`` (equal to :func:`restoration.io.fingerprint`).
    """
    dtype = np.dtype(item.dtype)
    chunks = chunk_shape(item.shape, item.axes, dtype.itemsize, chunk_bytes)
    out = group.create_array(name=item.name, shape=item.shape, dtype=dtype, chunks=chunks,
                             dimension_names=tuple(item.axes), attributes=ingest_attributes(item),
                             overwrite=overwrite)
    src = item.open()
    fp = Fingerprint(item.shape, dtype)
    budget = max(_MIN_BLOCK, chunk_bytes)
    for sel in iter_blocks(item.shape, dtype.itemsize, budget, chunks):
        block = read_block(item, src, sel)
        out[sel] = block
        fp.update(block)
    out.update_attributes({"fingerprint": fp.hexdigest()})
    return out
