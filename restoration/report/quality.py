"""Quality figures: PSNR/SSIM against a reference, streamed plane by plane, and no-reference ones."""

from __future__ import annotations

import numpy as np

from ..planning import plane_indices, read_plane


def data_range(dtype: np.dtype, reference_sample: np.ndarray) -> float:
    """The integer dtype's range, else the reference's max - min (the contract's rule)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.max) - float(info.min)
    finite = reference_sample[np.isfinite(reference_sample)]
    return float(finite.max() - finite.min()) if finite.size else 1.0


#: SSIM window half-width of Wang et al.'s settings in scikit-image (Gaussian sigma 1.5, truncate
#: 3.5): skimage ignores this border, and a band needs this many rows of context to be exact.
SSIM_PAD = 5
SSIM_SETTINGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def compare(restored, reference, axes: str, dtype, band_pixels: int = 1 << 21) -> dict[str, float]:
    """PSNR over all pixels and mean per-plane SSIM (Wang et al.'s Gaussian-window settings).

    Planes are read in bands of rows (``band_pixels`` at most, plus SSIM context), so memory does
    not grow with the plane; the figures equal scikit-image's on whole planes.

    Parameters
    ----------
    restored, reference : array-like
        Same shape; numpy or zarr arrays.
    axes : str
        Axis letters of both arrays.
    dtype : numpy.dtype
        The input's dtype: integer types set the data range, else the reference's span does.
    band_pixels : int
        Values read at once per array.

    Returns
    -------
    dict
        ``psnr`` (dB) and ``ssim`` (NaN for planes smaller than the 11x11 window), over the pixels
        where both arrays are finite (SSIM: the windows holding none other), and ``left_out``: the
        reference's non-finite values, which no figure counts.

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.tile(np.linspace(0, 1, 32), (32, 1))
    >>> round(compare(ref + 0.01, ref, "yx", np.float64)["psnr"], 1)
    40.0
    """
    from scipy import ndimage
    from skimage.metrics import structural_similarity

    indices = plane_indices(axes, reference.shape)
    height, width = reference.shape[axes.index("y")], reference.shape[axes.index("x")]
    values_per_row = width * (reference.shape[axes.index("c")] if "c" in axes else 1)
    step = max(4 * SSIM_PAD, band_pixels // values_per_row)
    bands = [(y, min(y + step, height)) for y in range(0, height, step)]

    def read(arr, index, lo, hi):
        return read_plane(arr, axes, index, slice(lo, hi)).astype(np.float64)

    if np.dtype(dtype).kind in "iu":
        rng = data_range(dtype, np.zeros(1))
    else:
        lo, hi = np.inf, -np.inf
        for index in indices:
            for y0, y1 in bands:
                r = read(reference, index, y0, y1)
                r = r[np.isfinite(r)]  # an inf would make the range, and so the psnr, meaningless
                if r.size:
                    lo, hi = min(lo, r.min()), max(hi, r.max())
        rng = float(hi - lo) if np.isfinite(hi - lo) and hi > lo else 1.0
    with_ssim = min(height, width) >= 2 * SSIM_PAD + 1
    sq, n, ssims, left_out = 0.0, 0, [], 0
    for index in indices:
        s_sum, s_n = 0.0, 0
        for y0, y1 in bands:
            # Context rows above and below (at least one full window) make each band's SSIM exact.
            lo = max(0, min(y0 - SSIM_PAD, y1 - 2 * SSIM_PAD - 1))
            hi = min(height, y1 + SSIM_PAD)
            r, x = read(reference, index, lo, hi), read(restored, index, lo, hi)
            rc, xc = r[y0 - lo:y1 - lo], x[y0 - lo:y1 - lo]
            ok = np.isfinite(rc) & np.isfinite(xc)
            sq += float(np.sum((xc[ok] - rc[ok]) ** 2))
            n += int(ok.sum())
            left_out += int((~np.isfinite(rc)).sum())
            keep = slice(max(y0, SSIM_PAD) - lo, min(y1, height - SSIM_PAD) - lo)
            if with_ssim and keep.stop > keep.start:
                _, smap = structural_similarity(np.nan_to_num(r), np.nan_to_num(x), data_range=rng, full=True,
                                                channel_axis=-1 if r.ndim == 3 else None, **SSIM_SETTINGS)
                finite = np.isfinite(r) & np.isfinite(x)
                finite = finite.all(axis=-1) if finite.ndim == 3 else finite
                if not finite.all():  # a window that holds a non-finite value measures nothing
                    finite = ndimage.minimum_filter(finite, size=2 * SSIM_PAD + 1, mode="nearest")
                    smap = np.where(finite[..., None] if smap.ndim == 3 else finite, smap, np.nan)
                inner = smap[keep, SSIM_PAD:width - SSIM_PAD]
                s_sum += float(np.nansum(inner, dtype=np.float64))
                s_n += int(np.isfinite(inner).sum())
        if s_n:
            ssims.append(s_sum / s_n)
    mse = sq / max(n, 1)
    psnr = float("inf") if mse == 0 else float(10 * np.log10(rng**2 / mse))
    return {"psnr": psnr, "ssim": float(np.mean(ssims)) if ssims else float("nan"), "left_out": left_out}


def residual_sigma(sample: np.ndarray) -> float:
    """The noise left in the output: a wavelet estimate of its Gaussian noise σ, in its units.

    quality.csv's ``residual_sigma`` column and the report's "Noise left in output (σ est.)". It is
    computed on the *restored* data alone (scikit-image's ``estimate_sigma``: the median absolute
    deviation of the finest diagonal wavelet coefficients, Donoho & Johnstone), per plane, channels
    averaged, then averaged over the planes given (the host passes up to 4 planes' central crops).
    Low means little noise left; it needs no reference, but removing fine texture lowers it too. It
    is not a statistic of noisy − restored, which holds the noise that was removed.

    Parameters
    ----------
    sample : numpy.ndarray
        ``(k, y, x)`` or ``(k, y, x, c)`` planes (a single ``(y, x)`` plane works too).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flat = 0.5 + 0.1 * rng.standard_normal((1, 256, 256))
    >>> round(residual_sigma(flat), 2)
    0.1
    """
    from skimage.restoration import estimate_sigma

    planes = sample.reshape(-1, *sample.shape[-3:]) if sample.ndim >= 4 else sample.reshape(-1, *sample.shape[-2:])
    values = []
    for p in planes:
        p = np.nan_to_num(p.astype(np.float64))
        values.append(float(np.mean(estimate_sigma(p, channel_axis=-1 if p.ndim == 3 else None))))
    return float(np.mean(values))
