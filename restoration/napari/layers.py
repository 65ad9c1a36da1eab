"""Between napari layers and the package's arrays: axis letters, geometry (scale, translate, axis
labels, units) and layer data tuples. Imports neither napari nor Qt."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import InputError


def layer_axes(shape: Sequence[int], labels: Sequence[str] | None, rgb: bool) -> str:
    """The OME axis letters of a layer's data: its axis labels when they are such letters (a layer
    read by this plugin), else inferred from the shape as for a ``.npy`` file (an RGB layer's last
    axis is ``c``).

    Examples
    --------
    >>> layer_axes((8, 64, 64), ("z", "y", "x"), False), layer_axes((5, 64, 64), ("axis -3", "axis -2", "axis -1"), False)
    ('zyx', 'zyx')
    >>> layer_axes((64, 64, 3), None, True)
    'yxc'
    """
    from ..io import infer_axes

    labels = [str(label) for label in (labels or ())]
    if rgb:
        labels = labels[:len(shape) - 1] + ["c"]
    letters = "".join(labels)
    if len(labels) == len(shape) and all(len(a) == 1 for a in labels) and set(letters) <= set("tczyx") \
            and len(set(letters)) == len(letters) and {"y", "x"} <= set(letters):
        return letters
    if rgb:
        lead = infer_axes(tuple(shape[:-1]), format="npy") if len(shape) > 3 else "yx"
        return lead + "c"
    return infer_axes(tuple(shape), format="npy")


def geometry(axes: str, attrs: dict | None, rgb: bool = False) -> dict[str, Any]:
    """napari layer keywords ``scale``, ``axis_labels`` and ``units`` (where known) of an item with
    ``axes`` and reader ``attrs`` (``scale``, ``units`` per axis); an RGB item's colour axis is
    not a layer dimension.

    Examples
    --------
    >>> geometry("zyx", {"scale": [2.0, 0.5, 0.5], "units": ["micrometer"] * 3})
    {'scale': [2.0, 0.5, 0.5], 'axis_labels': ['z', 'y', 'x'], 'units': ['micrometer', 'micrometer', 'micrometer']}
    """
    attrs = attrs if isinstance(attrs, dict) else {}
    keep = [i for i, a in enumerate(axes) if not (rgb and a == "c")]
    scale = attrs.get("scale")
    units = attrs.get("units")
    out: dict[str, Any] = {"scale": [float(scale[i]) if isinstance(scale, (list, tuple)) and len(scale) == len(axes)
                                     and float(scale[i]) > 0 else 1.0 for i in keep],
                           "axis_labels": [axes[i] for i in keep]}
    if isinstance(units, (list, tuple)) and len(units) == len(axes) and all(units[i] for i in keep):
        out["units"] = [str(units[i]) for i in keep]
    return out


def like_layer(layer, **extra: Any) -> dict[str, Any]:
    """Keywords that put a new layer where ``layer`` is: its scale, translate, axis labels, units
    and RGB-ness, with ``extra`` added."""
    kwargs = {"scale": tuple(layer.scale), "translate": tuple(layer.translate),
              "axis_labels": tuple(layer.axis_labels), "rgb": bool(getattr(layer, "rgb", False))}
    units = getattr(layer, "units", None)
    if units is not None:
        kwargs["units"] = tuple(str(u) for u in units)
    return {**kwargs, **extra}


def plane_number(axes: str, shape: Sequence[int], position: Sequence[float]) -> int:
    """The yx plane a data ``position`` (one coordinate per axis) falls in, numbered as
    :func:`restoration.denoise_plane` numbers them (over the leading axes, in order).

    Examples
    --------
    >>> plane_number("tzyx", (2, 5, 64, 64), (1, 3, 10.2, 0))
    8
    """
    lead = [i for i, a in enumerate(axes) if a not in "yxc"]
    if not lead:
        return 0
    index = [int(np.clip(round(float(position[i])), 0, shape[i] - 1)) for i in lead]
    return int(np.ravel_multi_index(index, [shape[i] for i in lead]))


def visible_region(axes: str, shape: Sequence[int], corners: np.ndarray | None) -> tuple[tuple[int, int], ...]:
    """The rows and columns of a plane the canvas shows, from a layer's ``corner_pixels``
    (data-coordinate corners of the view; the whole plane when unknown or empty).

    Examples
    --------
    >>> visible_region("zyx", (4, 100, 80), np.array([[0, 20, 0], [0, 60, 79]]))
    ((20, 61), (0, 80))
    """
    spans = []
    for axis in "yx":
        i, size = axes.index(axis), int(shape[axes.index(axis)])
        if corners is None or np.size(corners) == 0:
            spans.append((0, size))
            continue
        lo, hi = int(np.clip(corners[0][i], 0, size - 1)), int(np.clip(corners[1][i], 0, size - 1)) + 1
        spans.append((lo, hi) if hi > lo else (0, size))
    return tuple(spans)


def number(text: str, name: str) -> float | None:
    """A form field's value: None when blank, else a finite float.

    Raises
    ------
    InputError
        Naming the field, when the text is not a number.

    Examples
    --------
    >>> number(" 0.1 ", "sigma"), number("", "sigma")
    (0.1, None)
    """
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{name}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise InputError(f"{name}: {text!r} is not a finite number")
    return value


def plane_layer(out: np.ndarray, axes: str, shape: Sequence[int], plane: int, y0: int, x0: int,
                rgb: bool) -> tuple[np.ndarray, list[int]]:
    """A restored ``(y, x[, c])`` region from row ``y0`` and column ``x0`` of yx plane ``plane`` as
    data of the item's dimensionality (length 1 on the leading axes), and its offset in pixels per
    layer dimension (an RGB layer's colour axis is none), to place it over the source layer.

    Examples
    --------
    >>> data, offset = plane_layer(np.zeros((10, 30)), "tzyx", (2, 5, 64, 64), 8, 20, 5, False)
    >>> data.shape, offset
    ((1, 1, 10, 30), [1, 3, 20, 5])
    """
    order = [a for a in "yxc" if a in axes]
    rest = [a for a in axes if a in "yxc"]
    data = np.transpose(out, [order.index(a) for a in rest])
    lead = [i for i, a in enumerate(axes) if a not in "yxc"]
    index = np.unravel_index(plane, [shape[i] for i in lead]) if lead else ()
    for i in lead:
        data = np.expand_dims(data, i)
    where = dict(zip(lead, (int(v) for v in index)))
    offset = [where.get(i, {"y": y0, "x": x0}.get(a, 0)) for i, a in enumerate(axes) if not (rgb and a == "c")]
    return data, offset
