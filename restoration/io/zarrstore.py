"""zarr arrays and groups (v3, and v2 for reading), by local path or fsspec URL.

Each array inside a group (recursively) is one item named by its path with ``/`` -> ``.``; an
array given directly is named by the stem of the path given. An OME-Zarr image (0.4: a v2
group's ``multiscales``; 0.5: a v3 group's ``attributes["ome"]["multiscales"]``) is one item,
its level 0 (``datasets[0]``): named like the group (the store's stem when it is the root), its
other levels and labels left out. ``dimension_names`` (v3), ``_ARRAY_DIMENSIONS`` (v2/xarray)
and the OME ``axes`` name the axes. Pixel sizes (the OME level-0 ``scale``, or array-level
``scale``/``units`` attributes), units (OME ``axes[i]["unit"]``) and channel names (OME
``omero`` labels) go into :attr:`Item.attrs` in the :mod:`restoration.io.physical` convention.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ..errors import InputError, storage_problem
from .axes import infer_axes
from .checks import pixel_problem
from .item import Item
from .physical import channel_attrs, pixel_attrs

#: The files at the root of a zarr store (v3, v2 group, v2 array).
ZARR_MARKERS = ("zarr.json", ".zgroup", ".zarray")
_ARRAY_KEYS = ("axes", "scale", "translation", "units", "unit")
#: The attribute under which an item carries metadata that contradicts its data, until checked.
AXES_CONTRADICTION = "_axes_contradiction"


def is_zarr_dir(path: str) -> bool:
    """Whether the local directory ``path`` is the root of a zarr store (v3 or v2)."""
    return os.path.isdir(path) and any(os.path.isfile(os.path.join(path, m)) for m in ZARR_MARKERS)


def _open_node(source: str, path: str = "") -> Any:
    import zarr

    try:
        return zarr.open(source, mode="r", path=path or None)
    except (FileNotFoundError, zarr.errors.NodeNotFoundError):
        raise InputError("no zarr array or group found", path=source) from None
    except PermissionError as exc:  # object storage that refuses these credentials
        raise InputError(storage_problem(exc, "read"), path=source) from None
    except Exception as exc:
        raise InputError(f"corrupt zarr metadata ({type(exc).__name__}: {exc})",
                         path=source) from None


def _ome(attrs: dict[str, Any]) -> dict[str, Any]:
    """A group's OME metadata: ``attributes["ome"]`` (0.5) or the attributes themselves (0.4)."""
    return attrs["ome"] if isinstance(attrs.get("ome"), dict) else attrs


def _transform(transforms: Any, kind: str) -> list[float] | None:
    """The ``scale`` or ``translation`` vector of a coordinateTransformations list, if any."""
    for tr in transforms if isinstance(transforms, list) else []:
        values = tr.get(kind) if isinstance(tr, dict) and tr.get("type") == kind else None
        if isinstance(values, list) and all(isinstance(v, (int, float)) for v in values):
            return [float(v) for v in values]
    return None


def _level0(multiscale: dict[str, Any]) -> dict[str, Any]:
    """``axes``, ``units``, ``scale`` and ``translation`` of a multiscale's level 0: its dataset
    transforms followed, as OME-Zarr says, by the multiscale's own (scale ``s0 * s1``,
    translation ``t0 * s1 + t1``)."""
    axes = multiscale.get("axes") if isinstance(multiscale.get("axes"), list) else []
    inner = multiscale["datasets"][0].get("coordinateTransformations")
    outer = multiscale.get("coordinateTransformations")
    s0, t0 = _transform(inner, "scale"), _transform(inner, "translation")
    s1, t1 = _transform(outer, "scale"), _transform(outer, "translation")
    if s1 and len(s1) == len(axes):
        s0 = [a * b for a, b in zip(s0 or [1.0] * len(s1), s1)]
        if t0:
            t0 = [a * b for a, b in zip(t0, s1)]
    if t1 and len(t1) == len(axes):
        t0 = [a + b for a, b in zip(t0 or [0.0] * len(t1), t1)]
    meta: dict[str, Any] = {}
    if axes:
        meta["axes"] = axes
        meta["units"] = [a.get("unit") if isinstance(a, dict) else None for a in axes]
    if s0:
        meta["scale"] = s0
    if t0:
        meta["translation"] = t0
    return meta


def _ome_image(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """The image an OME multiscales group holds (its first multiscale), or None:
    ``{"path": level 0's array path, "meta": {...}}`` with ``channel_names`` from ``omero``."""
    ome = _ome(attrs)
    multiscales = ome.get("multiscales")
    ms = multiscales[0] if isinstance(multiscales, list) and multiscales else None
    datasets = ms.get("datasets") if isinstance(ms, dict) else None
    if not (isinstance(datasets, list) and datasets and isinstance(datasets[0], dict)
            and isinstance(datasets[0].get("path"), str)):
        return None
    meta = _level0(ms)
    omero = ome.get("omero")
    channels = omero.get("channels") if isinstance(omero, dict) else None
    if isinstance(channels, list):
        meta["channel_names"] = [c.get("label") if isinstance(c, dict) else None for c in channels]
    return {"path": datasets[0]["path"].strip("/"), "meta": meta}


def _pixel_meta(attrs: dict[str, Any], axes: str) -> dict[str, Any]:
    """``attrs`` with ``scale``/``units`` in the :mod:`restoration.io.physical` convention: a
    list per dimension (a single unit string applies to the z/y/x axes); unusable ones dropped."""
    out = {k: v for k, v in attrs.items() if k not in ("scale", "units")}
    ndim = len(axes)
    scale, units = attrs.get("scale"), attrs.get("units", attrs.get("unit"))
    if isinstance(units, str):
        units = [units if a in "zyx" else None for a in axes]
    scale = scale if isinstance(scale, list) and len(scale) == ndim else [None] * ndim
    units = units if isinstance(units, list) and len(units) == ndim else [None] * ndim
    return out | pixel_attrs(scale, units)


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
    contradiction = None
    if ome_axes is not None and len(ome_axes) != len(shape):  # --axes may still say what they are
        names = ", ".join(str(a.get("name") if isinstance(a, dict) else a) for a in ome_axes)
        contradiction = (f"the OME multiscales axes ({names}) name {len(ome_axes)} dimensions, its array has "
                         f"{len(shape)} (shape {shape}); give --axes to say what they are")
        ome_axes = None
    try:
        axes = infer_axes(shape, format="zarr", dimension_names=dim_names, ome_axes=ome_axes)
    except ValueError as exc:
        raise InputError(contradiction or str(exc), path=where) from None
    if contradiction:
        attrs[AXES_CONTRADICTION] = contradiction
    problem = pixel_problem(math.prod(n for n, a in zip(shape, axes) if a != "c"),
                            why="the store may declare far more than it holds", variable="RESTORATION_MAX_ZARR_PIXELS")
    if problem:
        raise InputError(problem, path=where)
    names = attrs.pop("channel_names", [])
    attrs = _pixel_meta(attrs, axes) | channel_attrs(names, axes, shape)
    if dim_names:
        attrs["dimension_names"] = [str(n) for n in dim_names]
    if dtype.byteorder == ">":
        attrs["byteorder"] = "big"
    return Item(name=name, source=source, array_path=array_path, format="zarr", shape=shape,
                dtype=dtype.newbyteorder("=") if dtype.kind in "iufcb" else dtype, axes=axes,
                attrs=attrs)


def _inside(path: str, group: str) -> bool:
    return not group or path == group or path.startswith(group + "/")


def _group_items(source: str, name: str, members: list[tuple[str, Any]],
                 images: dict[str, dict[str, Any]]) -> list[Item]:
    """The items of a group's ``members``: one per OME image (its level 0, named like a group
    member), one per other array; the other levels and labels of an image are left out."""
    import zarr

    outer = {g: img for g, img in images.items()
             if not any(o != g and _inside(g, o) for o in images)}
    arrays = dict(members)
    found: list[tuple[str, Item]] = []
    for group, img in outer.items():
        path = f"{group}/{img['path']}" if group else img["path"]
        array = arrays.get(path)
        if not isinstance(array, zarr.Array):
            raise InputError(f"OME-Zarr level 0 {img['path']!r} is not an array",
                             path=f"{source.rstrip('/')}/{group}" if group else source)
        found.append((group, _item(source, array, group.replace("/", ".") or name, path,
                                   img["meta"])))
    found += [(path, _item(source, member, path.replace("/", "."), path, None))
              for path, member in members
              if isinstance(member, zarr.Array) and not any(_inside(path, g) for g in outer)]
    return [item for _, item in sorted(found, key=lambda f: f[0])]


def probe_zarr(source: str, name: str) -> list[Item]:
    """The items of the zarr array or group at ``source`` (a local path or fsspec URL).

    Parameters
    ----------
    source : str
        Store path or URL.
    name : str
        The item name used when ``source`` is an array or an OME-Zarr image (the stem of the
        path given).

    Raises
    ------
    InputError
        Nothing found, corrupt metadata, a group without arrays, or an OME-Zarr image whose
        level 0 is not an array.
    """
    import zarr

    node = _open_node(source)
    if isinstance(node, zarr.Array):
        return [_item(source, node, name, None, None)]
    try:
        members = sorted(node.members(max_depth=None), key=lambda m: m[0])
        groups = [("", node)] + [(p, m) for p, m in members if isinstance(m, zarr.Group)]
        images = {p: img for p, g in groups if (img := _ome_image(dict(g.attrs)))}
    except PermissionError as exc:
        raise InputError(storage_problem(exc, "read"), path=source) from None
    except Exception as exc:
        raise InputError(f"corrupt zarr metadata ({type(exc).__name__}: {exc})",
                         path=source) from None
    items = _group_items(source, name, members, images)
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
