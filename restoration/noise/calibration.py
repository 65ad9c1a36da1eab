"""Camera calibration a user gives (``--gain``, ``--read-noise``, ``--offset``, ``--dark``), as the
``poisson-gaussian`` parameters it fixes; :mod:`.camera` estimates the others given them."""

from __future__ import annotations

import math
import os

import numpy as np

from ..errors import InputError
from .estimate import planes_of


def dark_frame(data: np.ndarray) -> dict[str, float]:
    """Offset and read noise from dark frame(s) (no light reaching the sensor).

    One frame: its mean and spatial std. Several (a stack, frames over the leading axes): the mean
    over all pixels, and the read noise as the root mean square of each pixel's std over the
    frames, so a fixed pattern of per-pixel offsets is not counted as read noise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> stats = dark_frame(np.rint(rng.normal(100, 3, (8, 64, 64))))
    >>> round(stats["offset"]), round(stats["sigma"], 1), stats["frames"]
    (100, 3.0, 8)
    """
    planes = planes_of(np.asarray(data, dtype=np.float64))
    bad = int(planes.size - np.count_nonzero(np.isfinite(planes)))
    if bad:  # a hot or dead pixel flagged NaN would shift the calibration unseen: the user decides
        raise InputError(f"dark frame holds {bad} NaN or infinite values of {planes.size}; "
                         "a calibration needs every value finite")
    offset = float(np.mean(planes))
    if planes.shape[0] > 1:
        sigma = float(np.sqrt(np.mean(np.var(planes, axis=0, ddof=1))))
    else:
        sigma = float(np.std(planes))
    return {"offset": offset, "sigma": sigma, "frames": int(planes.shape[0])}


def calibration(*, gain: float | None = None, read_noise: float | None = None, offset: float | None = None,
                dark=None) -> dict[str, float]:
    """The camera parameters a user fixes, as ``poisson-gaussian`` parameters (data units).

    Parameters
    ----------
    gain : float, optional
        Data units (ADU) per photon, > 0.
    read_noise : float, optional
        Read noise std (ADU), >= 0: the model's ``sigma``.
    offset : float, optional
        Dark level (ADU).
    dark : str or array_like, optional
        Dark frame(s), a path (any input format; a stack = several frames) or an array: sets
        ``offset`` and ``sigma`` by :func:`dark_frame` (not together with ``offset`` or
        ``read_noise``).

    Returns
    -------
    dict
        Only the parameters given, keyed ``gain``, ``sigma``, ``offset``.

    Raises
    ------
    InputError
        A value out of range, or a parameter set twice.

    Examples
    --------
    >>> calibration(gain=2.0, read_noise=3.0)
    {'gain': 2.0, 'sigma': 3.0}
    """
    out: dict[str, float] = {}
    for option, key, value, low in (("--gain", "gain", gain, 0.0), ("--read-noise", "sigma", read_noise, 0.0),
                                    ("--offset", "offset", offset, -math.inf)):
        if value is None:
            continue
        value = float(value)
        if not math.isfinite(value) or value < low or (key == "gain" and value == 0):
            bound = {"gain": " > 0", "sigma": " >= 0", "offset": ""}[key]
            raise InputError(f"{option} must be a finite number{bound}, got {value}")
        out[key] = value
    if dark is not None:
        if "offset" in out or "sigma" in out:
            raise InputError("--dark sets the offset and read noise: do not also give --offset or --read-noise")
        try:
            stats = dark_frame(_read_dark(dark))
        except InputError as exc:
            if exc.path or not isinstance(dark, (str, os.PathLike)):
                raise
            raise InputError(f"--dark: {exc}", path=str(dark)) from None
        out.update(offset=stats["offset"], sigma=stats["sigma"])
    return out


def _read_dark(dark) -> np.ndarray:
    """A dark frame given as a path (read like any input: one item) or as an array."""
    if not isinstance(dark, (str, bytes)) and not hasattr(dark, "__fspath__"):
        return np.asarray(dark)
    from ..io import discover

    items = discover([str(dark)])
    if len(items) != 1:
        raise InputError(f"--dark must name one image or stack, found {len(items)} items", path=str(dark))
    return np.asarray(items[0].open())
