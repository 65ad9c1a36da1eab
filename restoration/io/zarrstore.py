"""zarr arrays and groups (v3, and v2 for reading), by local path or fsspec URL.

Each array inside a group (recursively) is one item named by its path with ``/`` -> ``.``; an
array given directly is named by the stem of the path given. ``dimension_names`` (v3),
``_ARRAY_DIMENSIONS`` (v2/xarray) and OME-Zarr ``axes`` (0.4 or 0.5 ``multiscales``) name the
axes; the OME ``scale``/``translation`` of a dataset and array-level ``axes``/``scale``/``units``
attributes are carried in :attr:`Item.attrs`.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import InputError
from .axes import infer_axes
from .checks import pixel_problem
from .item import Item

_ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")
_ARRAY_KEYS = ("axes", "scale", "translation", "units", "unit")


def is_zarr_dir(path: str) -> bool:
    """Whether the local directory ``path`` is the root of a zarr store (v3 or v2)."""
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, m)) for m in _ZARR_MARKERS)


def _open_node(source: str, path: str = "") -> Any:
    import zarr

    try:
        return zarr.open(source, mode="r", path=path or None)
    except (FileNotFoundError, zarr.errors.NodeNotFoundError):
        raise InputError("no zarr array or group found", path=source) from None
    except Exception as exc:
        raise InputError(f"corrupt zarr metadata ({type(exc).__name__}: {exc})",
                         path=source) from None


def _ome_multiscales(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    ome = attrs.get("ome") if isinstance(attrs.get("ome"), dict) else attrs  # 0.5 or 0.4
    multiscales = ome.get("multiscales")
    return [m for m in multiscales if isinstance(m, dict)] if isinstance(multiscales, list) else []


def _ome_datasets(group_path: str, attrs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{array path: {"axes", "scale", "translation"}}`` from a group's OME multiscales."""
    found: dict[str, dict[str, Any]] = {}
    for ms in _ome_multiscales(attrs):
        axes = ms.get("axes")
        for ds in ms.get("datasets") or []:
            if not isinstance(ds, dict) or not isinstance(ds.get("path"), str):
                continue
            meta: dict[str, Any] = {}
            if isinstance(axes, list):
                meta["axes"] = axes
            for tr in ds.get("coordinateTransformations") or []:
                if isinstance(tr, dict) and tr.get("type") in ("scale", "translation"):
                    meta[tr["type"]] = tr.get(tr["type"])
            path = f"{group_path}/{ds['path']}" if group_path else ds["path"]
            found[path.strip("/")] = meta
    return found


def _item(source: str, array: Any, name: str, array_path: str | None,
          ome: dict[str, Any] | None) -> Item:
    shape = tuple(int(n) for n in array.shape)
    dtype = np.dtype(array.dtype)
    own = dict(array.attrs)
    attrs: dict[str, Any] = {k: own[k] for k in _ARRAY_KEYS if k in own}
    attrs.update(ome or {})
    dim_names = getattr(array.metadata, "dimension_names", None) or own.get("_ARRAY_DIMENSIONS")
    ome_axes = attrs.get("axes") if isinstance(attrs.get("axes"), list) else None
    where = f"{source.rstrip('/')}/{array_path}" if array_path else source
    try:
        axes = infer_axes(shape, format="zarr", dimension_names=dim_names, ome_axes=ome_axes)
    except ValueError as exc:
        raise InputError(str(exc), path=where) from None
    problem = pixel_problem(math.prod(n for n, a in zip(shape, axes) if a != "c"),
                            why="the store may declare far more than it holds", variable="RESTORATION_MAX_ZARR_PIXELS")
    if problem:
        raise InputError(problem, path=where)
    if dim_names:
        attrs["dimension_names"] = [str(n) for n in dim_names]
    if dtype.byteorder == ">":
        attrs["byteorder"] = "big"
    return Item(name=name, source=source, array_path=array_path, format="zarr", shape=shape,
                dtype=dtype.newbyteorder("=") if dtype.kind in "iufcb" else dtype, axes=axes,
                attrs=attrs)


def probe_zarr(source: str, name: str) -> list[Item]:
    """The items of the zarr array or group at ``source`` (a local path or fsspec URL).

    Parameters
    ----------
    source : str
        Store path or URL.
    name : str
        The item name used when ``source`` is an array (the stem of the path given).

    Raises
    ------
    InputError
        Nothing found, corrupt metadata, or a group without arrays.
    """
    import zarr

    node = _open_node(source)
    if isinstance(node, zarr.Array):
        return [_item(source, node, name, None, None)]
    try:
        members = sorted(node.members(max_depth=None), key=lambda m: m[0])
        ome = _ome_datasets("", dict(node.attrs))
        for path, member in members:
            if isinstance(member, zarr.Group):
                ome.update(_ome_datasets(path, dict(member.attrs)))
    except Exception as exc:
        raise InputError(f"corrupt zarr metadata ({type(exc).__name__}: {exc})",
                         path=source) from None
    items = [_item(source, member, path.replace("/", "."), path, ome.get(path))
             for path, member in members if isinstance(member, zarr.Array)]
    if not items:
        raise InputError("zarr group contains no arrays", path=source)
    return items


def open_zarr(item: Item) -> Any:
    """The item's ``zarr.Array``, opened read-only (reads are lazy, chunk by chunk)."""
    import zarr

    node = _open_node(item.source, item.array_path or "")
    if not isinstance(node, zarr.Array):
        raise InputError(f"{item.array_path or 'root'} is no longer a zarr array", path=item.source)
    return node
