"""One input item: an array read from a file or a zarr store, and how to open it lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Item:
    """One array of a run's input (CONTRACT "Items and names").

    Attributes
    ----------
    name : str
        The item name: a file's stem (without ``.ome`` for OME-TIFF), an array's path inside a
        zarr group with ``/`` -> ``.``, an OME-Zarr image's group path likewise (the store's
        stem, without ``.ome.zarr``, for an image at its root), ``<stem>.<scene>`` for one scene
        of a several-scene bioio file.
    source : str
        The file or zarr store it came from: a local path or an fsspec URL.
    array_path : str or None
        The path of the array inside the zarr store (an OME-Zarr image's level 0), or the scene
        index of a several-scene bioio file; None for other files and root arrays.
    format : str
        The name of its row in :data:`restoration.io.formats.FORMATS`: ``"npy"``, ``"tiff"``
        (OME-TIFF included), ``"png"``, ``"jpeg"``, ``"zarr"`` (OME-Zarr included) or
        ``"bioio"`` (vendor files, with the bioio extra).
    shape : tuple of int
        The array's shape.
    dtype : numpy.dtype
        Its dtype, in native byte order.
    axes : str
        OME letters, one per dimension (``"yx"``, ``"yxc"``, ``"zyx"``, ...).
    attrs : dict
        JSON-serializable metadata carried to the output (the ingested array's attributes, the
        provenance's ``input_attrs``, the output's OME metadata). Pixel sizes and channel names,
        whatever the format, in one convention:

        - ``"scale"``: list of float, one per dimension of :attr:`axes`, the pixel size along it
          (1.0 where unknown), from OME-XML ``PhysicalSizeX/Y/Z`` and ``TimeIncrement``, ImageJ
          ``spacing``/``finterval`` and resolution, TIFF resolution tags (1 / pixels per unit),
          the OME-Zarr level-0 ``scale`` (times the multiscale's own), zarr array attributes
          ``scale``/``units``, or bioio ``physical_pixel_sizes``;
        - ``"units"``: list of str or None, one per dimension, OME-Zarr unit names
          (``"micrometer"``, ``"nanometer"``, ``"inch"``, ``"second"`` ...), None where unknown;
        - ``"channel_names"``: list of str, one per entry of the ``c`` axis, when every channel
          is named (OME-XML ``Channel Name``, OME-Zarr ``omero`` labels, bioio).

        ``"scale"`` and ``"units"`` are both present, or both absent when the input gives no
        pixel size or unit. Other keys, as the readers find them: ``"axes"`` (OME axes dicts)
        and ``"translation"`` (OME-Zarr), ``"dimension_names"`` (zarr), ``"resolution"`` (TIFF
        ``{"x", "y", "unit"}`` in pixels per unit), ``"imagej"`` (ImageJ ``spacing``, ``unit``,
        ``finterval``), ``"photometric"`` (TIFF), ``"mode"`` (PNG/JPEG), ``"byteorder"``.
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
        """Number of axes (``len(shape)``)."""
        return len(self.shape)

    def open(self) -> Any:
        """Open the data without copying it where the format allows.

        Returns
        -------
        array-like
            Supports numpy basic slicing, ``.shape`` and ``.dtype``: a read-only ``numpy.memmap``
            for ``.npy`` (and uncompressed TIFF), a read-only ``zarr.Array`` for zarr, an in-memory
            ``numpy.ndarray`` for PNG, JPEG and compressed TIFF, a lazy reader (each slice read
            when taken) for bioio. The byte order may be the file's; the values equal those of
            :attr:`dtype`.

        Raises
        ------
        InputError
            When the file can no longer be read or its data is corrupt.
        """
        from .formats import format_named  # at call time: the table imports the readers

        return format_named(self.format).open(self)
