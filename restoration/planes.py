"""Which plane orientations a z-stack is restored in: yx planes, or also zx and zy (tri-planar).

``planes="yx,zx,zy"`` restores a z-stack as yx, zx and zy planes with the same 2-D model and
one plan (made from the yx planes: the noise model and transforms are pointwise) and averages
the three. The in-memory API (:func:`restoration.denoise`) and the file pipeline
(:mod:`restoration.pipeline`: zx/zy slabs as work regions) share these helpers, so they give
the same values.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from .errors import InputError
from .io.physical import metres
from .planning import plane_indices, read_plane, write_plane
from .plugins import Registry
from .restore import PlanePlan, cast_like, restore_plane


#: The ``planes`` choices: yx planes only, or a z-stack also as zx and zy planes, the three averaged.
PLANES = ("yx", "yx,zx,zy")
#: The plane orientations; the index of one is the second number of its planes' seeds.
ORIENTATIONS = ("yx", "zx", "zy")
#: Tri-planar restoration needs near-isotropic voxels: the z spacing over the x and y pixel sizes
#: within these bounds (else the zx and zy planes look unlike what a 2-D model was trained on).
ISOTROPY = (0.5, 2.0)


def orientations(planes: str) -> tuple[str, ...]:
    """The orientations a ``planes`` choice restores (:data:`PLANES`), yx first.

    Raises
    ------
    InputError
        ``planes`` is not one of :data:`PLANES`.

    Examples
    --------
    >>> orientations("yx"), orientations("yx,zx,zy")
    (('yx',), ('yx', 'zx', 'zy'))
    """
    if planes not in PLANES:
        raise InputError(f"--planes must be one of {', '.join(PLANES)}, got {planes!r}")
    return tuple(planes.split(","))


def oriented_axes(axes: str, orientation: str) -> str:
    """``axes`` relabelled so that :func:`~restoration.planning.plane_indices`,
    :func:`~restoration.planning.read_plane` and :func:`~restoration.planning.write_plane` see the planes of ``orientation``: for ``zx`` z and y swap (a plane's rows
    are z, its columns x, planes run along y); for ``zy`` the rows are z, the columns y, and
    planes run along x. The array itself is never transposed.

    Examples
    --------
    >>> oriented_axes("tzyx", "yx"), oriented_axes("tzyx", "zx"), oriented_axes("zyxc", "zy")
    ('tzyx', 'tyzx', 'yxzc')
    """
    relabel = {"yx": {}, "zx": {"z": "y", "y": "z"}, "zy": {"z": "y", "y": "x", "x": "z"}}[orientation]
    return "".join(relabel.get(a, a) for a in axes)


def plane_pixels(axes: str, shape: Sequence[int], orientation: str = "yx") -> int:
    """Values in one plane of ``orientation`` (channels counted), as region budgets count them."""
    return math.prod(int(n) for n, a in zip(shape, oriented_axes(axes, orientation)) if a in "yxc")


def volume_indices(axes: str, shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Every index over the leading axes other than z (``t``), in order: one per z-volume."""
    lead = [shape[i] for i, a in enumerate(axes) if a not in "zyxc"]
    return [tuple(int(v) for v in idx) for idx in np.ndindex(*lead)] if lead else [()]


def volume_axes(axes: str) -> str:
    """The axes of one z-volume of an array in ``axes`` order: ``axes`` less t (z, y, x, c as they come)."""
    return "".join(a for a in axes if a in "zyxc")


def volume_key(axes: str, index: tuple[int, ...], axis: str | None = None, span: slice = slice(None)) -> tuple:
    """The key selecting z-volume ``index`` (:func:`volume_indices`) of an array in ``axes``
    order, only ``span`` of it along ``axis`` when given: the selection has the
    :func:`volume_axes`."""
    it = iter(index)
    return tuple(span if a == axis else slice(None) if a in "zyxc" else next(it) for a in axes)


def slab_axis(orientation: str) -> str:
    """The axis the planes of ``orientation`` run along: ``y`` for zx planes, ``x`` for zy."""
    return {"zx": "y", "zy": "x"}[orientation]


def slab_width(axes: str, shape: Sequence[int], orientation: str, max_pixels: int, align: int) -> int:
    """Planes of ``orientation`` per work region: as many as fit ``max_pixels`` (at least one),
    a multiple of ``align`` (the output's chunk side) when that many fit."""
    width = max(1, max_pixels // max(plane_pixels(axes, shape, orientation), 1))
    return width - width % align if width >= align else width


def slab_regions(axes: str, shape: Sequence[int], orientation: str, max_pixels: int,
                 align: int) -> list[tuple[str, int, int, int]]:
    """Work regions of the zx or zy planes: ``(orientation, volume number, first, end)``, a slab
    of every z, of y rows ``first:end`` (zx) or x columns (zy), of one z-volume
    (:func:`volume_indices`). Slabs are :func:`slab_width` planes wide; orthogonal planes are
    never split into bands.

    Examples
    --------
    >>> slab_regions("zyx", (4, 10, 6), "zx", 48, 8)
    [('zx', 0, 0, 2), ('zx', 0, 2, 4), ('zx', 0, 4, 6), ('zx', 0, 6, 8), ('zx', 0, 8, 10)]
    """
    n = int(shape[axes.index(slab_axis(orientation))])
    width = slab_width(axes, shape, orientation, max_pixels, align)
    return [(orientation, v, s, min(s + width, n)) for v in range(len(volume_indices(axes, shape)))
            for s in range(0, n, width)]


def part_dtype(dtype) -> np.dtype:
    """The dtype one orientation's restoration is kept in until the orientations are averaged:
    float64 for a float64 output, else float32 (an integer output is rounded once, at the end)."""
    return np.dtype(np.float64 if np.dtype(dtype) == np.float64 else np.float32)


def average_parts(parts: Sequence[np.ndarray], dtype) -> np.ndarray:
    """The mean of the orientations' restorations (each in :func:`part_dtype`), cast to ``dtype``.

    Summed in float64 in the order given: the in-memory API and the file pipeline's blocks give
    the same values.
    """
    total = np.asarray(parts[0]).astype(np.float64)
    for part in parts[1:]:
        total += part
    return cast_like(total / len(parts), dtype)


def restore_slab(slab: np.ndarray, axes: str, orientation: str, plan: PlanePlan, reg: Registry, *, seed: int,
                 first: int, dtype, want_std: bool = False,
                 progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Restore every zx or zy plane of a z-volume, or of a slab of one, with the item's plan.

    Parameters
    ----------
    slab : numpy.ndarray
        The data: z, y, x and any channel axis (:func:`volume_key`).
    axes : str
        Its axes (:func:`volume_axes`).
    orientation : str
        ``zx`` or ``zy``.
    plan : PlanePlan
        The item's plan, made once from its yx planes (the noise model and transforms are
        pointwise: they hold in any orientation).
    reg : Registry
    seed : int
        The run's seed. Plane ``j`` of the slab draws from ``default_rng([seed, o, first + j])``,
        ``o`` the orientation's index in :data:`ORIENTATIONS`.
    first : int
        The number of the slab's first plane: volume number times the length of the
        :func:`slab_axis`, plus the slab's first coordinate along it (any split of a volume into
        slabs gives the same numbers).
    dtype : numpy.dtype
        The result's dtype (:func:`part_dtype`).
    want_std : bool
        Also return the per-pixel std (zeros where the denoiser reports none).
    progress : callable, optional
        Called with the number of the slab's planes restored so far.

    Returns
    -------
    restored : numpy.ndarray
        Same shape and axes as ``slab``.
    std : numpy.ndarray or None
        float32, with ``want_std``.
    """
    oriented = oriented_axes(axes, orientation)
    out = np.empty(slab.shape, dtype)
    std_out = np.zeros(slab.shape, np.float32) if want_std else None
    code = ORIENTATIONS.index(orientation)
    for j, index in enumerate(plane_indices(oriented, slab.shape)):
        rng = np.random.default_rng([seed, code, first + j])
        restored, std = restore_plane(read_plane(slab, oriented, index), plan, reg, rng)
        write_plane(out, oriented, index, cast_like(restored, dtype))
        if std_out is not None and std is not None:
            write_plane(std_out, oriented, index, std.astype(np.float32))
        if progress:
            progress(j + 1)
    return out, std_out


def voxel_aspect(attrs: dict | None, axes: str) -> dict[str, float]:
    """The z spacing over the x and over the y pixel size, ``{"x": ..., "y": ...}``, for those
    known (an item's ``scale`` and ``units``, :class:`restoration.io.Item`).

    A size is known with a length unit (converted to metres), or without any unit when every
    compared size has none and is not 1.0 (the convention's value for unknown).

    Examples
    --------
    >>> voxel_aspect({"scale": [2.0, 0.5, 0.5], "units": ["micrometer"] * 3}, "zyx")
    {'x': 4.0, 'y': 4.0}
    >>> voxel_aspect({"scale": [1.0, 0.2, 0.2], "units": [None, "micrometer", "micrometer"]}, "zyx")
    {}
    """
    attrs = attrs or {}
    scale, units = attrs.get("scale"), attrs.get("units")
    if "z" not in axes or not isinstance(scale, (list, tuple)) or len(scale) != len(axes):
        return {}
    if not (isinstance(units, (list, tuple)) and len(units) == len(axes)):
        units = [None] * len(axes)

    def size(a: str) -> tuple[float, bool] | None:
        i = axes.index(a)
        try:
            value = float(scale[i])
        except (TypeError, ValueError):
            return None
        if not (math.isfinite(value) and value > 0):
            return None
        if not isinstance(units[i], str):
            return None if value == 1.0 else (value, False)
        factor = metres(units[i])
        return None if factor is None else (value * factor, True)

    z = size("z")
    found = {}
    for a in "xy":
        other = size(a) if a in axes and z else None
        if other and other[1] == z[1]:
            found[a] = z[0] / other[0]
    return found


def check_planes(planes: str, axes: str, shape: Sequence[int], attrs: dict | None = None, *,
                 max_pixels: int | None = None, path: str | None = None) -> None:
    """Refuse a ``planes`` choice the item cannot take, before any work.

    ``yx,zx,zy`` needs a z axis longer than one (a channel axis is not z; other leading axes,
    such as t, stay leading: each z-volume is restored on its own), near-isotropic voxels where
    the sizes are known (:func:`voxel_aspect` within :data:`ISOTROPY`) and, given
    ``max_pixels`` (the file pipeline's region budget), zx and zy planes within it: they are
    restored whole.

    Raises
    ------
    InputError
        One line naming ``path`` (when given) and the problem.
    """
    if len(orientations(planes)) == 1:
        return
    flag = f"--planes {planes}"
    if "z" not in axes or int(shape[axes.index("z")]) < 2:
        raise InputError(f"{flag} needs a z-stack (a z axis longer than 1); this item has axes {axes} and shape "
                         f"{tuple(int(n) for n in shape)}: use --planes yx", path=path)
    for a, ratio in voxel_aspect(attrs, axes).items():
        if not ISOTROPY[0] <= ratio <= ISOTROPY[1]:
            raise InputError(f"{flag} needs near-isotropic voxels: the z spacing is {ratio:.3g} times the {a} "
                             f"pixel size (allowed {ISOTROPY[0]:g} to {ISOTROPY[1]:g}); use --planes yx", path=path)
    if max_pixels is not None:
        for o in ORIENTATIONS[1:]:
            pixels = plane_pixels(axes, shape, o)
            if pixels > max_pixels:
                raise InputError(f"{flag}: a {o} plane holds {pixels} values, over the region budget of {max_pixels} "
                                 f"(RESTORATION_REGION_PIXELS); {o} planes are not split into bands", path=path)
