"""PNG and JPEG through Pillow, with the pixel budget checked before anything is decoded.

8-bit images read as uint8; 16-bit grayscale PNG keeps uint16. Palette images become RGB (RGBA
with transparency), bilevel images uint8 0/255, CMYK JPEG RGB, and a grayscale image's alpha is
dropped. 16-bit colour PNG is refused: Pillow would silently reduce it to 8 bits.

A file on object storage (an fsspec URL) is fetched whole before Pillow opens it: Pillow decodes
the whole image in any case, and these files are small (the pixel budget is checked on the PNG
header, read alone, first).
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import Any

import numpy as np

from ..errors import InputError
from ..store.files import is_url
from .axes import infer_axes
from .checks import pixel_problem
from .item import Item
from .urlfiles import open_binary, read_bytes

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Pillow mode -> (mode to convert to, or None, dtype, channels).
_MODES: dict[str, tuple[str | None, str, int]] = {
    "1": ("L", "uint8", 1), "L": (None, "uint8", 1), "LA": ("L", "uint8", 1),
    "La": ("L", "uint8", 1), "P": ("RGB", "uint8", 3), "PA": ("RGBA", "uint8", 4),
    "RGB": (None, "uint8", 3), "RGBA": (None, "uint8", 4), "RGBa": ("RGBA", "uint8", 4),
    "RGBX": ("RGB", "uint8", 3), "CMYK": ("RGB", "uint8", 3), "YCbCr": ("RGB", "uint8", 3),
    "I;16": (None, "uint16", 1), "I;16L": (None, "uint16", 1), "I;16B": (None, "uint16", 1),
    "I": (None, "uint16", 1), "F": (None, "float32", 1),
}


def _png_header(path: str) -> tuple[int, int, int, int]:
    """``(width, height, bit_depth, colour_type)`` from a PNG's IHDR chunk."""
    with open_binary(path) as fh:
        head = fh.read(26)
    if len(head) < 26 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        raise InputError("not a valid PNG file (bad signature or header)", path=path)
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return width, height, depth, colour


def _open_pil(path: str) -> Any:
    """``PIL.Image.open`` with its errors turned into one-line :class:`InputError`."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(read_bytes(path)) if is_url(path) else path)
    except Image.DecompressionBombError as exc:
        raise InputError(f"image too large, possible decompression bomb ({exc})",
                         path=path) from None
    except Exception as exc:
        raise InputError(f"not a readable image ({exc})", path=path) from None


def _target(im: Any, path: str, bit_depth: int | None) -> tuple[str | None, np.dtype, int]:
    mode = im.mode
    if mode == "P" and "transparency" in im.info:
        return "RGBA", np.dtype("uint8"), 4
    if mode not in _MODES:
        raise InputError(f"unsupported image mode {mode}", path=path)
    convert, dtype, channels = _MODES[mode]
    if mode == "I" and bit_depth not in (None, 16):
        raise InputError(f"unsupported image mode {mode}", path=path)
    return convert, np.dtype(dtype), channels


def probe_image(path: str, name: str, format: str) -> Item:
    """Describe the PNG or JPEG file at ``path``, checking it is complete.

    The header is read first and its size checked against the pixel budget; then a PNG's chunks
    are verified (CRC, up to IEND) and a JPEG is decoded once, so a truncated or corrupt file is
    an :class:`InputError` here rather than later.
    """
    bit_depth = None
    if format == "png":
        width, height, bit_depth, colour = _png_header(path)
        problem = pixel_problem(width * height)
        if problem:
            raise InputError(problem, path=path)
        if bit_depth == 16 and colour != 0:
            raise InputError("16-bit colour PNG is not supported (it would lose its low bits); "
                             "save it as TIFF or .npy", path=path)
    im = _open_pil(path)
    try:
        width, height = im.size
        problem = pixel_problem(width * height)
        if problem:
            raise InputError(problem, path=path)
        convert, dtype, channels = _target(im, path, bit_depth)
        mode = im.mode
        try:
            if format == "png":
                im.verify()
            else:
                im.load()
        except Exception as exc:
            raise InputError(f"truncated or corrupt {format.upper()} file ({exc})",
                             path=path) from None
    finally:
        im.close()
    shape = (height, width) if channels == 1 else (height, width, channels)
    return Item(name=name, source=path, array_path=None, format=format, shape=shape, dtype=dtype,
                axes=infer_axes(shape, format=format), attrs={"mode": mode})


def open_image(item: Item) -> np.ndarray:
    """Decode the item's PNG or JPEG into a numpy array of ``item.shape`` and ``item.dtype``."""
    im = _open_pil(item.source)
    try:
        convert, dtype, _ = _target(im, item.source, 16 if item.dtype == np.uint16 else None)
        im.load()
        if convert:
            im = im.convert(convert)
        data = np.asarray(im)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot decode {item.format.upper()} image data ({exc})",
                         path=item.source) from None
    finally:
        im.close()
    data = data.astype(dtype.newbyteorder("="), copy=False)
    if data.shape != item.shape:
        raise InputError(f"image changed shape since it was found: {data.shape}", path=item.source)
    return data
