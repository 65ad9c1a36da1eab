"""The in-memory Python API (CONTRACT): ``denoise`` and ``characterize``, no Prefect, no files."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .errors import InputError
from .noise.calibration import calibration
from .options import RunOptions, denoiser_settings
from .planning import (characterize_sample, context_rows, plan_array, plane_indices, read_plane, sample_planes,
                       write_plane)
from .planes import (average_parts, check_planes, orientations, part_dtype, restore_slab, slab_axis, volume_axes,
                     volume_indices, volume_key)
from .plugins import registry
from .restore import cast_like, output_dtype as restored_dtype, restore_plane
from .store.ome_metadata import is_rgb

NOISE_COLUMNS = ["name", "channel", "noise", "score", "clipped_fraction", "missing_fraction"]


def _axes_for(data: np.ndarray, axes: str | None) -> str:
    from .io import infer_axes

    if axes is not None:
        if len(axes) != data.ndim or set(axes) - set("tczyx") or len(set(axes)) != len(axes) or not {"y", "x"} <= set(axes):
            raise InputError(f"axes {axes!r} do not fit data of shape {data.shape} (one of t c z y x per dimension, with y and x)")
        return axes
    return infer_axes(data.shape, format="npy")


def _check_data(data) -> np.ndarray:
    arr = np.asarray(data)
    if arr.dtype.kind not in "uif":
        raise InputError(f"unsupported dtype {arr.dtype}; convert to a real numeric type")
    if arr.ndim < 2 or arr.size == 0:
        raise InputError(f"need at least a 2-D array, got shape {arr.shape}")
    return arr


def noise_frame(rows: list[dict], reg=None) -> pd.DataFrame:
    """Rows as noise.csv holds them: fixed columns, one per parameter name present, then one per
    note (a model's text value, e.g. ``offset_basis``)."""
    reg = reg or registry()
    params: list[str] = []
    for r in rows:
        for p in reg.get("noise", r["noise"]).params:
            if p not in params:
                params.append(p)
    notes = list(dict.fromkeys(k for r in rows for k, v in r.items()
                               if isinstance(v, str) and k not in NOISE_COLUMNS + params))
    frame = pd.DataFrame(rows)
    for col in NOISE_COLUMNS + params:
        if col not in frame:
            frame[col] = np.nan
    return frame[NOISE_COLUMNS + params + notes]


def characterize(data, *, axes: str | None = None, noise: str = "auto", sigma: float | None = None,
                 gain: float | None = None, read_noise: float | None = None, offset: float | None = None,
                 dark=None, name: str = "data") -> pd.DataFrame:
    """Characterize the noise of an array: one row per channel, as in noise.csv.

    Parameters
    ----------
    data : array_like
        2-D image, RGB ``(y, x, c)``, stack or time series (see the axes rules).
    axes : str, optional
        OME letters per dimension (``"zyx"``, ``"yxc"``...); inferred when omitted.
    noise, sigma
        As for :func:`denoise`.
    gain, read_noise, offset, dark
        Camera calibration, as for :func:`denoise`.

    Returns
    -------
    pandas.DataFrame
        Columns ``name, channel, noise, score, clipped_fraction, missing_fraction`` then each
        parameter (``sigma``, ``gain``, ``offset``, ``amount`` ...), in the data's own units, then
        the models' notes (``offset_basis`` for ``poisson-gaussian``).

    Examples
    --------
    >>> import numpy as np, restoration
    >>> rng = np.random.default_rng(0)
    >>> noisy = np.tile(np.linspace(0, 1, 128), (128, 1)) + rng.normal(0, 0.1, (128, 128))
    >>> row = restoration.characterize(noisy).iloc[0]
    >>> row["noise"], round(float(row["sigma"]), 2)
    ('gaussian', 0.1)
    """
    arr = _check_data(data)
    ax = _axes_for(arr, axes)
    reg = registry()
    fixed = calibration(gain=gain, read_noise=read_noise, offset=offset, dark=dark)
    rows = characterize_sample(sample_planes(arr, ax), "c" in ax, reg, noise=noise, sigma=sigma, fixed=fixed)
    return noise_frame([{"name": name, **r} for r in rows], reg)


def _prepare(data, *, axes, noise, sigma, transforms, denoiser, seed, return_std, gain, read_noise, offset, dark,
             output_dtype, planes, denoiser_options):
    """The checked array, its axes, the registry, the denoiser and the plane plan of :func:`denoise`."""
    arr = _check_data(data)
    ax = _axes_for(arr, axes)
    restored_dtype(arr.dtype, output_dtype)
    check_planes(planes, ax, arr.shape)  # before the noise is characterized
    reg = registry()
    options = RunOptions(noise=noise, sigma=sigma, transforms=tuple(transforms or ()), denoiser=denoiser, seed=seed,
                         axes=axes, output_dtype=output_dtype, planes=planes, denoiser_options=denoiser_options)
    den, resolved = denoiser_settings(options, reg)
    if return_std and not den.returns_std(**resolved):  # else the std would be all zeros
        raise InputError(f"return_std=True: the {den.name} denoiser reports no std with these options "
                         f"({', '.join(f'{k}={v!r}' for k, v in resolved.items()) or 'none'})")
    # One plan for every orientation: made from the yx planes, pointwise, so it holds in zx and zy.
    _, plan = plan_array(arr, ax, reg, noise=noise, sigma=sigma, transforms=transforms, denoiser=den.name,
                         options=resolved, rgb=is_rgb("npy", None, ax, arr.shape),
                         fixed=calibration(gain=gain, read_noise=read_noise, offset=offset, dark=dark))
    return arr, ax, reg, den, plan


def denoise(data, *, noise: str = "auto", sigma: float | None = None, transforms: Sequence[str] | None = None,
            denoiser: str | None = None, seed: int = 0, return_std: bool = False, axes: str | None = None,
            gain: float | None = None, read_noise: float | None = None, offset: float | None = None, dark=None,
            output_dtype: str = "auto", planes: str = "yx", progress: Callable[[int, int], None] | None = None,
            **denoiser_options):
    """Restore a noisy array; returns an array of the same shape, float32 for integer data.

    Integer (detector count) data is restored to float32 by default: rounding back to whole
    counts would add the quantization error the denoiser removed. Float data keeps its dtype.
    The arguments are those of :class:`~restoration.options.RunOptions` (what ``restoration run``
    takes), less the files.

    Parameters
    ----------
    data : array_like
        Noisy data: 2-D, RGB, 3-D stack or more (leading axes are restored plane by plane).
    noise : str
        ``"auto"`` (select by likelihood) or a registered noise model name.
    sigma : float, optional
        Noise std in the data's own units (fixes the model's ``sigma``; with ``noise="auto"``
        means Gaussian noise).
    transforms : list of str, optional
        Transform chain (default ``["percentile"]``; ``["none"]`` disables it).
    denoiser : str, optional
        Registered denoiser (default ``"diffusion"``).
    seed : int
        Seed of every random draw (per plane generators derive from it).
    return_std : bool
        Also return the per-pixel std the denoiser reports, in the data's units: needs options
        under which it reports one (``diffusion`` with ``samples > 1``).
    axes : str, optional
        OME letters per dimension; inferred when omitted.
    gain, read_noise, offset : float, optional
        Camera calibration in the data's units (ADU per photon, ADU, ADU): fixes these
        ``poisson-gaussian`` parameters (the model then used with ``noise="auto"``); the others
        are estimated given them.
    dark : array_like or str, optional
        Dark frame(s) (an array or a file path; a stack = several frames): offset = their mean,
        read noise = their std (per pixel over frames when there are several).
    output_dtype : str
        ``"auto"`` (float32 for integer data, else the input's dtype), ``"input"`` (the input's
        dtype, integers rounded and clipped) or ``"float32"``.
    planes : str
        ``"yx"`` (default): a stack is restored plane by plane in yx. ``"yx,zx,zy"``: a z-stack
        is also restored as zx planes and as zy planes with the same 2-D model, and the three
        restorations are averaged (about 3 times the time; for near-isotropic voxels: measured
        above BM4D in ``benchmarks/results/microscopy.md``). The noise, transforms and value
        range are decided once, from the yx planes; the zx and zy planes of z-volume ``v`` draw
        from ``default_rng([seed, 1, v * ny + y])`` and ``default_rng([seed, 2, v * nx + x])``.
        Each z-volume of a longer series (``tzyx``) is restored on its own; the std with
        ``return_std`` is the mean of the three orientations' stds.
    progress : callable, optional
        Called as ``progress(done, total)`` after each plane is restored (``total`` planes, of
        every orientation), and with a fractional ``done`` within a yx plane when the denoiser
        reports its progress (:attr:`~restoration.types.Observation.progress`). An exception it
        raises stops the restoration there (how a GUI cancels).
    **denoiser_options
        The denoiser's own options (its :attr:`~restoration.types.Denoiser.options`; ``restoration
        plugins`` lists them). For ``diffusion``: ``method`` (``"mmse"``, ``"ddim"``,
        ``"posterior"``), ``steps``, ``samples`` (posterior samples to average), ``uncertainty``
        (the std with ``samples > 1``: ``"calibrated"``, an error bar, or ``"spread"``, the
        samples' std as drawn), ``model`` (a
        model file), ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``), ``colour`` (RGB data restored
        ``"joint"``-ly in an opponent colour space or ``"per-channel"``; ``"auto"``: joint when
        the channels' noise is comparable), ``ensemble`` (average the 8 flips and rotations:
        higher PSNR for 8 times the time).

    Raises
    ------
    InputError
        Bad data, options or files, in one line; ``return_std=True`` with options under which the
        denoiser reports no std; ``planes="yx,zx,zy"`` without a z axis longer than 1.

    Examples
    --------
    >>> import numpy as np, restoration
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    >>> noisy = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)
    >>> out = restoration.denoise(noisy, sigma=0.1, denoiser="nlm")
    >>> out.shape == noisy.shape and out.dtype == noisy.dtype
    True
    >>> bool(np.abs(out - clean).mean() < np.abs(noisy - clean).mean())
    True
    """
    arr, ax, reg, den, plan = _prepare(data, axes=axes, noise=noise, sigma=sigma, transforms=transforms,
                                       denoiser=denoiser, seed=seed, return_std=return_std, gain=gain,
                                       read_noise=read_noise, offset=offset, dark=dark, output_dtype=output_dtype,
                                       planes=planes, denoiser_options=denoiser_options)
    out_dtype = restored_dtype(arr.dtype, output_dtype)
    orients = orientations(planes)
    # With several orientations each is kept unrounded (part_dtype) until they are averaged.
    dtype = out_dtype if len(orients) == 1 else part_dtype(out_dtype)
    out = np.empty(arr.shape, dtype=dtype)
    std_out = np.zeros(arr.shape, dtype=np.float32) if return_std else None
    indices = plane_indices(ax, arr.shape)
    volumes = volume_indices(ax, arr.shape)
    total = len(indices) + sum(len(volumes) * arr.shape[ax.index(slab_axis(o))] for o in orients[1:])
    for i, index in enumerate(indices):
        rng = np.random.default_rng([seed, i])
        within = (lambda share, i=i: progress(i + share, total)) if progress else None
        restored, std = restore_plane(read_plane(arr, ax, index), plan, reg, rng, progress=within)
        write_plane(out, ax, index, cast_like(restored, out.dtype))
        if return_std:
            write_plane(std_out, ax, index, (std if std is not None else np.zeros_like(restored)).astype(np.float32))
        if progress:
            progress(i + 1, total)
    if len(orients) == 1:
        return (out, std_out) if return_std else out
    parts, stds, done = [out], [std_out], len(indices)
    vaxes = volume_axes(ax)
    for o in orients[1:]:
        part = np.empty(arr.shape, dtype=dtype)
        std_part = np.zeros(arr.shape, dtype=np.float32) if return_std else None
        n = arr.shape[ax.index(slab_axis(o))]
        for v, vindex in enumerate(volumes):
            key = volume_key(ax, vindex)
            step = (lambda j, base=done: progress(base + j, total)) if progress else None
            part[key], std = restore_slab(arr[key], vaxes, o, plan, reg, seed=seed, first=v * n, dtype=dtype,
                                          want_std=return_std, progress=step)
            if return_std:
                std_part[key] = std
            done += n
        parts.append(part)
        stds.append(std_part)
    out = average_parts(parts, out_dtype)
    return (out, average_parts(stds, np.float32)) if return_std else out


def denoise_plane(data, plane: int = 0, *, rows: tuple[int, int] | None = None,
                  cols: tuple[int, int] | None = None, noise: str = "auto",
                  sigma: float | None = None, transforms: Sequence[str] | None = None, denoiser: str | None = None,
                  seed: int = 0, return_std: bool = False, axes: str | None = None, gain: float | None = None,
                  read_noise: float | None = None, offset: float | None = None, dark=None, output_dtype: str = "auto",
                  progress: Callable[[float], None] | None = None, **denoiser_options):
    """Restore one yx plane of ``data``, or a region of it, as :func:`denoise` restores it there.

    A preview: the noise, transforms and value range are decided from the whole array, the plane
    draws from its own generator and a region is read with the denoiser's context around it, so
    the result is the same plane (region) of ``denoise(data, ...)`` with the same arguments:
    exactly for a band of rows of a denoiser without a tiling (``nlm``), to float rounding with
    the diffusion model (its tiles fall elsewhere). A region narrower than the plane (``cols``)
    is the same for deterministic methods (``mmse``, ``ddim``); a sampling method draws its
    noise by row across the width read, so there it is another draw of the same posterior.

    Parameters
    ----------
    data : array_like
        As for :func:`denoise`.
    plane : int
        Which yx plane, counted over the leading axes in order (0 for 2-D data).
    rows : (int, int), optional
        First and end row of the band to restore (default: the whole plane).
    cols : (int, int), optional
        First and end column of the region to restore (default: the whole width).
    progress : callable, optional
        Called with the share of the plane done (0 to 1) when the denoiser reports it.
    noise, sigma, transforms, denoiser, seed, return_std, axes, gain, read_noise, offset, dark, output_dtype, **denoiser_options
        As for :func:`denoise` (the planes are always yx).

    Returns
    -------
    ndarray or (ndarray, ndarray)
        The ``(y, x)`` or ``(y, x, c)`` region restored (and its std with ``return_std``).

    Raises
    ------
    InputError
        As :func:`denoise`; a plane, rows or columns outside the data.

    Examples
    --------
    >>> import numpy as np, restoration
    >>> rng = np.random.default_rng(0)
    >>> stack = rng.normal(0.5, 0.1, (3, 64, 64)).astype(np.float32)
    >>> whole = restoration.denoise(stack, sigma=0.1, denoiser="nlm")
    >>> band = restoration.denoise_plane(stack, 1, rows=(16, 40), sigma=0.1, denoiser="nlm")
    >>> bool(np.array_equal(band, whole[1, 16:40]))
    True
    >>> region = restoration.denoise_plane(stack, 1, rows=(16, 40), cols=(8, 30), sigma=0.1, denoiser="nlm")
    >>> bool(np.array_equal(region, whole[1, 16:40, 8:30]))
    True
    """
    arr, ax, reg, den, plan = _prepare(data, axes=axes, noise=noise, sigma=sigma, transforms=transforms,
                                       denoiser=denoiser, seed=seed, return_std=return_std, gain=gain,
                                       read_noise=read_noise, offset=offset, dark=dark, output_dtype=output_dtype,
                                       planes="yx", denoiser_options=denoiser_options)
    indices = plane_indices(ax, arr.shape)
    if not 0 <= plane < len(indices):
        raise InputError(f"plane {plane} is outside the data's {len(indices)} planes")
    margin, grid = den.context(**plan.options, masked=plan.masked), den.grid(**plan.options)
    reads, core = [], []
    for span, axis, what in ((rows, "y", "rows"), (cols, "x", "columns")):
        size = arr.shape[ax.index(axis)]
        a, b = span if span is not None else (0, size)
        if not 0 <= a < b <= size:
            raise InputError(f"{what} {a}:{b} are outside the plane's {size} {what}")
        lo, hi = context_rows(a, b, size, margin, grid) if span is not None else (0, size)
        reads.append(slice(lo, hi))
        core.append(slice(a - lo, b - lo))
    core = tuple(core)
    rng = np.random.default_rng([seed, plane])
    restored, std = restore_plane(read_plane(arr, ax, indices[plane], *reads), plan, reg, rng,
                                  origin=reads[0].start, progress=progress)
    out = cast_like(restored[core], restored_dtype(arr.dtype, output_dtype))
    if not return_std:
        return out
    return out, (std[core] if std is not None else np.zeros_like(restored[core])).astype(np.float32)


__all__ = ["characterize", "denoise", "denoise_plane"]
