"""TIFF files through tifffile: a multi-page file is a stack; RGB from the photometric tag.

OME-TIFF is read here too: tifffile takes the axes from the OME-XML (``DimensionOrder``), and
:mod:`restoration.io.tiffmeta` the pixel sizes and channel names. A file on object storage (an
fsspec URL) is read through a file object: its tags by range requests, its uncompressed image
lazily by byte range (:class:`~restoration.io.urlfiles.RangeArray`, as a local one is
memory-mapped), a compressed one decoded into memory as a local one is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..errors import InputError
from ..store.files import is_url
from .axes import infer_axes, letters_from_names
from .checks import pixel_problem
from .item import Item
from .physical import axis_pixel_attrs, channel_attrs
from .tiffmeta import imagej_meta, resolution, tiff_sizes
from .urlfiles import RangeArray, file_size, open_binary


@contextmanager
def _tiff_file(path: str) -> Iterator[Any]:
    """``tifffile.TiffFile`` of a local path (which may name other files of a multi-file
    OME-TIFF) or of a URL's file object."""
    import tifffile

    if not is_url(path):
        with tifffile.TiffFile(path) as tif:
            yield tif
        return
    with open_binary(path) as fh, tifffile.TiffFile(fh) as tif:
        yield tif


def _truncated(tif: Any, series: Any, size: int) -> bool:
    """Whether any of the series' image data lies beyond the end of the file."""
    if series.dataoffset is not None:
        return series.dataoffset + series.nbytes > size
    for page in series.pages:
        if page is None:
            continue
        for offset, count in zip(page.dataoffsets, page.databytecounts):
            if count and offset + count > size:
                return True
    return False


def _stacked(tif: Any, path: str) -> tuple[tuple[int, ...], str]:
    """Shape and tifffile axes of the file's image: its one series, or its series stacked along a
    new first axis when there are several (pages written one by one, e.g. with ``append=True``).

    Raises
    ------
    InputError
        When the series differ in shape or dtype.
    """
    series = tif.series
    first = series[0]
    if len(series) == 1:
        return tuple(int(n) for n in first.shape), first.axes
    for i, other in enumerate(series[1:], 2):
        if other.shape != first.shape or other.dtype != first.dtype:
            raise InputError(f"multi-page TIFF whose pages differ: image 1 is {first.shape} {first.dtype}, "
                             f"image {i} is {other.shape} {other.dtype}; save each image in a file of its own",
                             path=path)
    return (len(series), *(int(n) for n in first.shape)), "Q" + first.axes  # Q: tifffile's unknown axis


def probe_tiff(path: str, name: str) -> Item:
    """Describe the image of the TIFF file at ``path`` from its tags (several same-shape images,
    such as pages appended one by one, are one stack).

    Raises
    ------
    InputError
        Not a readable TIFF, images of different shapes, truncated (image data past the end of
        the file), or a compressed image larger than the pixel budget
        (:func:`restoration.io.checks.max_pixels`).
    """
    try:
        with _tiff_file(path) as tif:
            if not tif.series:
                raise InputError("TIFF file holds no image", path=path)
            series = tif.series[0]
            page = series.keyframe
            shape, tiff_axes = _stacked(tif, path)
            dtype = np.dtype(series.dtype)
            rgb = int(page.photometric) == 2  # PHOTOMETRIC.RGB
            size = file_size(path)
            truncated = any(_truncated(tif, s, size) for s in tif.series)
            mappable = series.dataoffset is not None and len(tif.series) == 1
            attrs: dict[str, Any] = {"photometric": page.photometric.name.lower()}
            res, imagej = resolution(page), imagej_meta(tif)
            if res:
                attrs["resolution"] = res
            if imagej:
                attrs["imagej"] = imagej
            sizes, channel_names = tiff_sizes(tif, res, imagej)
    except InputError:
        raise
    except Exception as exc:  # tifffile raises many types on garbage
        raise InputError(f"not a readable TIFF file ({exc})", path=path) from None
    if truncated:
        raise InputError("truncated TIFF file: image data runs past the end of the file", path=path)
    names = [("c" if a == "S" else a) for a in tiff_axes]
    try:
        axes = letters_from_names(names, len(shape)) or infer_axes(shape, format="tiff",
                                                                   photometric_rgb=rgb)
    except ValueError as exc:
        raise InputError(str(exc), path=path) from None
    if not mappable:
        pixels = math.prod(n for n, a in zip(shape, axes) if a != "c")
        problem = pixel_problem(pixels)
        if problem:
            raise InputError(problem, path=path)
    attrs |= axis_pixel_attrs(axes, sizes) | channel_attrs(channel_names, axes, shape)
    if dtype.byteorder == ">":
        attrs["byteorder"] = "big"
    return Item(name=name, source=path, array_path=None, format="tiff", shape=shape,
                dtype=dtype.newbyteorder("="), axes=axes, attrs=attrs)


def _range_array(item: Item) -> RangeArray | None:
    """The uncompressed, contiguous image of a TIFF file on object storage, read by byte range;
    None when it is compressed, tiled or in several series (it is then decoded)."""
    with _tiff_file(item.source) as tif:
        series = tif.series[0]
        if len(tif.series) != 1 or series.dataoffset is None or tuple(series.shape) != item.shape:
            return None
        return RangeArray(item.source, series.dataoffset, item.shape,
                          np.dtype(series.dtype).newbyteorder(tif.byteorder))


def open_tiff(item: Item) -> np.ndarray | RangeArray:
    """The item's image: a read-only memory map when uncompressed (on object storage a
    :class:`~restoration.io.urlfiles.RangeArray`), else decoded into memory (several images
    stacked as :func:`probe_tiff` describes them)."""
    import tifffile

    try:
        if is_url(item.source):
            data = _range_array(item)
            if data is not None:
                return data
        else:
            data = tifffile.memmap(item.source, mode="r")  # the first image only
            if tuple(data.shape) == item.shape:
                return data
    except Exception:  # compressed, tiled, or otherwise not mappable: decode
        pass
    try:
        with _tiff_file(item.source) as tif:
            data = np.stack([s.asarray() for s in tif.series]) if len(tif.series) > 1 else tif.series[0].asarray()
    except Exception as exc:
        raise InputError(f"cannot decode TIFF image data ({exc})", path=item.source) from None
    if tuple(data.shape) != item.shape:
        raise InputError(f"TIFF image changed shape since it was found: {data.shape}",
                         path=item.source)
    return data
