"""Evaluate the network over a plane of any size in overlapping tiles, without seams.

Every tile window extends its core by a margin of at least the network's receptive field, starts on
a multiple of the U-Net's downsampling factor and is cropped back to its core. Since the network
has no layer with spatial statistics, each core pixel then sees exactly what it would see in a
whole-plane pass: tiled and whole results agree to float rounding.
"""

from __future__ import annotations

from typing import Callable

from functools import lru_cache

import numpy as np
import torch
from torch.nn import functional as F

from .model import DiffusionModel


def receptive_radius(model: DiffusionModel) -> int:
    """Pixels from which an output pixel can be influenced, measured once per architecture."""
    return _radius(model.config.channels, tuple(model.config.widths), tuple(model.config.blocks),
                   model.config.emb_dim, model.config.prediction, id(model))


@lru_cache(maxsize=16)
def _radius(channels, widths, blocks, emb_dim, prediction, model_id) -> int:
    from .unet import UNet, UNetConfig

    # Random weights: trained ones could have exact zeros that hide part of the field.
    gen = torch.Generator().manual_seed(0)
    net = UNet(UNetConfig(channels=channels, widths=widths, blocks=blocks, emb_dim=emb_dim, prediction=prediction))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    size = 16 * net.config.multiple
    while True:  # grow the probe until the field fits inside it
        x = torch.zeros(1, channels, size, size, requires_grad=True)
        net(x, torch.tensor([0.1]))[0, :, size // 2, size // 2].sum().backward()
        ys, xs = np.nonzero(x.grad[0].abs().sum(0).numpy())
        radius = int(max(size // 2 - ys.min(), ys.max() - size // 2, size // 2 - xs.min(), xs.max() - size // 2))
        if radius < size // 2 - 1:
            return radius
        size *= 2


class TiledNetwork:
    """``x0_eps(z, sigma)`` over planes of any size: padding, tiling, batching, device, OOM back-off.

    Parameters
    ----------
    model : DiffusionModel
    device : torch.device
    tile : int
        Core tile size in pixels (rounded up to the downsampling factor). Planes that fit in one
        window are processed whole.
    batch : int, optional
        Tiles per network call (default 4 on CUDA, 1 on the CPU); halved and retried on CUDA
        out-of-memory.

    On CUDA the network runs under bf16 autocast, its weights and inputs channels-last (the
    layout cuDNN's fast kernels want; the model is converted in place).
    """

    def __init__(self, model: DiffusionModel, device: torch.device, *, tile: int = 768, batch: int | None = None):
        self.model = model
        self.device = device
        m = model.config.multiple
        self.multiple = m
        self.margin = -(-receptive_radius(model) // m) * m
        self.tile = max(m, -(-int(tile) // m) * m)
        self.batch = max(1, int(batch or (4 if device.type == "cuda" else 1)))
        self.autocast = device.type == "cuda"
        #: Called with the share of one :meth:`x0_eps` call just done, after each batch of tiles
        #: (progress bars); None: nothing is called.
        self.on_tiles: Callable[[float], None] | None = None
        if self.autocast:
            model.to(memory_format=torch.channels_last)

    def _windows(self, size: int) -> list[tuple[int, int, int, int]]:
        """(window start, window end, core start, core end) along one axis of a padded plane."""
        # As many cores as tiles of `tile` need, of equal size: a ragged last core would cost a
        # whole window (2192 rows: 5 windows of 584 rather than 656).
        if size <= self.tile + 2 * self.margin:
            return [(0, size, 0, size)]
        m = self.multiple
        n = -(-size // self.tile)
        step = -(-(-(-size // n)) // m) * m
        win = min(size, step + 2 * self.margin)
        out = []
        for core in range(0, size, step):
            core_end = min(core + step, size)
            start = min(max(core - self.margin, 0), size - win)
            out.append((start, start + win, core, core_end))
        return out

    def _run(self, z: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            x0, eps = self.model.predict(z.to(self.device).contiguous(memory_format=torch.channels_last),
                                         sigma.to(self.device))
        # Back where the input came from: a plane already on the GPU never makes a round trip.
        return x0.float().to(z.device), eps.float().to(z.device)

    def x0_eps(self, z: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Network predictions for ``z`` of shape (n, C, H, W) with per-image ``sigma`` (n,), on ``z``'s device."""
        n, c, h, w = z.shape
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        # Reflect padding needs the pad to be smaller than the plane; tiny planes replicate.
        mode = "reflect" if ph < h and pw < w else "replicate"
        zp = F.pad(z, (0, pw, 0, ph), mode=mode) if (ph or pw) else z
        H, W = zp.shape[-2:]
        tiles = [(img, ys, xs) for img in range(n) for ys in self._windows(H) for xs in self._windows(W)]
        x0 = torch.empty_like(zp)
        eps = torch.empty_like(zp)
        i = 0
        while i < len(tiles):
            chunk = tiles[i:i + self.batch]
            inp = torch.stack([zp[img, :, ys[0]:ys[1], xs[0]:xs[1]] for img, ys, xs in chunk])
            sig = torch.stack([sigma[img] for img, _, _ in chunk])
            try:
                a, b = self._run(inp, sig)
            except torch.cuda.OutOfMemoryError:
                if self.batch == 1:
                    raise
                self.batch //= 2
                torch.cuda.empty_cache()
                continue
            for k, (img, ys, xs) in enumerate(chunk):
                cy = slice(ys[2] - ys[0], ys[3] - ys[0])
                cx = slice(xs[2] - xs[0], xs[3] - xs[0])
                x0[img, :, ys[2]:ys[3], xs[2]:xs[3]] = a[k, :, cy, cx]
                eps[img, :, ys[2]:ys[3], xs[2]:xs[3]] = b[k, :, cy, cx]
            i += len(chunk)
            if self.on_tiles:
                self.on_tiles(len(chunk) / len(tiles))
        return x0[..., :h, :w], eps[..., :h, :w]
