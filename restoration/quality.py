"""Quality figures: PSNR/SSIM against a reference, streamed plane by plane, and no-reference ones."""

from __future__ import annotations

import numpy as np

from .planning import plane_indices, read_plane


def data_range(dtype: np.dtype, reference_sample: np.ndarray) -> float:
    """The integer dtype's range, else the reference's max - min (the contract's rule)."""
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(info.max) - float(info.min)
    finite = reference_sample[np.isfinite(reference_sample)]
    return float(finite.max() - finite.min()) if finite.size else 1.0


def compare(restored, reference, axes: str, dtype) -> dict[str, float]:
    """PSNR over all pixels and mean per-plane SSIM (Wang et al.'s Gaussian-window settings).

    Parameters
    ----------
    restored, reference : array-like
        Same shape; numpy or zarr arrays (read one plane at a time).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.tile(np.linspace(0, 1, 32), (32, 1))
    >>> round(compare(ref + 0.01, ref, "yx", np.float64)["psnr"], 1)
    40.0
    """
    from skimage.metrics import structural_similarity

    indices = plane_indices(axes, reference.shape)
    lo, hi = np.inf, -np.inf
    if np.dtype(dtype).kind not in "iu":
        for index in indices:
            r = read_plane(reference, axes, index).astype(np.float64)
            lo, hi = min(lo, np.nanmin(r)), max(hi, np.nanmax(r))
        rng = float(hi - lo) or 1.0
    else:
        rng = data_range(dtype, np.zeros(1))
    sq, n, ssims = 0.0, 0, []
    for index in indices:
        r = read_plane(reference, axes, index).astype(np.float64)
        x = read_plane(restored, axes, index).astype(np.float64)
        ok = np.isfinite(r) & np.isfinite(x)
        sq += float(np.sum((x[ok] - r[ok]) ** 2))
        n += int(ok.sum())
        if min(r.shape[:2]) >= 7:
            ssims.append(structural_similarity(np.nan_to_num(r), np.nan_to_num(x), data_range=rng, gaussian_weights=True,
                                               sigma=1.5, use_sample_covariance=False,
                                               channel_axis=-1 if r.ndim == 3 else None))
    mse = sq / max(n, 1)
    psnr = float("inf") if mse == 0 else float(10 * np.log10(rng**2 / mse))
    return {"psnr": psnr, "ssim": float(np.mean(ssims)) if ssims else float("nan")}


def residual_sigma(sample: np.ndarray) -> float:
    """Noise left in the output (wavelet MAD estimate), in its units: low means well denoised."""
    from skimage.restoration import estimate_sigma

    planes = sample.reshape(-1, *sample.shape[-3:]) if sample.ndim >= 4 else sample.reshape(-1, *sample.shape[-2:])
    values = []
    for p in planes:
        p = np.nan_to_num(p.astype(np.float64))
        values.append(float(np.mean(estimate_sigma(p, channel_axis=-1 if p.ndim == 3 else None))))
    return float(np.mean(values))
