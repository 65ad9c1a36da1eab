"""OME-Zarr 0.5 image groups: how one restored item is laid out in ``OUTDIR/restored.zarr``.

Every item ``<name>`` (and its ``<name>_std`` map) is an OME-Zarr 0.5 image group::

    restored.zarr/<name>/zarr.json     attributes: "ome" (multiscales, omero), "restoration" (provenance)
    restored.zarr/<name>/0             full resolution, axes in OME order (t, c, z, y, x)
    restored.zarr/<name>/1, 2, ...     2x2 block means in y and x of the level before

The arrays hold the item's axes in the order OME-Zarr requires (time, channel, then space:
``"yxc"`` data is stored ``c, y, x``); :func:`image_array` gives level 0 back in the item's own
order (:class:`AxesView`), which is how the pipeline, the report and the tests read and write it.
The item's axis letters are kept in the group's ``attributes["restoration"]["axes"]``.

Level 0 is written region by region while the item is restored; :func:`finish_image` runs once
all of it is written: it computes the pyramid chunk by chunk from the level before (memory stays
at a few chunks whatever the plane's size), then writes the ``ome`` metadata: axes with types and
units, ``scale`` from the input's pixel sizes (``2**k`` times coarser in y and x at level ``k``,
with the half-pixel ``translation`` a block mean implies), and per-channel ``omero`` rendering
windows from robust percentiles of the coarsest level.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .ome_metadata import channel_colours, channel_labels, channel_windows, ome_axes, spatial_metadata
from .chunks import output_chunks

OME_VERSION = "0.5"
DOWNSAMPLING = "mean"


def pyramid_side() -> int:
    """Levels are added until a plane fits this side in y and x (``RESTORATION_PYRAMID_SIDE``, default 512)."""
    return max(1, int(os.environ.get("RESTORATION_PYRAMID_SIDE", 512)))


class AxesView:
    """An array stored in OME order, read and written in the item's axis order.

    Supports what the pipeline uses: ``shape``, ``dtype``, ``ndim``, basic indexing (integers,
    slices, ``...``) for reading and writing, and ``numpy.asarray``. Values read come back with
    their axes in the item's order; values written are given in that order.

    Parameters
    ----------
    array : zarr.Array
        The stored array, its dimensions in the order ``stored``.
    axes : str
        The item's axis letters (the order seen through the view).
    stored : str
        The stored order, a permutation of ``axes``.
    """

    def __init__(self, array, axes: str, stored: str):
        if sorted(axes) != sorted(stored) or len(axes) != array.ndim:
            raise ValueError(f"axes {axes!r} are not a permutation of the stored {stored!r}")
        self.array, self.axes, self.stored = array, axes, stored
        self._item_dim = [axes.index(a) for a in stored]  # stored dimension j is item dimension _item_dim[j]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape in the item's axis order."""
        return tuple(int(self.array.shape[self.stored.index(a)]) for a in self.axes)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The chunk shape in the item's axis order."""
        return tuple(int(self.array.chunks[self.stored.index(a)]) for a in self.axes)

    @property
    def dtype(self) -> np.dtype:
        """The stored dtype."""
        return self.array.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.axes)

    @property
    def size(self) -> int:
        """The number of elements."""
        return int(np.prod(self.shape))

    @property
    def attrs(self):
        """The stored array's attributes (the provenance is on the group: ``item_provenance``)."""
        return self.array.attrs

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<AxesView {self.axes} of {self.stored} array {self.array.path!r} shape={self.shape} dtype={self.dtype}>"

    def _split(self, key: Any) -> tuple[tuple, list[str], list[str]]:
        key = key if isinstance(key, tuple) else (key,)
        if sum(k is Ellipsis for k in key) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        if any(k is Ellipsis for k in key):
            at = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:at] + (slice(None),) * (self.ndim - len(key) + 1) + key[at + 1:]
        if len(key) > self.ndim:
            raise IndexError(f"too many indices: {len(key)} for {self.ndim} dimensions")
        key = key + (slice(None),) * (self.ndim - len(key))
        for k in key:
            if not isinstance(k, (slice, int, np.integer)) or isinstance(k, bool):
                raise TypeError(f"AxesView supports integers, slices and '...' only, not {type(k).__name__}")
        stored_key = tuple(key[i] for i in self._item_dim)
        kept_item = [a for a, k in zip(self.axes, key) if isinstance(k, slice)]
        kept_stored = [a for a, k in zip(self.stored, stored_key) if isinstance(k, slice)]
        return stored_key, kept_item, kept_stored

    def __getitem__(self, key: Any) -> np.ndarray:
        stored_key, kept_item, kept_stored = self._split(key)
        data = np.asarray(self.array[stored_key])
        return np.transpose(data, [kept_stored.index(a) for a in kept_item]) if data.ndim else data

    def __setitem__(self, key: Any, value: Any) -> None:
        stored_key, kept_item, kept_stored = self._split(key)
        value = np.asarray(value)
        if value.ndim == len(kept_item) and value.ndim:
            value = np.transpose(value, [kept_item.index(a) for a in kept_stored])
        elif value.ndim:  # broadcasting a lower-dimensional value is ambiguous across a transpose
            raise ValueError(f"value of {value.ndim} dimensions for {len(kept_item)} selected ones")
        self.array[stored_key] = value

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        data = self[...]
        return data.astype(dtype, copy=False) if dtype is not None else data


def _view(array, axes: str):
    stored = ome_axes(axes)
    return array if stored == axes else AxesView(array, axes, stored)


def create_image(store, name: str, shape: Sequence[int], dtype, axes: str, *, tile: int | None = None):
    """A fresh (overwritten) image group ``name`` with its empty level 0.

    Parameters
    ----------
    store : zarr.Group
        ``restored.zarr``.
    name : str
        The group's name (the item name, or ``<name>_std``).
    shape : sequence of int
        The item's shape, in the order of ``axes``.
    dtype : numpy dtype
        The level arrays' dtype.
    axes : str
        The item's axis letters.
    tile : int, optional
        Chunk side in y and x (default :func:`restoration.store.chunks.chunk_side`).

    Returns
    -------
    zarr.Array or AxesView
        Level 0 in the item's axis order; its provenance says ``complete: False`` until the end.
    """
    stored = ome_axes(axes)
    if len(stored) != len(axes) or len(shape) != len(axes):
        raise ValueError(f"axes {axes!r} for a {len(shape)}-D array")
    shape_ome = tuple(int(shape[axes.index(a)]) for a in stored)
    group = store.create_group(name, overwrite=True)
    group.attrs["restoration"] = {"complete": False, "axes": axes}
    arr = group.create_array("0", shape=shape_ome, dtype=np.dtype(dtype), chunks=output_chunks(shape_ome, stored, tile),
                             dimension_names=list(stored), fill_value=0)
    return _view(arr, axes)


def item_axes(node) -> str:
    """The item's axis letters recorded in an image group (or a legacy array's ``dimension_names``)."""
    import zarr

    prov = node.attrs.get("restoration")
    axes = prov.get("axes") if isinstance(prov, dict) else None
    if isinstance(axes, str) and axes:
        return axes
    if isinstance(node, zarr.Array):
        return "".join(str(n) for n in (node.metadata.dimension_names or ()))
    return "".join(str(n) for n in (node["0"].metadata.dimension_names or ()))


def image_array(store, name: str, level: int = 0):
    """Level ``level`` of item ``name``, in the item's axis order.

    Parameters
    ----------
    store : zarr.Group
        ``restored.zarr``.
    name : str
        The item (or ``<name>_std``).
    level : int
        0 is full resolution.

    Returns
    -------
    zarr.Array or AxesView
        The array itself when its order is the item's (``"yx"``, ``"zyx"``, ...), else a view.
        An output written before OME-Zarr (one plain array per item) is returned as it is.

    Raises
    ------
    KeyError
        When there is no such item or level.
    """
    import zarr

    node = store[name]
    if isinstance(node, zarr.Array):  # the layout before OME-Zarr: one array per item, item order
        if level:
            raise KeyError(f"{name}: no level {level} in an output without a pyramid")
        return node
    return _view(node[str(level)], item_axes(node))


def levels(group) -> list[str]:
    """The level paths of an image group, as its ``ome`` metadata lists them (``["0"]`` before it is written)."""
    ome = group.attrs.get("ome")
    try:
        return [d["path"] for d in ome["multiscales"][0]["datasets"]]
    except (TypeError, KeyError, IndexError):
        return ["0"]


def level_shapes(shape: Sequence[int], stored: str, side: int) -> list[tuple[int, ...]]:
    """Shapes of every level (OME order): halved (rounded up) in y and x until both fit ``side``."""
    shapes = [tuple(int(n) for n in shape)]
    iy, ix = stored.index("y"), stored.index("x")
    while max(shapes[-1][iy], shapes[-1][ix]) > side:
        s = list(shapes[-1])
        s[iy], s[ix] = -(-s[iy] // 2), -(-s[ix] // 2)
        shapes.append(tuple(s))
    return shapes


def downsample_block(block: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """2x2 means over the last two axes (y, x); an odd edge row/column is averaged alone.

    Integer data is rounded to the nearest value and clipped to ``dtype``'s range.
    """
    h, w = block.shape[-2:]
    work = np.float64 if np.dtype(dtype) == np.float64 or not np.issubdtype(dtype, np.floating) else np.float32
    block = block.astype(work, copy=False)
    if h % 2 or w % 2:  # repeating the edge makes the mean that of the pixels there are
        pad = [(0, 0)] * (block.ndim - 2) + [(0, h % 2), (0, w % 2)]
        block = np.pad(block, pad, mode="edge")
    out = block.reshape(*block.shape[:-2], block.shape[-2] // 2, 2, block.shape[-1] // 2, 2).mean(axis=(-3, -1))
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    elif np.dtype(dtype) == np.bool_:
        out = out >= 0.5
    return out.astype(dtype)


def write_level(src, dst, stored: str) -> None:
    """Fill ``dst`` from ``src`` (the level before) one output chunk at a time.

    Each step reads the 2x2 chunks of ``src`` under one chunk of ``dst`` (all channels), so memory
    is a few chunks whatever the size of the plane.
    """
    iy, ix = stored.index("y"), stored.index("x")
    lead = [i for i, a in enumerate(stored) if a not in "yxc"]
    cy, cx = dst.chunks[iy], dst.chunks[ix]
    h, w = dst.shape[iy], dst.shape[ix]
    src_h, src_w = src.shape[iy], src.shape[ix]
    for index in np.ndindex(*[dst.shape[i] for i in lead]):
        for y0 in range(0, h, cy):
            for x0 in range(0, w, cx):
                y1, x1 = min(h, y0 + cy), min(w, x0 + cx)
                key: list[Any] = [slice(None)] * len(stored)
                for i, v in zip(lead, index):
                    key[i] = int(v)
                src_key, dst_key = list(key), list(key)
                src_key[iy], src_key[ix] = slice(2 * y0, min(src_h, 2 * y1)), slice(2 * x0, min(src_w, 2 * x1))
                dst_key[iy], dst_key[ix] = slice(y0, y1), slice(x0, x1)
                # y and x are the last two stored axes (OME order), also with a channel axis kept
                dst[tuple(dst_key)] = downsample_block(np.asarray(src[tuple(src_key)]), dst.dtype)


def finish_image(store, name: str, attrs: dict | None = None, *, rgb: bool = False, side: int | None = None,
                 tile: int | None = None) -> dict:
    """Write the pyramid and the ``ome`` metadata of image group ``name`` (level 0 complete).

    Called once all of level 0 is written and before the item is marked complete; running it
    again (a run resumed after a crash here) rewrites the same levels and metadata.

    Parameters
    ----------
    store : zarr.Group
        ``restored.zarr``.
    name : str
        The image group (item or ``<name>_std``).
    attrs : dict, optional
        The item's attributes (``scale``, ``units``, ``translation``, ``channel_names``, ...),
        read defensively (:func:`spatial_metadata`).
    rgb : bool
        Whether the three channels are a photograph's red, green and blue
        (:func:`restoration.store.ome_metadata.is_rgb`): so labelled and coloured, unless ``attrs`` names them.
    side : int, optional
        Pyramid floor: levels are added until a plane fits ``side`` (default :func:`pyramid_side`).
    tile : int, optional
        Chunk side of the levels in y and x (default :func:`restoration.store.chunks.chunk_side`).

    Returns
    -------
    dict
        The ``ome`` attributes written.
    """
    attrs = attrs if isinstance(attrs, dict) else {}
    group = store[name]
    axes = item_axes(group)
    stored = ome_axes(axes)
    base = group["0"]
    shapes = level_shapes(base.shape, stored, side or pyramid_side())
    for k in [key for key in group.array_keys() if key != "0" and (not key.isdigit() or int(key) >= len(shapes))]:
        del group[k]  # levels of an earlier, larger floor
    arrays = [base]
    for k, shape in enumerate(shapes[1:], start=1):
        dst = group.create_array(str(k), shape=shape, dtype=base.dtype, chunks=output_chunks(shape, stored, tile),
                                 dimension_names=list(stored), fill_value=0, overwrite=True)
        write_level(arrays[-1], dst, stored)
        arrays.append(dst)
    ome_ax, scale, shift = spatial_metadata(axes, attrs)
    iy, ix = stored.index("y"), stored.index("x")
    datasets = []
    for k in range(len(shapes)):
        s, t = list(scale), list(shift)
        for i in (iy, ix):
            s[i] = scale[i] * 2 ** k
            t[i] = shift[i] + (2 ** k - 1) / 2 * scale[i]  # the centre of a block of 2**k pixels
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": s}]
        if any(t):
            transforms.append({"type": "translation", "translation": t})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    n = base.shape[stored.index("c")] if "c" in stored else 1
    labels = channel_labels(attrs, n, rgb)
    colours = channel_colours(n, rgb=rgb)
    windows = channel_windows(arrays[-1], stored)
    channels = [{"label": labels[c], "color": colours[c], "window": windows[c], "active": True, "coefficient": 1.0,
                 "family": "linear", "inverted": False} for c in range(n)]
    rdefs: dict[str, Any] = {"model": "color" if n > 1 else "greyscale"}
    for a in "tz":
        if a in stored:
            rdefs["default" + a.upper()] = int(base.shape[stored.index(a)] // 2)
    ome = {"version": OME_VERSION,
           "multiscales": [{"name": name, "axes": ome_ax, "datasets": datasets, "type": DOWNSAMPLING,
                            "metadata": {"description": "each level is the 2x2 block mean in y and x of the one before "
                                                        "(an odd edge row or column averaged alone)",
                                         "method": "restoration.store.ome_zarr.write_level"}}],
           "omero": {"channels": channels, "rdefs": rdefs}}
    group.attrs["ome"] = ome
    return ome
