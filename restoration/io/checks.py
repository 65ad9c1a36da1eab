"""Checks every item passes before a run touches it: dtype, size, pixel budget."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

#: The dtypes an input may have (CONTRACT: outputs keep the input's dtype).
SUPPORTED_DTYPES = tuple(np.dtype(t) for t in (
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float16", "float32", "float64"))

#: Smallest accepted extent along y and x.
MIN_EXTENT = 3

_DEFAULT_MAX_PIXELS = {"RESTORATION_MAX_PIXELS": 2**30, "RESTORATION_MAX_ZARR_PIXELS": 2**36}


def max_pixels(variable: str = "RESTORATION_MAX_PIXELS") -> int:
    """The largest image (in pixels, channels not counted) read: ``RESTORATION_MAX_PIXELS``,
    default 2**30, for decoded formats; ``RESTORATION_MAX_ZARR_PIXELS``, default 2**36 (69 Gpx),
    for zarr arrays.

    Guards against decompression bombs: PNG, JPEG and compressed TIFF headers are checked against
    the first before any pixel is decoded. A zarr array's metadata may declare a size whose
    missing chunks read as fill values, so a few bytes could keep a run busy forever; zarr is also
    the format of data larger than memory, hence its own, larger limit.
    """
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return _DEFAULT_MAX_PIXELS[variable]
    try:
        value = int(float(raw))
    except ValueError as exc:
        raise ValueError(f"{variable}={raw!r} is not a number") from exc
    return max(value, 1)


def dtype_problem(dtype: np.dtype) -> str | None:
    """Why ``dtype`` cannot be restored, or None when it is supported."""
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        return "holds Python objects; save a numeric array instead"
    if dtype.kind == "c":
        return f"unsupported dtype {dtype.name}; convert to a real type"
    if dtype.kind == "b":
        return "unsupported dtype bool; convert to uint8"
    if dtype.fields is not None or dtype.subdtype is not None:
        return f"unsupported structured dtype {dtype}; save a plain numeric array"
    native = dtype.newbyteorder("=")
    if native not in SUPPORTED_DTYPES:
        names = ", ".join(d.name for d in SUPPORTED_DTYPES)
        return f"unsupported dtype {dtype.name}; convert to one of {names}"
    return None


def shape_problem(shape: Sequence[int], axes: str) -> str | None:
    """Why an array of ``shape`` with ``axes`` cannot be restored, or None."""
    if math.prod(shape) == 0:
        return f"zero-size array of shape {tuple(shape)}"
    for letter in "yx":
        n = shape[axes.index(letter)] if letter in axes else MIN_EXTENT
        if n < MIN_EXTENT:
            return (f"image too small: shape {tuple(shape)} (axes {axes}) has {n} pixels "
                    f"along {letter}; need at least {MIN_EXTENT}")
    return None


def pixel_problem(pixels: int, *, why: str = "possible decompression bomb",
                  variable: str = "RESTORATION_MAX_PIXELS") -> str | None:
    """Why an image of ``pixels`` pixels may not be read, or None; ``why`` says what the limit
    (the environment ``variable`` of :func:`max_pixels`) guards against."""
    limit = max_pixels(variable)
    if pixels > limit:
        return (f"image of {pixels} pixels exceeds the limit of {limit} "
                f"({why}; raise {variable} to allow it)")
    return None
