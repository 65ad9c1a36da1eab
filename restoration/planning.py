"""Per-item decisions made once from a sample: transform states, noise per channel, the plane plan.

These are the normalize and characterize-noise stages of the pipeline, shared by the Prefect flow
and the in-memory API.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .errors import InputError
from .plugins import Registry
from .restore import ChannelNoise, PlanePlan, apply_transforms, to_stabilized, transform_slope

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
    :func:`restoration.planes.slab_regions`."""
    height = int(shape[axes.index("y")])
    width = int(np.prod([n for n, a in zip(shape, axes) if a in "xc"]))
    band = height if height * width <= max_pixels else max(align, max_pixels // max(width, 1) // align * align)
    return [(i, y0, min(y0 + band, height)) for i in range(len(plane_indices(axes, shape)))
            for y0 in range(0, height, band)]


def context_rows(y0: int, y1: int, height: int, margin: int, grid: int) -> tuple[int, int]:
    """The rows to read to restore rows ``y0:y1`` of a plane ``height`` rows high (or columns of
    one as wide) as in a whole-plane run: ``margin`` rows of context each side, the read starting and ending on the
    denoiser's ``grid`` counted from either edge of the plane (so the band, and any flip of it,
    is seen as in the whole plane).

    Examples
    --------
    >>> context_rows(100, 200, 512, 20, 8)
    (80, 224)
    """
    lo = max(0, y0 - margin) // grid * grid
    hi = height - (height - min(height, y1 + margin)) // grid * grid
    return lo, hi


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


def measure_value_range(data: np.ndarray) -> tuple[float, float]:
    """The 0.1 and 99.9 % quantiles of ``data``'s finite values ((0, 1) with none): the range a
    plane plan maps onto the denoiser's (:attr:`~restoration.types.Observation.value_range`).

    Examples
    --------
    >>> measure_value_range(np.arange(1001.0)), measure_value_range(np.full(3, np.nan))
    ((1.0, 999.0), (0.0, 1.0))
    """
    finite = data[np.isfinite(data)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = np.quantile(finite, [0.001, 0.999])
    return float(lo), float(hi)


def make_plan(sample: np.ndarray, rows: list[dict], chain: list[dict], transform_names: Sequence[str] | None,
              denoiser: str, options: dict[str, Any], reg: Registry, *, rgb: bool = False) -> PlanePlan:
    """The plane plan: stabilize the sample per channel, settle where the transforms apply, scale sigma.

    ``options`` are the denoiser's resolved options; ``rgb`` whether the channels are colours
    (:func:`restoration.store.ome_metadata.is_rgb`)."""
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
        lo, hi = measure_value_range(apply_transforms(data, chain, reg))
        lows.append(lo)
        highs.append(hi)
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
