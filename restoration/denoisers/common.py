"""Helpers shared by denoisers."""

from __future__ import annotations

import numpy as np

from ..types import Observation


def per_channel_sigma(obs: Observation) -> np.ndarray:
    """``obs.sigma`` as one value per channel (1 for ``(y, x)`` data)."""
    channels = obs.data.shape[-1] if obs.data.ndim == 3 else 1
    sigma = np.broadcast_to(np.asarray(obs.sigma, dtype=np.float64).reshape(-1), (channels,))
    return np.array(sigma)


def fill_masked(obs: Observation) -> np.ndarray:
    """The data with masked (and non-finite) pixels replaced by a local median of their neighbours.

    Classical denoisers cannot reconstruct missing pixels themselves; this gives them a plausible
    start. The diffusion denoiser inpaints instead.
    """
    data = np.array(obs.data, dtype=np.float32)
    mask = ~np.isfinite(data)
    if obs.mask is not None:
        m = obs.mask if data.ndim == obs.mask.ndim else obs.mask[..., None]
        mask |= np.broadcast_to(m, data.shape)
    if not mask.any():
        return data
    from scipy import ndimage

    valid = np.where(mask, 0.0, data)
    weight = (~mask).astype(np.float32)
    size = 3
    while True:
        footprint = (size, size) + ((1,) if data.ndim == 3 else ())
        num = ndimage.uniform_filter(valid, footprint, mode="mirror")
        den = ndimage.uniform_filter(weight, footprint, mode="mirror")
        if (den[mask] > 0).all() or size > max(data.shape[:2]):
            break
        size = 2 * size + 1
    fill = np.divide(num, den, out=np.full_like(num, np.nanmean(data[~mask]) if (~mask).any() else 0.0),
                     where=den > 0)
    data[mask] = fill[mask]
    return data
