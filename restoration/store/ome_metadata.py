"""OME-Zarr 0.5 metadata of a restored item: axes in OME order with types and units, scales from
the input's pixel sizes, ``omero`` channel windows, labels and colours (:mod:`.ome_zarr` writes it)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

#: The order OME-Zarr requires: time, channel, then space (z, y, x).
OME_ORDER = "tczyx"
AXIS_TYPES = {"t": "time", "c": "channel", "z": "space", "y": "space", "x": "space"}

#: OME-Zarr's (UDUNITS-2) unit names by axis type; other units are left out of the metadata.
SPACE_UNITS = frozenset(
    "angstrom attometer centimeter decimeter exameter femtometer foot gigameter hectometer inch kilometer megameter "
    "meter micrometer mile millimeter nanometer parsec petameter picometer terameter yard yoctometer yottameter "
    "zeptometer zettameter".split())
TIME_UNITS = frozenset(
    "attosecond centisecond day decisecond exasecond femtosecond gigasecond hectosecond hour kilosecond megasecond "
    "microsecond millisecond minute nanosecond petasecond picosecond second terasecond yoctosecond yottasecond "
    "zeptosecond zettasecond".split())

#: Rendering window: these percentiles of the coarsest level, per channel.
WINDOW_PERCENTILES = (0.1, 99.9)
#: At most this many planes (t/z) of the coarsest level are read for the windows.
WINDOW_PLANES = 8


def ome_axes(axes: str) -> str:
    """The item's axis letters in OME order (time, channel, then space).

    Examples
    --------
    >>> ome_axes("yxc"), ome_axes("zyx"), ome_axes("xyzct")
    ('cyx', 'zyx', 'tczyx')
    """
    return "".join(a for a in OME_ORDER if a in axes)


def _per_axis(values: Any, n: int) -> list | None:
    return list(values) if isinstance(values, (list, tuple)) and len(values) == n else None


def _number(value: Any, default: float, positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) and (v > 0 or not positive) else default


def ome_unit(unit: Any, kind: str) -> str | None:
    """The OME-Zarr unit name for axis type ``kind`` (``"space"``/``"time"``) of ``unit``, or None.

    ``unit`` is read as the inputs' units are (:func:`restoration.io.physical.unit_name`: the
    names themselves, plurals, symbols such as ``"um"``, ``"\u00b5m"``, ``"nm"``, ``"ms"``); a
    length on a time axis, or the reverse, gives None.
    """
    from ..io.physical import unit_name

    name = unit_name(unit)
    valid = SPACE_UNITS if kind == "space" else TIME_UNITS if kind == "time" else frozenset()
    return name if name in valid else None


def spatial_metadata(axes: str, attrs: dict | None) -> tuple[list[dict], list[float], list[float]]:
    """OME axes, level-0 scale and translation in OME order, from the item's ``attrs``.

    ``attrs["scale"]`` (one number per item axis) and ``attrs["translation"]`` are read
    defensively: a missing, malformed or non-positive value gives 1.0 (0.0 for a translation).
    ``attrs["units"]`` (one name or None per axis) becomes each axis' ``unit`` where it is an
    OME-Zarr unit for that axis type (:func:`ome_unit`); other units are left out. The channel
    axis has scale 1, no translation and no unit.

    Returns
    -------
    axes : list of dict
        ``{"name", "type"[, "unit"]}`` per axis, in OME order.
    scale, translation : list of float
        Per axis, in OME order.
    """
    attrs = attrs if isinstance(attrs, dict) else {}
    n = len(axes)
    scale = _per_axis(attrs.get("scale"), n) or [1.0] * n
    translation = _per_axis(attrs.get("translation"), n) or [0.0] * n
    units = _per_axis(attrs.get("units"), n) or [None] * n
    out_axes, out_scale, out_shift = [], [], []
    for a in ome_axes(axes):
        i, kind = axes.index(a), AXIS_TYPES[a]
        entry: dict[str, Any] = {"name": a, "type": kind}
        unit = ome_unit(units[i], kind)
        if unit:
            entry["unit"] = unit
        out_axes.append(entry)
        out_scale.append(1.0 if a == "c" else _number(scale[i], 1.0, positive=True))
        out_shift.append(0.0 if a == "c" else _number(translation[i], 0.0, positive=False))
    return out_axes, out_scale, out_shift


def is_rgb(fmt: str, attrs: dict | None, axes: str, shape: Sequence[int], provenance: dict | None = None) -> bool:
    """Whether an item's channels are the red, green and blue of a photograph.

    The restoration's own decision when its ``provenance`` records one (``rgb``); else RGB means
    three channels from a PNG/JPEG, a ``.npy`` (or an in-memory array) with a last axis of 3, or
    a TIFF whose photometric tag is RGB; other multi-channel data (fluorescence channels,
    spectra) is not (:attr:`~restoration.types.Observation.rgb`).

    Examples
    --------
    >>> is_rgb("png", {}, "yxc", (8, 8, 3)), is_rgb("tiff", {}, "cyx", (3, 8, 8))
    (True, False)
    >>> is_rgb("png", {}, "yxc", (8, 8, 3), {"rgb": False})
    False
    """
    if "c" not in axes or int(shape[axes.index("c")]) != 3:
        return False
    recorded = (provenance or {}).get("rgb")
    if isinstance(recorded, bool):
        return recorded
    return fmt in ("png", "jpeg", "npy") or (fmt == "tiff" and (attrs or {}).get("photometric") == "rgb")


def channel_colours(n: int, rgb: bool) -> list[str]:
    """``omero`` colours (hex RGB) of ``n`` channels: white for one, red/green/blue for a photograph."""
    if n == 1:
        return ["FFFFFF"]
    if rgb and n == 3:
        return ["FF0000", "00FF00", "0000FF"]
    cycle = ["00FF00", "FF00FF", "00FFFF", "FFFF00", "FF0000", "0000FF", "FFFFFF"]
    return [cycle[i % len(cycle)] for i in range(n)]


def channel_windows(arr, stored: str) -> list[dict[str, float]]:
    """Per channel ``{"min", "max", "start", "end"}``: ``start``/``end`` the WINDOW_PERCENTILES of
    up to WINDOW_PLANES evenly spaced planes of ``arr`` (finite values only), ``min``/``max`` the
    dtype's range for integers, else the sample's (widened to hold the window)."""
    lead = [i for i, a in enumerate(stored) if a not in "yxc"]
    indices = list(np.ndindex(*[arr.shape[i] for i in lead]))
    pick = np.unique(np.linspace(0, len(indices) - 1, min(WINDOW_PLANES, len(indices))).round().astype(int))
    planes = []
    for p in pick:
        key: list[Any] = [slice(None)] * len(stored)
        for i, v in zip(lead, indices[p]):
            key[i] = int(v)
        planes.append(np.asarray(arr[tuple(key)]))  # (c, y, x) or (y, x)
    has_c = "c" in stored
    n = arr.shape[stored.index("c")] if has_c else 1
    out = []
    for c in range(n):
        values = np.concatenate([(pl[c] if has_c else pl).ravel() for pl in planes]).astype(np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            lo, hi = (float(v) for v in np.percentile(values, WINDOW_PERCENTILES))
            vmin, vmax = float(values.min()), float(values.max())
        else:
            lo = hi = vmin = vmax = 0.0
        if hi <= lo:
            hi = lo + 1.0
        if np.issubdtype(arr.dtype, np.integer):
            info = np.iinfo(arr.dtype)
            vmin, vmax = float(info.min), float(info.max)
        out.append({"min": min(vmin, lo), "max": max(vmax, hi), "start": lo, "end": hi})
    return out


def channel_labels(attrs: dict, n: int, rgb: bool) -> list[str]:
    """``omero`` labels: the input's channel names where all are known, else red/green/blue or numbers."""
    names = attrs.get("channel_names")
    if isinstance(names, (list, tuple)) and len(names) == n and all(isinstance(s, str) and s for s in names):
        return list(names)
    if rgb and n == 3:
        return ["red", "green", "blue"]
    return [f"channel {i}" for i in range(n)]
