"""Per-item decisions made once from a sample: transform states, noise per channel, the plane plan.

These are the normalize and characterize-noise stages of the pipeline, shared by the Prefect flow
and the in-memory API.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .errors import InputError
from .plugins import Registry
from .restore import (ChannelNoise, PlanePlan, apply_transforms, cast_like, restore_plane, to_stabilized,
                      transform_slope)

DEFAULT_TRANSFORMS = ("percentile",)
SAMPLE_PLANES = 4
SAMPLE_SIDE = 1024


def plane_indices(axes: str, shape: Sequence[int]) -> list[tuple[int, ...]]:
    """Every index over the leading (non y/x/c) axes, in order."""
    lead = [shape[i] for i, a in enumerate(axes) if a not in "yxc"]
    return [tuple(int(v) for v in idx) for idx in np.ndindex(*lead)] if lead else [()]


def _key(axes: str, index: tuple[int, ...], rows: slice, cols: slice) -> tuple:
    key: list[Any] = []
    it = iter(index)
    for a in axes:
        key.append(rows if a == "y" else cols if a == "x" else slice(None) if a == "c" else next(it))
    return tuple(key)


def read_plane(arr, axes: str, index: tuple[int, ...], rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
    """One (y, x) or (y, x, c) plane, or rows/cols of it, of an array-like (numpy, zarr) in y, x, c order."""
    plane = np.asarray(arr[_key(axes, index, rows, cols)])
    rest = [a for a in axes if a in "yxc"]
    return np.transpose(plane, [rest.index(a) for a in "yxc" if a in rest])


def write_plane(arr, axes: str, index: tuple[int, ...], plane: np.ndarray, rows: slice = slice(None)) -> None:
    """Write a (y, x) or (y, x, c) ``plane`` (or its ``rows``) into an array-like in ``axes`` order at
    the leading-axes ``index``: the inverse of :func:`read_plane`.
    """
    rest = [a for a in axes if a in "yxc"]
    order = [a for a in "yxc" if a in rest]
    arr[_key(axes, index, rows, slice(None))] = np.transpose(plane, [order.index(a) for a in rest])


def plane_regions(axes: str, shape: Sequence[int], max_pixels: int, align: int) -> list[tuple[int, int, int]]:
    """Work regions ``(plane number, first row, end row)`` of the yx planes: whole planes, or bands
    of rows when a plane holds more than ``max_pixels`` (bands are multiples of ``align`` rows,
    the output's chunk height, so no two regions share a chunk). zx and zy planes:
    :func:`slab_regions`."""
    height = int(shape[axes.index("y")])
    width = int(np.prod([n for n, a in zip(shape, axes) if a in "xc"]))
    band = height if height * width <= max_pixels else max(align, max_pixels // max(width, 1) // align * align)
    return [(i, y0, min(y0 + band, height)) for i in range(len(plane_indices(axes, shape)))
            for y0 in range(0, height, band)]


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
    """``axes`` relabelled so that :func:`plane_indices`, :func:`read_plane` and
    :func:`write_plane` see the planes of ``orientation``: for ``zx`` z and y swap (a plane's rows
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


#: Length units (OME-Zarr names) in metres, to compare a z spacing with an x pixel size.
_SI = {"yocto": -24, "zepto": -21, "atto": -18, "femto": -15, "pico": -12, "nano": -9, "micro": -6,
       "milli": -3, "centi": -2, "deci": -1, "": 0, "hecto": 2, "kilo": 3, "mega": 6, "giga": 9, "tera": 12,
       "peta": 15, "exa": 18, "zetta": 21, "yotta": 24}
_METRES = {f"{p}meter": 10.0 ** e for p, e in _SI.items()} | {
    "angstrom": 1e-10, "inch": 0.0254, "foot": 0.3048, "yard": 0.9144, "mile": 1609.344, "parsec": 3.0857e16}


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
        factor = _METRES.get(units[i])
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


def centre_window(height: int, width: int, side: int) -> tuple[slice, slice]:
    """Rows and columns of the central ``side x side`` window (all of a shorter axis)."""
    y0, x0 = max(0, (height - side) // 2), max(0, (width - side) // 2)
    return slice(y0, y0 + side), slice(x0, x0 + side)


def sample_planes(arr, axes: str) -> np.ndarray:
    """Up to SAMPLE_PLANES evenly spaced planes, centre-cropped to SAMPLE_SIDE: (k, y, x[, c]) float64.

    Only the crops are read, so sampling a huge plane costs SAMPLE_SIDE squared pixels.
    """
    indices = plane_indices(axes, arr.shape)
    pick = np.unique(np.linspace(0, len(indices) - 1, min(SAMPLE_PLANES, len(indices))).round().astype(int))
    rows, cols = centre_window(arr.shape[axes.index("y")], arr.shape[axes.index("x")], SAMPLE_SIDE)
    return np.stack([read_plane(arr, axes, indices[i], rows, cols).astype(np.float64) for i in pick])


def is_rgb(fmt: str, attrs: dict | None, axes: str, shape: Sequence[int]) -> bool:
    """Whether an item's channels are the red, green and blue of a photograph.

    RGB means three channels from a PNG/JPEG, a ``.npy`` (or an in-memory array) with a last axis
    of 3, or a TIFF whose photometric tag is RGB; other multi-channel data (fluorescence channels,
    spectra) is not (:attr:`~restoration.types.Observation.rgb`).

    Examples
    --------
    >>> is_rgb("png", {}, "yxc", (8, 8, 3)), is_rgb("tiff", {}, "cyx", (3, 8, 8))
    (True, False)
    """
    if "c" not in axes or shape[axes.index("c")] != 3:
        return False
    return fmt in ("png", "jpeg", "npy") or (fmt == "tiff" and (attrs or {}).get("photometric") == "rgb")


def fit_transforms(sample: np.ndarray, names: Sequence[str] | None, reg: Registry) -> list[dict]:
    """Fit the transform chain on ``sample`` (the normalize stage). ``["none"]`` disables it."""
    names = list(DEFAULT_TRANSFORMS if not names else names)
    if names == ["none"]:
        return []
    chain, x = [], sample
    for name in names:
        tr = reg.get("transform", name)
        state = tr.fit(x)
        chain.append({"name": name, "state": state})
        x = tr.forward(x, state)
    return chain


def characterize_sample(sample: np.ndarray, has_channels: bool, reg: Registry, *, noise: str = "auto",
                        sigma: float | None = None, fixed: dict[str, float] | None = None) -> list[dict]:
    """Noise rows, one per channel (the characterize-noise stage). Parameters in input units.

    ``sigma`` (the user's ``--sigma``) fixes the model's ``sigma``; with ``noise="auto"`` it means
    Gaussian noise of that std. ``fixed`` holds the camera calibration (``gain``, ``sigma``,
    ``offset`` from :func:`~restoration.noise.calibration.calibration`): it fixes those parameters of
    the model, ``poisson-gaussian`` with ``noise="auto"``; the others are estimated given them.
    """
    from .noise.select import characterize_array

    params = dict(fixed or {})
    if params and noise == "auto":
        noise = "poisson-gaussian"
    if sigma is not None:
        if not np.isfinite(sigma) or sigma <= 0:
            raise InputError(f"--sigma must be a positive number, got {sigma}")
        if "sigma" in params and params["sigma"] != float(sigma):
            raise InputError(f"--sigma {sigma} contradicts the read noise {params['sigma']} (--read-noise or --dark)")
        if noise == "auto":
            noise = "gaussian"
        model = reg.get("noise", noise)
        if "sigma" not in model.params:
            raise InputError(f"--sigma given but noise {noise!r} has no sigma parameter (its parameters: {', '.join(model.params)})")
        params["sigma"] = float(sigma)
    elif noise != "auto":
        reg.get("noise", noise)
    channels = [sample[..., c] for c in range(sample.shape[-1])] if has_channels else [sample]
    return [{"channel": c, **characterize_array(data, models=reg.noise_models, noise=noise, params=params or None)}
            for c, data in enumerate(channels)]


def model_params(row: dict, reg: Registry) -> dict[str, float]:
    """The keyword arguments of the row's noise model: its parameters (notes, the text values,
    are not passed back)."""
    return {p: float(row[p]) for p in reg.get("noise", row["noise"]).params}


def make_plan(sample: np.ndarray, rows: list[dict], chain: list[dict], transform_names: Sequence[str] | None,
              denoiser: str, options: dict[str, Any], reg: Registry, *, rgb: bool = False) -> PlanePlan:
    """The plane plan: stabilize the sample per channel, settle where the transforms apply, scale sigma.

    ``options`` are the denoiser's resolved options; ``rgb`` whether the channels are colours
    (:func:`is_rgb`)."""
    channels = [ChannelNoise(r["noise"], model_params(r, reg)) for r in rows]
    has_c = len(channels) > 1 or sample.ndim == 4
    stabilized, sigmas, space = [], [], "input"
    masked = bool(not np.isfinite(sample).all())
    for c, ch in enumerate(channels):
        data = sample[..., c] if has_c else sample
        (datas,), (sig,), mask = to_stabilized([data], [ch], reg)
        masked |= mask is not None and bool(np.any(mask))
        stabilized.append(datas)
        sigmas.append(sig)
        if not np.array_equal(datas, data, equal_nan=True):
            space = "stabilized"
    if space == "stabilized":  # the noise model changed the data: fit the chain where it applies
        chain = fit_transforms(np.stack(stabilized, -1) if has_c else stabilized[0], transform_names, reg)
    sig_t, lows, highs = [], [], []
    for data, sig in zip(stabilized, sigmas):
        sig_t.append(float(sig * transform_slope(data, chain, reg)))
        t = apply_transforms(data, chain, reg)
        finite = t[np.isfinite(t)]
        lo, hi = np.quantile(finite, [0.001, 0.999]) if finite.size else (0.0, 1.0)
        lows.append(float(lo))
        highs.append(float(hi))
    lo, hi = min(lows), max(highs)
    if not hi > lo:
        hi = lo + 1.0
    return PlanePlan(channels, chain, space, sig_t, (lo, hi), denoiser, options, masked, rgb)


def plan_array(arr, axes: str, reg: Registry, *, noise: str = "auto", sigma: float | None = None,
               fixed: dict[str, float] | None = None, transforms: Sequence[str] | None = None,
               denoiser: str = "diffusion", options: dict[str, Any] | None = None,
               rgb: bool = False) -> tuple[list[dict], PlanePlan]:
    """Noise rows and plane plan of one array: normalize, characterize-noise and plan in one call.

    The decisions ``restoration run`` makes for an item, from the same sample; for in-memory use
    (the Python API, self-supervised adaptation). Arguments as for :func:`characterize_sample`
    and :func:`make_plan`.

    Returns
    -------
    rows : list of dict
        One noise row per channel, parameters in input units.
    plan : PlanePlan
        How every plane of the array is restored.
    """
    sample = sample_planes(arr, axes)
    chain = fit_transforms(sample, transforms, reg)
    rows = characterize_sample(sample, "c" in axes, reg, noise=noise, sigma=sigma, fixed=fixed)
    return rows, make_plan(sample, rows, chain, transforms, denoiser, options or {}, reg, rgb=rgb)
