"""One input item: an array read from a file or a zarr store, and how to open it lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMATS = ("npy", "tiff", "png", "jpeg", "zarr")


@dataclass
class Item:
    """One array of a run's input (CONTRACT "Items and names").

    Attributes
    ----------
    name : str
        The item name: a file's stem, or an array's path inside a zarr group with ``/`` -> ``.``.
    source : str
        The file path, or the zarr store path or URL, it came from.
    array_path : str or None
        The path of the array inside the zarr store (None for files and root arrays).
    format : str
        ``"npy"``, ``"tiff"``, ``"png"``, ``"jpeg"`` or ``"zarr"``.
    shape : tuple of int
        The array's shape.
    dtype : numpy.dtype
        Its dtype, in native byte order.
    axes : str
        OME letters, one per dimension (``"yx"``, ``"yxc"``, ``"zyx"``, ...).
    attrs : dict
        JSON-serializable metadata to carry to the output. Keys used: ``"axes"`` (OME axes dicts)
        and ``"scale"`` (pixel size per dimension) from zarr/OME metadata, ``"units"``,
        ``"resolution"`` (TIFF ``{"x", "y", "unit"}`` in pixels per unit), ``"imagej"``
        (ImageJ ``spacing``/``unit``), ``"photometric"`` (TIFF), ``"mode"`` (PNG/JPEG).
    """

    name: str
    source: str
    array_path: str | None
    format: str
    shape: tuple[int, ...]
    dtype: np.dtype
    axes: str
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Where the item lives, for messages: the source, plus the array path inside a store."""
        if self.array_path:
            return f"{self.source.rstrip('/')}/{self.array_path}"
        return self.source

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def open(self) -> Any:
        """Open the data without copying it where the format allows.

        Returns
        -------
        array-like
            Supports numpy basic slicing, ``.shape`` and ``.dtype``: a read-only ``numpy.memmap``
            for ``.npy`` (and uncompressed TIFF), a read-only ``zarr.Array`` for zarr, an in-memory
            ``numpy.ndarray`` for PNG, JPEG and compressed TIFF. The byte order may be the file's;
            the values equal those of :attr:`dtype`.

        Raises
        ------
        InputError
            When the file can no longer be read or its data is corrupt.
        """
        if self.format == "npy":
            from .npy import open_npy
            return open_npy(self)
        if self.format == "tiff":
            from .tiff import open_tiff
            return open_tiff(self)
        if self.format in ("png", "jpeg"):
            from .pillow import open_image
            return open_image(self)
        if self.format == "zarr":
            from .zarrstore import open_zarr
            return open_zarr(self)
        raise ValueError(f"unknown format {self.format!r}")
