"""Non-local means (scikit-image): the classical baseline denoiser."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..types import Denoiser, Observation
from .common import fill_masked, per_channel_sigma


PATCH_SIZE = 5
PATCH_DISTANCE = 6


class NLMDenoiser(Denoiser):
    """scikit-image's non-local means with ``h = 0.8 sigma`` (its documented good default)."""

    name: ClassVar[str] = "nlm"

    def denoise(self, obs: Observation, *, rng: np.random.Generator, **options: Any) -> np.ndarray:
        """Non-local means of ``obs`` (masked pixels filled first), ``h = 0.8 sigma`` with the mean
        channel sigma; the channels of a (y, x, c) plane are filtered jointly.
        """
        from skimage.restoration import denoise_nl_means

        data = fill_masked(obs)
        sigma = float(np.mean(per_channel_sigma(obs)))
        channel_axis = -1 if data.ndim == 3 else None
        out = denoise_nl_means(data.astype(np.float64), h=0.8 * sigma, sigma=sigma, patch_size=PATCH_SIZE,
                               patch_distance=PATCH_DISTANCE, fast_mode=True, channel_axis=channel_axis)
        return out.astype(obs.data.dtype, copy=False)

    def context(self, **options: Any) -> int:
        """The search distance plus a patch: pixels a region needs beyond its core."""
        return PATCH_DISTANCE + PATCH_SIZE  # the search window plus a patch
