"""Chunk shapes of the output and of the orientation parts, and iteration over chunk blocks."""

from __future__ import annotations

import itertools
import os
from typing import Iterator, Sequence

import numpy as np


def chunk_side() -> int:
    """Output chunk side in y and x (``RESTORATION_CHUNK``, default 512: 1 MiB of float32)."""
    return int(os.environ.get("RESTORATION_CHUNK", 512))


def output_chunks(shape: tuple[int, ...], axes: str, tile: int | None = None) -> tuple[int, ...]:
    """One chunk per denoiser tile: 1 along leading axes (Z chunk 1), tile-sized in y/x, all channels."""
    tile = tile or chunk_side()
    chunks = []
    for n, a in zip(shape, axes):
        chunks.append(min(n, tile) if a in "yx" else (n if a == "c" else 1))
    return tuple(chunks)


def part_chunks(shape: tuple[int, ...], axes: str, orientation: str, slab: int = 1, max_pixels: int = 1 << 22,
                tile: int | None = None) -> tuple[int, ...]:
    """Chunks of one orientation's restoration before averaging (:func:`create_part`).

    yx: the output's (:func:`output_chunks`), written by the same regions. zx and zy: the output's
    in y and x, but along the slabs' axis (y for zx, x for zy) the ``slab`` width of their regions
    (the chunk side when it is a multiple of it), so each slab writes chunks of its own; and
    along z as many planes as keep an averaging block of chunks within ``max_pixels``.
    """
    chunks = list(output_chunks(shape, axes, tile))
    if orientation == "yx":
        return tuple(chunks)
    plane = int(np.prod([c for c, a in zip(chunks, axes) if a in "yxc"]))
    iz = axes.index("z")
    chunks[iz] = max(1, min(int(shape[iz]), max_pixels // max(plane, 1)))
    i = axes.index("y" if orientation == "zx" else "x")
    chunks[i] = min(chunks[i], slab)
    return tuple(chunks)


def chunk_blocks(shape: Sequence[int], block: Sequence[int]) -> Iterator[tuple[slice, ...]]:
    """Selections tiling an array of ``shape`` with blocks of ``block`` (smaller at the ends)."""
    for start in itertools.product(*(range(0, int(n), int(b)) for n, b in zip(shape, block))):
        yield tuple(slice(s, min(s + int(b), int(n))) for s, b, n in zip(start, block, shape))
