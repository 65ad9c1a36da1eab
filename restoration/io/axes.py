"""Axis letters of an array: the OME vocabulary ``t c z y x`` (CONTRACT, "Axes").

The inference rule:

* 2-D -> ``yx``;
* 3-D whose last axis has 3 or 4 entries and comes from PNG/JPEG/RGB TIFF or ``.npy`` -> ``yxc``;
  other 3-D -> ``zyx``;
* 4-D -> ``zyxc`` if the last axis has <= 4 entries, else ``tzyx``;
* 5-D -> ``tczyx``;
* zarr ``dimension_names`` or OME ``axes`` metadata win when every name maps to a letter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LETTERS = "tczyx"

#: Names found in metadata (zarr dimension_names, OME axes, tifffile axes) -> OME letters.
_NAME_TO_LETTER = {
    "t": "t", "time": "t",
    "c": "c", "ch": "c", "channel": "c", "channels": "c", "s": "c", "sample": "c", "samples": "c",
    "z": "z", "depth": "z", "plane": "z", "slice": "z",
    "y": "y", "row": "y", "rows": "y", "height": "y",
    "x": "x", "col": "x", "column": "x", "columns": "x", "width": "x",
}

_RGB_FORMATS = ("png", "jpeg", "npy")


def letter_for(name: Any) -> str | None:
    """Map one axis name (a string or an OME axis dict) to an OME letter, or None if unknown."""
    if isinstance(name, dict):
        name = name.get("name")
    if not isinstance(name, str):
        return None
    return _NAME_TO_LETTER.get(name.strip().lower())


def letters_from_names(names: Sequence[Any] | None, ndim: int) -> str | None:
    """The axes string spelled by ``names``, or None when they do not name every axis uniquely."""
    if names is None or len(names) != ndim:
        return None
    letters = [letter_for(n) for n in names]
    if any(x is None for x in letters) or len(set(letters)) != ndim:
        return None
    axes = "".join(letters)  # type: ignore[arg-type]
    return axes if "y" in axes and "x" in axes else None


def infer_axes(shape: Sequence[int], *, format: str, photometric_rgb: bool = False,
               dimension_names: Sequence[Any] | None = None,
               ome_axes: Sequence[Any] | None = None) -> str:
    """Infer the OME axis letters of an array.

    Parameters
    ----------
    shape : sequence of int
        The array's shape.
    format : str
        Where it comes from: ``"npy"``, ``"tiff"``, ``"png"``, ``"jpeg"`` or ``"zarr"``.
    photometric_rgb : bool
        True for a TIFF whose photometric interpretation is RGB.
    dimension_names : sequence, optional
        zarr ``dimension_names`` (or names from other metadata); honoured when every name is known.
    ome_axes : sequence, optional
        OME-Zarr ``axes`` (dicts with ``name``, or plain names); honoured before
        ``dimension_names``.

    Returns
    -------
    str
        One letter per dimension from ``"tczyx"``, e.g. ``"yx"``, ``"yxc"``, ``"zyx"``.

    Raises
    ------
    ValueError
        For arrays with fewer than 2 or more than 5 dimensions (and no metadata naming them).
    """
    ndim = len(shape)
    for names in (ome_axes, dimension_names):
        axes = letters_from_names(names, ndim)
        if axes is not None:
            return axes
    if ndim == 2:
        return "yx"
    if ndim == 3:
        rgb_source = format in _RGB_FORMATS or (format == "tiff" and photometric_rgb)
        return "yxc" if rgb_source and shape[-1] in (3, 4) else "zyx"
    if ndim == 4:
        return "zyxc" if shape[-1] <= 4 else "tzyx"
    if ndim == 5:
        return "tczyx"
    raise ValueError(f"{ndim}-D arrays are not supported (need 2 to 5 dimensions)")


def check_axes(axes: str, ndim: int) -> str:
    """Validate an axes override such as ``"zyx"`` against an array with ``ndim`` dimensions.

    Raises
    ------
    ValueError
        When a letter is not one of ``tczyx``, is repeated, y or x is missing, or the count differs.
    """
    axes = axes.strip().lower()
    bad = sorted(set(axes) - set(LETTERS))
    if bad:
        raise ValueError(f"axes {axes!r}: unknown letter(s) {''.join(bad)!r}; "
                         "use letters from 'tczyx'")
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes {axes!r} repeat a letter")
    if "y" not in axes or "x" not in axes:
        raise ValueError(f"axes {axes!r} must include y and x")
    if len(axes) != ndim:
        raise ValueError(f"axes {axes!r} give {len(axes)} letters for a {ndim}-D array")
    return axes
