"""What the report shows of one item, read from the run's files: the planes and the table rows.

The ``quality-report`` stage (:func:`restoration.pipeline.finish`) calls :func:`report_item` per
item. Of a z/t stack up to :data:`STACK_PLANES` evenly spaced planes are shown (the middle one
first); planes are read subsampled (every k-th pixel) so that the report holds about
``REPORT_SIDE**2`` values per array whatever the item's size, plus 1:1 crops at full resolution
where the restored plane has the most detail.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..planning import plane_indices, read_plane
from ..store.items import has_std, item_array, item_provenance, std_array
from ..store.ome_metadata import is_rgb
from ..store.layout import open_store
from .items import ReportItem, ReportPlane
from .images import DETAIL_SIDE, MAX_SIDE, detail_window

__all__ = ["REPORT_SIDE", "STACK_PLANES", "PANEL_BUDGET", "pick_planes", "plane_label", "read_planes", "report_item"]

#: Report planes larger than this on a side are read subsampled (every k-th pixel), plus 1:1 crops:
#: the report never holds a whole large plane. With several planes of a stack the side shrinks so
#: that all of them together hold about as many values as one plane of this side.
REPORT_SIDE = 2048
#: Planes of a stack shown at most, evenly spaced from the first to the last.
STACK_PLANES = 9
#: Per-channel panel rows shown per item at most, all planes together (planes x channels): four
#: fluorescence channels get 4 planes of a stack, two get 9.
PANEL_BUDGET = 18


def pick_planes(count: int, most: int = STACK_PLANES) -> tuple[list[int], int]:
    """Up to `most` evenly spaced plane numbers of `count`, and which of them is the middle plane.

    The first and the last plane are always among them, and so is the middle one (``count // 2``,
    the plane the report showed alone before), in place of its nearest pick.

    Examples
    --------
    >>> pick_planes(20)
    ([0, 2, 5, 7, 10, 12, 14, 17, 19], 4)
    >>> pick_planes(1)
    ([0], 0)
    """
    count, most = max(1, int(count)), max(1, int(most))
    picks = sorted({int(round(v)) for v in np.linspace(0, count - 1, min(most, count))})
    mid = count // 2
    if mid not in picks:
        near = min(range(len(picks)), key=lambda i: (abs(picks[i] - mid), i))
        picks[near] = mid
        picks.sort()
    return picks, picks.index(mid)


def plane_label(axes: str, index: tuple[int, ...]) -> str:
    """``"z = 12"``, ``"t = 3, z = 0"``: a plane's index over the item's leading axes."""
    lead = [a for a in axes if a not in "yxc"]
    return ", ".join(f"{a} = {i}" for a, i in zip(lead, index))


def _detail_crop(sub: np.ndarray, k: int, h: int, w: int) -> tuple[int, int]:
    """Top-left of the full-resolution DETAIL_SIDE window with the most detail, found on the
    subsampled plane `sub` (every k-th pixel)."""
    y, x = detail_window(sub, max(1, math.ceil(DETAIL_SIDE / k)))
    return min(y * k, max(0, h - DETAIL_SIDE)), min(x * k, max(0, w - DETAIL_SIDE))


def read_planes(arrays: dict[str, Any], axes: str, *, channels: int = 1) -> tuple[list[ReportPlane], int, tuple[int, int] | None]:
    """The planes the report shows of an item's arrays.

    Parameters
    ----------
    arrays : dict
        ``noisy``, ``restored``, ``reference``, ``std``: array-likes (numpy, zarr) of one shape in
        `axes` order, or None.
    axes : str
        The item's axis letters.
    channels : int
        Channel panels per plane (1 for grey or colour data): fewer planes of a stack are shown
        when there are many (:data:`PANEL_BUDGET`).

    Returns
    -------
    planes : list of ReportPlane
        In stack order, labelled with their index (``"z = 12"``) when the item has several.
    current : int
        Which of them is the middle plane, shown first.
    full_size : (int, int) or None
        The plane's ``(height, width)`` when the planes are subsampled (None: read whole).
    """
    base = next(a for a in (arrays.get("restored"), arrays.get("noisy")) if a is not None)
    shape = tuple(base.shape)
    indices = plane_indices(axes, shape)
    most = max(1, min(STACK_PLANES, PANEL_BUDGET // max(1, channels)))
    picks, current = pick_planes(len(indices), most)
    h, w = shape[axes.index("y")], shape[axes.index("x")]
    side = max(MAX_SIDE, int(REPORT_SIDE / math.sqrt(len(picks))))
    k = -(-max(h, w) // side)
    step = slice(None, None, k)
    planes = []
    for p in picks:
        index = indices[p]
        got = {key: None if arr is None else read_plane(arr, axes, index, step, step)
               for key, arr in arrays.items()}
        plane = ReportPlane(noisy=got.get("noisy"), restored=got.get("restored"), reference=got.get("reference"),
                            std=got.get("std"), label=plane_label(axes, index) if len(indices) > 1 else "")
        if k > 1:
            # The 1:1 crop is placed where the restored plane has detail, and read at full resolution.
            sub = plane.restored if plane.restored is not None else plane.noisy
            y, x = _detail_crop(sub, k, h, w)
            window = (slice(y, y + DETAIL_SIDE), slice(x, x + DETAIL_SIDE))
            plane.crops = tuple(None if arrays.get(key) is None else read_plane(arrays[key], axes, index, *window)
                                for key in ("noisy", "restored", "reference"))
            plane.crop_origin = (y, x)
        planes.append(plane)
    return planes, current, ((h, w) if k > 1 else None)


def _report_view(arr, axes: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The middle plane of ``arr`` (the middle z/t plane of stacks), subsampled to at most
    REPORT_SIDE a side, and its full-resolution detail crop when subsampled (else None)."""
    index = (indices := plane_indices(axes, arr.shape))[len(indices) // 2]
    h, w = arr.shape[axes.index("y")], arr.shape[axes.index("x")]
    k = -(-max(h, w) // REPORT_SIDE)
    if k == 1:
        return read_plane(arr, axes, index), None
    sub = read_plane(arr, axes, index, slice(None, None, k), slice(None, None, k))
    y, x = _detail_crop(sub, k, h, w)
    return sub, read_plane(arr, axes, index, slice(y, y + DETAIL_SIDE), slice(x, x + DETAIL_SIDE))


def pixel_size(attrs: dict | None, axes: str) -> tuple[float | None, str | None]:
    """The x pixel size and its unit from an item's attrs (``scale`` and ``units``, one entry per
    axis, :class:`restoration.io.Item`), or None for what is not known."""
    attrs = attrs or {}
    if "x" not in axes:
        return None, None
    i = axes.index("x")
    scale, units = attrs.get("scale"), attrs.get("units")
    size = unit = None
    if isinstance(scale, (list, tuple)) and len(scale) == len(axes):
        try:
            size = float(scale[i])
        except (TypeError, ValueError):
            size = None
    if isinstance(units, (list, tuple)) and len(units) == len(axes):
        unit = units[i] if isinstance(units[i], str) and units[i] else None
    elif isinstance(units, str) and units:
        unit = units
    if size is not None and not (math.isfinite(size) and size > 0):
        size = None
    return size, unit


def _channel_names(attrs: dict | None, count: int) -> list[str] | None:
    names = (attrs or {}).get("channel_names")
    if isinstance(names, (list, tuple)) and len(names) == count and all(isinstance(n, str) for n in names):
        return [str(n) for n in names]
    return None


def build_item(outdir: str | Path, name: str, item, reference, status: str, error: str, noise_rows: list[dict],
               quality: dict) -> ReportItem:
    """A :class:`ReportItem` of item `name` of OUTDIR (restored.zarr) and its input.

    Parameters
    ----------
    item, reference : restoration.io.Item or None
        The input and its clean reference (``--reference``).
    status, error, noise_rows, quality
        The item's outcome: ``"ok"`` or ``"failed"``, its error, noise.csv rows, quality.csv row.
    """
    out = ReportItem(name=name, status=status, error=error, noise=_merge_rows(noise_rows), quality=quality)
    if status != "ok":
        return out
    store = open_store(outdir, mode="r")
    prov = item_provenance(store, name) or {}
    axes, attrs = item.axes, item.attrs or {}
    shape = tuple(item.shape)
    out.rgb = is_rgb(item.format, attrs, axes, shape, prov) if "c" in axes else None
    channels = int(shape[axes.index("c")]) if "c" in axes else 1
    panels = 1 if out.rgb or channels == 1 else channels
    arrays = {"noisy": item.open(), "restored": item_array(store, name),
              "reference": reference.open() if reference is not None else None,
              "std": std_array(store, name) if has_std(store, name) else None}
    out.planes, out.current, out.full_size = read_planes(arrays, axes, channels=panels)
    out.stack_size = len(plane_indices(axes, shape))
    out.pixel_size, out.unit = pixel_size(attrs, axes)
    out.channel_names = _channel_names(attrs, channels)
    out.provenance = prov
    return out


def report_item(outdir: str | Path, result) -> ReportItem:
    """Planes and tables of one item for report.html, read from OUTDIR and the input.

    Parameters
    ----------
    outdir : str or pathlib.Path
        The run's output directory.
    result : restoration.pipeline.ItemResult
        The item's outcome (its entry: input and reference; quality row; noise rows).
    """
    q = result.quality
    entry = result.entry
    return build_item(outdir, result.name, entry.item, entry.reference, q["status"], q.get("error", ""),
                      result.noise_rows, q)


def _merge_rows(rows: list[dict]) -> dict:
    if not rows:
        return {}
    merged = dict(rows[0])
    if len(rows) > 1:  # per-channel values side by side
        for key in rows[0]:
            vals = [r.get(key) for r in rows]
            if any(v != vals[0] for v in vals):
                merged[key] = vals
    return merged
