"""Reading inputs: find items, infer their axes, fingerprint them and copy them into zarr.

>>> from restoration.io import discover, ingest
>>> items = discover(["data/noisy"])                        # doctest: +SKIP
>>> [(i.name, i.shape, i.axes) for i in items]              # doctest: +SKIP

Formats: ``.npy`` (memory-mapped), TIFF (multi-page = stack), PNG/JPEG, zarr arrays and groups
(local paths or fsspec URLs). Every problem with an input is an
:class:`restoration.errors.InputError` whose message names the file.
"""

from __future__ import annotations

from .axes import infer_axes
from .blocks import fingerprint, iter_blocks
from .checks import SUPPORTED_DTYPES, max_pixels
from .discover import SUFFIXES, discover, read_array
from .ingest import chunk_shape, ingest
from .item import Item

__all__ = ["SUFFIXES", "SUPPORTED_DTYPES", "Item", "chunk_shape", "discover", "fingerprint",
           "infer_axes", "ingest", "iter_blocks", "max_pixels", "read_array"]
