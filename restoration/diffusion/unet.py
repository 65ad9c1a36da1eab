"""Compact noise-conditional U-Net for the diffusion denoiser.

No normalization layer takes statistics over space, so the network is a translation-equivariant
function of its input (up to its downsampling factor): tiles with a margin of at least the
receptive field reproduce the whole-image result, which is what makes seamless tiling exact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .schedule import sigma_embedding


@dataclass
class UNetConfig:
    """The architecture of a :class:`UNet`, saved in every checkpoint.

    Attributes
    ----------
    channels : int
        Image channels in and out.
    widths : tuple of int
        Feature channels per resolution level; each level after the first halves the resolution.
    blocks : tuple of int
        Residual blocks per level (the last level is the bottleneck); as long as ``widths``.
    emb_dim : int
        Size of the noise-level embedding.
    prediction : str
        What the network predicts: ``"eps"`` (the noise) or ``"v"`` (v-prediction).
    """

    channels: int = 1                 # image channels in and out
    widths: tuple[int, ...] = (32, 64, 128)
    blocks: tuple[int, ...] = (2, 2, 2)  # residual blocks per level (the last level is the bottleneck)
    emb_dim: int = 128
    prediction: str = "eps"           # "eps" or "v"

    def to_dict(self) -> dict:
        """JSON-able form (tuples as lists), the inverse of :meth:`from_dict`."""
        return {**asdict(self), "widths": list(self.widths), "blocks": list(self.blocks)}

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        """The config ``d`` describes; unknown keys are ignored, missing ones take the defaults.

        Raises
        ------
        ValueError
            For an unknown ``prediction``, or ``widths`` and ``blocks`` of different or zero length.
        """
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        for key in ("widths", "blocks"):
            if key in known:
                known[key] = tuple(int(v) for v in known[key])
        cfg = cls(**known)
        if cfg.prediction not in ("eps", "v"):
            raise ValueError(f"unknown prediction type {cfg.prediction!r}")
        if len(cfg.widths) != len(cfg.blocks) or not cfg.widths:
            raise ValueError("widths and blocks must have the same, non-zero length")
        return cfg

    @property
    def multiple(self) -> int:
        """Input sizes must be multiples of this (the total downsampling factor)."""
        return 2 ** (len(self.widths) - 1)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with the noise-level embedding applied as a FiLM scale and shift, plus
    a (1x1 when the width changes) skip connection; the second convolution starts at zero.
    """

    def __init__(self, cin: int, cout: int, emb_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """The block's output for features ``x`` (n, cin, H, W) and embedding ``emb`` (n, emb_dim)."""
        # Without autograd, temporaries are overwritten in place: the same values, fewer blocks
        # for the kept CPU heap to fragment (a 67 Mpx plane's band peaked at 1378, not 1852 MiB).
        inplace = not torch.is_grad_enabled()
        h = F.silu(self.conv1(F.silu(x)), inplace=inplace)
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = h.mul_(1 + scale).add_(shift) if inplace else h * (1 + scale) + shift
        out = self.conv2(F.silu(h, inplace=inplace))
        return out.add_(self.skip(x)) if inplace else self.skip(x) + out


class UNet(nn.Module):
    """``forward(z, sigma)`` -> prediction, with ``z = x_0 + sigma * eps`` (model units).

    ``z`` is ``x_t / sqrt(abar_t)``: feeding the network the rescaled state keeps its input in the
    data's range at every noise level, the way EDM's input preconditioning does.
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = config
        c, w = config.channels, config.widths
        self.emb = nn.Sequential(nn.Linear(config.emb_dim, config.emb_dim), nn.SiLU(),
                                 nn.Linear(config.emb_dim, config.emb_dim))
        self.inp = nn.Conv2d(c + 1, w[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, width in enumerate(w):
            cin = w[i - 1] if i else w[0]
            blocks = [ResBlock(cin if j == 0 else width, width, config.emb_dim) for j in range(config.blocks[i])]
            self.down_blocks.append(nn.ModuleList(blocks))
            if i < len(w) - 1:
                self.downs.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for i in reversed(range(len(w) - 1)):
            self.ups.append(nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2))
            self.up_blocks.append(nn.ModuleList([ResBlock(2 * w[i], w[i], config.emb_dim),
                                                 *[ResBlock(w[i], w[i], config.emb_dim)
                                                   for _ in range(config.blocks[i] - 1)]]))
        self.out = nn.Conv2d(w[0], c, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """The prediction (eps or v, per ``config.prediction``) for ``z`` (n, C, H, W), H and W multiples
        of ``config.multiple``, at noise level ``sigma`` (n,) or a scalar.
        """
        sigma = sigma.to(z.dtype).reshape(-1)
        if sigma.numel() == 1:
            sigma = sigma.expand(z.shape[0])
        emb = self.emb(sigma_embedding(sigma, self.config.emb_dim).to(z.dtype))
        # The noise level also enters as an input plane: cheap, and it helps the first layer.
        level = torch.log(sigma)[:, None, None, None].expand(-1, 1, *z.shape[2:])
        h = self.inp(torch.cat([z, level], dim=1))
        skips = []
        for i, blocks in enumerate(self.down_blocks):
            for block in blocks:
                h = block(h, emb)
            if i < len(self.downs):
                skips.append(h)
                h = self.downs[i](h)
        for up, blocks in zip(self.ups, self.up_blocks):
            h = torch.cat([up(h), skips.pop()], dim=1)
            for block in blocks:
                h = block(h, emb)
        return self.out(F.silu(h))


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (weights and biases) of ``model``."""
    return sum(p.numel() for p in model.parameters())
