"""Pixel sizes and channel names of a TIFF: from its OME-XML, else ImageJ metadata, else its
resolution tags (see :mod:`restoration.io.physical` for the convention they end in)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

#: TIFF ResolutionUnit values.
_UNITS = {1: "none", 2: "inch", 3: "centimeter"}

Sizes = dict[str, tuple[Any, Any]]  # letter -> (raw pixel size, raw unit)


def resolution(page: Any) -> dict[str, Any] | None:
    """The page's resolution tags as ``{"x", "y", "unit"}`` (pixels per unit), if set."""
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None

    def value(tag: str) -> float:
        num, den = tags[tag].value
        return float(num) / float(den) if den else float(num)

    unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    res = {"x": value("XResolution"), "y": value("YResolution"),
           "unit": _UNITS.get(unit, str(unit))}
    if res["unit"] == "none" and res["x"] == 1.0 and res["y"] == 1.0:
        return None  # tifffile's default: no information
    return res


def imagej_meta(tif: Any) -> dict[str, Any] | None:
    """The ImageJ ``spacing``, ``unit`` and ``finterval`` entries, if any."""
    if not (tif.is_imagej and tif.imagej_metadata):
        return None
    meta = {k: v for k, v in tif.imagej_metadata.items()
            if k in ("spacing", "unit", "finterval") and isinstance(v, (int, float, str))}
    return meta or None


def _per_pixel(res: dict[str, Any] | None, letter: str) -> float | None:
    value = res.get(letter) if res else None
    return 1.0 / value if value else None


def ome_meta(xml: str) -> tuple[Sizes, list[str | None]]:
    """Pixel sizes and channel names of the first image of OME-XML (``{}, []`` when unreadable).

    Sizes come from ``PhysicalSizeX/Y/Z`` (unit attribute default ``µm``, as the OME schema
    says) and ``TimeIncrement`` (default ``s``); names from each ``Channel``'s ``Name``.
    """
    try:
        pixels = ElementTree.fromstring(xml).find("{*}Image/{*}Pixels")
    except ElementTree.ParseError:  # tifffile still reads the pixels; only the sizes are lost
        return {}, []
    if pixels is None:
        return {}, []
    found = {a: (f"PhysicalSize{a.upper()}", "µm") for a in "zyx"} | {"t": ("TimeIncrement", "s")}
    sizes = {a: (pixels.get(key), pixels.get(key + "Unit", unit))
             for a, (key, unit) in found.items() if pixels.get(key) is not None}
    return sizes, [c.get("Name") for c in pixels.findall("{*}Channel")]


def tiff_sizes(tif: Any, res: dict[str, Any] | None,
               imagej: dict[str, Any] | None) -> tuple[Sizes, list[str | None]]:
    """``(sizes, channel names)`` of a TIFF, the first source that has them winning: OME-XML,
    ImageJ (``spacing`` for z, the resolution for y/x, both in ImageJ's ``unit``; ``finterval``
    seconds for t), then resolution tags (pixel size = 1 / pixels per unit)."""
    if tif.is_ome and tif.ome_metadata:
        sizes, names = ome_meta(tif.ome_metadata)
        if sizes or names:
            return sizes, names
    sizes: Sizes = {}
    if res:
        unit = None if res["unit"] == "none" else res["unit"]
        sizes = {a: (_per_pixel(res, a), unit) for a in "yx"}
    if imagej:
        unit = imagej.get("unit")
        if unit:  # ImageJ writes its resolution in its own unit, the tag's being "none"
            sizes = {a: (_per_pixel(res, a) or 1.0, unit) for a in "yx"}
        if "spacing" in imagej:
            sizes["z"] = (imagej["spacing"], unit)
        if "finterval" in imagej:
            sizes["t"] = (imagej["finterval"], "s")
    return sizes, []
