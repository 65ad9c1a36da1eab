"""Geometric self-ensemble: restore the 8 flips and rotations of a plane and average them.

The network was trained on randomly flipped and rotated patches, so each of the 8 views is an
estimate of its own; their mean has a lower error (the usual +0.1 to +0.2 dB for CNN denoisers) at
8 times the cost. Random numbers are drawn in the plane's own frame and carried into each view, so
banded and whole-plane runs still agree.
"""

from __future__ import annotations

import numpy as np
import torch

from .sampler import NoiseField, Restored, restore
from .tiling import TiledNetwork

VIEWS = 8


def view(t: torch.Tensor, k: int) -> torch.Tensor:
    """View ``k`` (0..7) of ``(..., H, W)``: ``k % 4`` quarter turns, then a left-right flip if ``k >= 4``."""
    t = torch.rot90(t, k % 4, dims=(-2, -1))
    return torch.flip(t, dims=(-1,)) if k >= 4 else t


def unview(t: torch.Tensor, k: int) -> torch.Tensor:
    """Inverse of :func:`view`."""
    if k >= 4:
        t = torch.flip(t, dims=(-1,))
    return torch.rot90(t, -(k % 4), dims=(-2, -1))


class _ViewedNoise:
    """A :class:`NoiseField` seen through view ``k``: drawn in the plane's frame, then turned."""

    def __init__(self, noise: NoiseField, k: int):
        self.noise, self.k = noise, k

    def __call__(self, shape) -> torch.Tensor:
        n, c, h, w = shape
        return view(self.noise((n, c, w, h) if self.k % 2 else (n, c, h, w)), self.k)


def restore_ensemble(net: TiledNetwork, y: torch.Tensor, sigma: np.ndarray, *, mask: torch.Tensor | None = None,
                     noise: NoiseField, **options) -> Restored:
    """:func:`restoration.diffusion.sampler.restore` averaged over the 8 views of ``y``.

    Each view draws its own random numbers (the field's later draws); a std, when samples are
    drawn, is the root mean square of the views' stds.
    """
    mean = var = None
    for k in range(VIEWS):
        out = restore(net, view(y, k), sigma, mask=None if mask is None else view(mask, k),
                      noise=_ViewedNoise(noise, k), **options)
        m = unview(out.mean, k)
        mean = m if mean is None else mean.add_(m)
        if out.std is not None:
            v = unview(out.std, k) ** 2
            var = v if var is None else var.add_(v)
    mean /= VIEWS
    return Restored(mean, None if var is None else torch.sqrt(var / VIEWS))
