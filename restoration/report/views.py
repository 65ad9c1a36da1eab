"""What the report shows of one item, read from the run's files: the planes and the table rows.

The ``quality-report`` stage (:func:`restoration.pipeline.finish`) calls :func:`report_item` per
item; the planes are read subsampled, so the report never holds a whole large plane.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..planning import centre_window, plane_indices, read_plane
from ..storage import item_provenance, open_store
from .html import ReportItem
from .plots import DETAIL_SIDE

__all__ = ["REPORT_SIDE", "report_item"]

#: Report planes larger than this on a side are read subsampled (every k-th pixel), plus 1:1 centre
#: crops: the report never holds a whole large plane.
REPORT_SIDE = 2048


def _open(ing: dict):
    """The array of an ingested item (or reference) dict."""
    from ..io import Item

    return Item(name=ing["name"], source=ing["source"], array_path=ing["array_path"], format=ing["format"],
                shape=tuple(ing["shape"]), dtype=np.dtype(ing["dtype"]), axes=ing["axes"], attrs=ing["attrs"]).open()


def _report_view(arr, axes: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The middle plane of ``arr`` (the middle z/t plane of stacks), subsampled to at most
    REPORT_SIDE a side, and its full-resolution centre crop when subsampled (else None)."""
    index = (indices := plane_indices(axes, arr.shape))[len(indices) // 2]
    h, w = arr.shape[axes.index("y")], arr.shape[axes.index("x")]
    k = -(-max(h, w) // REPORT_SIDE)
    if k == 1:
        return read_plane(arr, axes, index), None
    crop = read_plane(arr, axes, index, *centre_window(h, w, DETAIL_SIDE))
    return read_plane(arr, axes, index, slice(None, None, k), slice(None, None, k)), crop


def report_item(request: dict, ing: dict, status: str, error: str, noise_rows: list[dict], quality: dict) -> ReportItem:
    """Planes and tables of one item for report.html (the middle plane of stacks)."""
    item = ReportItem(name=ing["name"], status=status, error=error, noise=_merge_rows(noise_rows), quality=quality)
    if status != "ok":
        return item
    store = open_store(Path(request["outdir"]), mode="r")
    axes = ing["axes"]
    noisy = _open(ing)
    item.noisy, noisy_crop = _report_view(noisy, axes)
    item.restored, restored_crop = _report_view(store[ing["name"]], axes)
    reference_crop = None
    if ing["name"] + "_std" in store:
        item.std = _report_view(store[ing["name"] + "_std"], axes)[0]
    if ing.get("reference"):
        item.reference, reference_crop = _report_view(_open(ing["reference"]), axes)
    if noisy_crop is not None:
        item.full_size = (noisy.shape[axes.index("y")], noisy.shape[axes.index("x")])
        item.crops = (noisy_crop, restored_crop, reference_crop)
    item.provenance = item_provenance(store, ing["name"]) or {}
    return item


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
