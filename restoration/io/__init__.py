"""Reading inputs: find items, infer their axes, fingerprint them and copy them into zarr.

>>> from restoration.io import discover, ingest
>>> items = discover(["data/noisy"])                        # doctest: +SKIP
>>> [(i.name, i.shape, i.axes) for i in items]              # doctest: +SKIP

Formats (one table, :mod:`restoration.io.formats`): ``.npy`` (memory-mapped), TIFF and OME-TIFF
(multi-page = stack), PNG/JPEG, zarr arrays and groups and OME-Zarr 0.4/0.5 images, by local path
or fsspec URL (:mod:`restoration.io.urlfiles` reads files on object storage), and vendor files
(``.czi``, ``.nd2``, ``.lif`` ...), local only, with the bioio extra. Pixel sizes
and channel names reach :attr:`Item.attrs` in one convention (see :class:`Item`). Every problem
with an input is an :class:`restoration.errors.InputError` whose message names the file.
"""

from __future__ import annotations

from .axes import infer_axes
from .blocks import fingerprint, iter_blocks
from .checks import SUPPORTED_DTYPES, max_pixels
from .discover import discover, read_array
from .formats import SUFFIXES
from .ingest import chunk_shape, ingest
from .item import Item

__all__ = ["SUFFIXES", "SUPPORTED_DTYPES", "Item", "chunk_shape", "discover", "fingerprint",
           "infer_axes", "ingest", "iter_blocks", "max_pixels", "read_array"]
