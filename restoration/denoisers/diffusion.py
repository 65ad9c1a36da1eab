"""The diffusion denoiser (default): the shipped DDPM, or any model file, as a Denoiser plugin.

torch loads on first use, not when plugins are listed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..types import Denoiser, Observation
from .common import per_channel_sigma


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
    """

    name: ClassVar[str] = "diffusion"
    options: ClassVar[tuple[str, ...]] = ("method", "steps", "samples", "model", "device", "value_range",
                                          "tile", "batch")

    def context(self, *, method: str = "mmse", steps: int | None = None, samples: int = 1, model: str | None = None,
                masked: bool = True, **_: Any) -> int:
        """The receptive field times the network calls in sequence (each step widens what a pixel
        depends on), the inpainting steps included when the data has pixels to reconstruct."""
        from ..diffusion.model import load_model
        from ..diffusion.sampler import DEFAULT_STEPS, FILL_STEPS
        from ..diffusion.tiling import receptive_radius

        method = "posterior" if samples > 1 else method
        calls = 1 if method == "mmse" else (steps or DEFAULT_STEPS[method])
        return receptive_radius(load_model(model)) * (calls + (FILL_STEPS if masked else 0))

    def denoise(self, obs: Observation, *, rng: np.random.Generator, method: str = "mmse",
                steps: int | None = None, samples: int = 1, model: str | None = None,
                device: str = "auto", value_range: tuple[float, float] = (0.0, 1.0), tile: int = 768,
                batch: int | None = None, **_: Any):
        import torch

        from ..diffusion.checkpoint import CheckpointError
        from ..diffusion.cpu_heap import heap_kept
        from ..diffusion.model import load_model
        from ..diffusion.sampler import restore
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
        generator = torch.Generator().manual_seed(int(rng.integers(2**63)))
        net = TiledNetwork(net_model, dev, tile=tile, batch=batch)
        with heap_kept(dev.type == "cpu"), torch.inference_mode():
            out = restore(net, y, s, mask=mask, method=method, steps=steps, samples=samples, generator=generator)

        def back(t: torch.Tensor) -> np.ndarray:
            arr = t[:, 0].numpy() if mc == 1 else t[0].numpy()
            return np.moveaxis(arr, 0, -1) if rgb else arr[0]

        mean = (back(out.mean) + 1.0) / scale + lo
        if out.std is None:
            return mean.astype(np.float32)
        return mean.astype(np.float32), (back(out.std) / scale).astype(np.float32)
