"""The exported network: the U-Net's one-step MMSE denoiser at a noise level fixed at export.

Besides torch it needs only the U-Net: the package's architecture file is this module with
:mod:`restoration.diffusion.unet` written in place of its import
(:func:`restoration.export.bioimageio.architecture_source`), so keep it that way.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..diffusion.unet import UNet, UNetConfig


class FixedSigmaDenoiser(nn.Module):
    """``forward(x)``: Tweedie's estimate E[x_0 | x] of images ``x`` (n, C, H, W) with noise of std ``sigma``.

    ``x`` and the result are in the image units of the project's default intensity transform: the
    data's 0.1 and 99.9 percentiles at 0 and 1. Height and width must be multiples of the U-Net's
    downsampling factor. This is the project's ``mmse`` method (one network call, no tiling).

    Parameters
    ----------
    sigma : float
        Gaussian noise std, in those image units.
    unet : dict
        The U-Net's config, :meth:`UNetConfig.to_dict`.
    """

    def __init__(self, sigma: float, unet: dict):
        super().__init__()
        self.net = UNet(UNetConfig.from_dict(unet))
        self.sigma = 2.0 * float(sigma)  # model units: data scaled to [-1, 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The restored images, ``x``'s shape, in ``x``'s units."""
        z = 2.0 * x - 1.0
        s = self.sigma
        out = self.net(z, torch.full((x.shape[0],), s, dtype=x.dtype, device=x.device))
        if self.net.config.prediction == "eps":
            x0 = z - s * out
        else:  # v: x_0 = alpha x_t - s_t v, with x_t = alpha z, alpha = 1/sqrt(1 + s^2), s_t = s alpha
            alpha = 1.0 / math.sqrt(1.0 + s * s)
            x0 = alpha * alpha * z - s * alpha * out
        return (x0 + 1.0) / 2.0
