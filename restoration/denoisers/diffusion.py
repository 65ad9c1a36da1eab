"""The diffusion denoiser (default): the shipped DDPM, or any model file, as a Denoiser plugin.

torch loads on first use, not when plugins are listed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..types import Denoiser, Observation
from .colour import from_opponent, std_from_opponent, to_opponent, use_joint
from .common import per_channel_sigma


def chain_calls(*, method: str = "mmse", steps: int | None = None, samples: int = 1) -> int:
    """Network calls in sequence of one reverse chain: with ``samples > 1`` each sample is a
    ``posterior`` chain (at most: a chain stops at the observation's noise level)."""
    from ..diffusion.sampler import DEFAULT_STEPS

    method = "posterior" if samples > 1 else method
    return 1 if method == "mmse" else (steps or DEFAULT_STEPS[method])


class DiffusionDenoiser(Denoiser):
    """Restore a plane with a DDPM started at the observation's noise level.

    Options
    -------
    method : {"mmse", "ddim", "posterior"}
        ``mmse`` (default) one-step Tweedie estimate; ``ddim`` deterministic few-step reverse;
        ``posterior`` ancestral sampling (a sharp sample).
    steps : int, optional
        Reverse steps for ``ddim`` (default 3) and ``posterior`` (default 20).
    samples : int
        With ``samples > 1``, that many posterior samples are drawn and ``(mean, std)`` returned.
    model : str, optional
        Model file (default: the shipped model).
    device : {"auto", "cpu", "cuda"}
    value_range : (float, float)
        Data values mapped to the model's [-1, 1] (default (0, 1), what the percentile transform
        produces).
    tile : int
        Core tile size (default 768; tiles get the receptive field as margin).
    batch : int, optional
        Tiles per network call (default 4 on CUDA, 1 on the CPU, where larger calls only cost memory).
    colour : {"auto", "joint", "per-channel"}
        How a grayscale model restores three channels: ``joint`` in the opponent colour space of
        :mod:`restoration.denoisers.colour` (luminance and two chroma planes), ``per-channel`` as
        three images. ``auto`` (default) is joint when the channels' noise is comparable; the host
        passes ``per-channel`` for multi-channel data that is not RGB (fluorescence channels).
    ensemble : bool
        Average the 8 flips and rotations (geometric self-ensemble): 8 times the cost.
    """

    name: ClassVar[str] = "diffusion"
    options: ClassVar[tuple[str, ...]] = ("method", "steps", "samples", "model", "device", "value_range",
                                          "tile", "batch", "colour", "ensemble")

    def context(self, *, method: str = "mmse", steps: int | None = None, samples: int = 1, model: str | None = None,
                masked: bool = True, **_: Any) -> int:
        """The receptive field times the network calls in sequence (each step widens what a pixel
        depends on), the inpainting steps included when the data has pixels to reconstruct."""
        from ..diffusion.model import load_model
        from ..diffusion.sampler import FILL_RADIUS, FILL_STEPS
        from ..diffusion.tiling import receptive_radius

        calls = chain_calls(method=method, steps=steps, samples=samples)
        radius = receptive_radius(load_model(model))
        return radius * (calls + (FILL_STEPS if masked else 0)) + (FILL_RADIUS if masked else 0)

    def grid(self, *, model: str | None = None, **_: Any) -> int:
        """The U-Net's downsampling factor: tiles and regions start on its multiples."""
        from ..diffusion.model import load_model

        return load_model(model).config.multiple

    def denoise(self, obs: Observation, *, rng: np.random.Generator, method: str = "mmse",
                steps: int | None = None, samples: int = 1, model: str | None = None,
                device: str = "auto", value_range: tuple[float, float] = (0.0, 1.0), tile: int = 768,
                batch: int | None = None, colour: str = "auto", ensemble: bool = False, **_: Any):
        import torch

        from ..diffusion.checkpoint import CheckpointError
        from ..diffusion.cpu_heap import heap_kept
        from ..diffusion.ensemble import restore_ensemble
        from ..diffusion.model import load_model
        from ..diffusion.sampler import NoiseField, restore
        from ..diffusion.tiling import TiledNetwork
        from ..diffusion.train import resolve_device

        try:
            net_model = load_model(model)
            dev = resolve_device(device)
        except (CheckpointError, ValueError) as exc:
            raise InputError(str(exc)) from None
        net_model.to(dev)
        data = np.asarray(obs.data, dtype=np.float32)
        rgb = data.ndim == 3
        planes = np.moveaxis(data, -1, 0) if rgb else data[None]          # (C, H, W)
        sigma = per_channel_sigma(obs)
        lo, hi = (float(v) for v in value_range)
        try:
            joint = net_model.config.channels == 1 and use_joint(colour, sigma)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if joint:
            planes, sigma = to_opponent(planes, sigma, (lo + hi) / 2)
        scale = 2.0 / (hi - lo)
        y = torch.from_numpy(np.ascontiguousarray((planes - lo) * scale - 1.0))
        mc = net_model.config.channels
        if mc == 1:           # a grayscale model restores each channel as an image of its own
            y, s = y[:, None], sigma * scale
        elif mc == planes.shape[0]:
            y, s = y[None], np.array([sigma.mean() * scale])
        else:
            raise InputError(f"model has {mc} channels; data has {planes.shape[0]}")
        mask = None
        finite = np.isfinite(planes).all(axis=0)
        m = ~finite if obs.mask is None else (np.asarray(obs.mask, bool) | ~finite)
        if m.any():
            mask = torch.from_numpy(np.ascontiguousarray(m))[None, None].expand(y.shape[0], 1, *m.shape)
            y = torch.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
        noise = NoiseField(int(rng.integers(2**63)), obs.origin)
        net = TiledNetwork(net_model, dev, tile=tile, batch=batch)
        with heap_kept(dev.type == "cpu"), torch.inference_mode():
            run = restore_ensemble if ensemble else restore
            out = run(net, y, s, mask=mask, method=method, steps=steps, samples=samples, noise=noise)

        def back(t: torch.Tensor) -> np.ndarray:  # (C, H, W)
            return t[:, 0].numpy() if mc == 1 else t[0].numpy()

        mean = (back(out.mean) + 1.0) / scale + lo
        std = None if out.std is None else back(out.std) / scale
        if joint:
            mean = from_opponent(mean, (lo + hi) / 2)
            std = None if std is None else std_from_opponent(std)

        def layout(arr: np.ndarray) -> np.ndarray:
            return (np.moveaxis(arr, 0, -1) if rgb else arr[0]).astype(np.float32)

        return layout(mean) if std is None else (layout(mean), layout(std))
