"""The diffusion denoiser (default): the shipped DDPM, or any model file, as a Denoiser plugin.

torch loads on first use, not when plugins are listed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..diffusion.device import DEVICES
from ..diffusion.methods import DEFAULT_STEPS, METHODS
from ..diffusion.uncertainty import MODES as STD_MODES
from ..errors import InputError
from ..types import Denoiser, Observation, Option
from .colour import MODES, from_opponent, std_from_opponent, to_opponent, use_joint
from .common import per_channel_sigma



#: Optimistic seconds per megapixel of one network call of the shipped model (see
#: :meth:`DiffusionDenoiser.seconds_per_megapixel`).
CPU_SECONDS_PER_MPX = 1.0
CUDA_SECONDS_PER_MPX = 0.02


def chain_calls(*, method: str = "mmse", steps: int | None = None, samples: int = 1) -> int:
    """Network calls in sequence of one reverse chain: with ``samples > 1`` each sample is a
    ``posterior`` chain (at most: a chain stops at the observation's noise level)."""
    method = "posterior" if samples > 1 else method
    return 1 if method == "mmse" else (steps or DEFAULT_STEPS[method])


class DiffusionDenoiser(Denoiser):
    """Restore a plane with a DDPM started at the observation's noise level.

    The options are in :attr:`options`: ``method`` (``mmse`` one-step Tweedie estimate, ``ddim``
    deterministic few-step reverse, ``posterior`` ancestral sampling: a sharp sample), ``steps``,
    ``samples`` (with ``samples > 1`` that many posterior samples, returned as ``(mean, std)``),
    ``uncertainty`` (that std calibrated into an error bar, or the samples' spread: see
    :mod:`restoration.diffusion.uncertainty`), ``model``, ``device``, ``colour``, ``ensemble``,
    ``tile`` and ``batch``. ``obs.value_range`` is mapped to the network's [-1, 1].
    """

    name: ClassVar[str] = "diffusion"
    options: ClassVar[tuple[Option, ...]] = (
        Option("method", str, "mmse", "mmse (one step, default), ddim (few deterministic steps) or posterior "
               "(a sample)", choices=METHODS),
        Option("steps", int, None, "reverse steps of ddim (default 3) and posterior (default 20)", minimum=1),
        Option("samples", int, 1, "posterior samples to average; > 1 also writes their per-pixel std",
               minimum=1),
        Option("uncertainty", str, "calibrated", "the std map with samples > 1: calibrated (an error bar: "
               "the samples' spread corrected on validation data) or spread (the samples' std as drawn)",
               choices=STD_MODES),
        Option("model", str, None, "diffusion model file (default: the shipped model)", path=True),
        Option("device", str, "auto", "auto (CUDA when available), cpu or cuda", choices=DEVICES),
        Option("colour", str, "auto", "RGB restored jointly in an opponent colour space (auto: RGB input "
               "with comparable noise) or per-channel", choices=MODES),
        Option("ensemble", bool, False, "average the 8 flips/rotations: better, 8x the time"),
        Option("tile", int, 768, "core tile side of a network call (tiles get the receptive field as "
               "margin)", minimum=64, flag=False),
        Option("batch", int, None, "tiles per network call (default 4 on CUDA, 1 on the CPU)", minimum=1,
               flag=False),
    )

    def identity(self, *, model: str | None = None, samples: int = 1, uncertainty: str = "calibrated",
                 **_: Any) -> dict[str, Any]:
        """The model file's content hash (``NAME@sha256:DIGEST``): moving or renaming it changes
        nothing, retraining it does; with ``samples > 1`` also the std calibration used."""
        from ..diffusion.files import model_file, model_id
        from ..diffusion.uncertainty import describe

        try:
            mid = model_id(model_file(model))
        except OSError as exc:  # CheckpointError included: a missing or unreadable file
            raise InputError(str(exc)) from None
        std = describe(mid, samples, uncertainty)
        return {"model_id": mid} | ({"std_calibration": std} if std else {})

    def check(self, *, model: str | None = None, device: str = "auto", **_: Any) -> None:
        """The device exists and the model file loads."""
        from ..diffusion.device import check_device

        check_device(device)  # before the model loads
        from ..diffusion.checkpoint import CheckpointError
        from ..diffusion.model import load_model

        try:
            load_model(model)
        except CheckpointError as exc:
            raise InputError(str(exc)) from None

    def returns_std(self, *, samples: int = 1, **_: Any) -> bool:
        """With ``samples > 1``: the samples' mean and per-pixel std."""
        return int(samples) > 1

    def cost(self, *, method: str = "mmse", steps: int | None = None, samples: int = 1, ensemble: bool = False,
             **_: Any) -> float:
        """Network calls relative to the default (one ``mmse`` call per tile)."""
        return float(max(1, int(samples)) * chain_calls(method=method, steps=steps, samples=samples)
                     * (8 if ensemble else 1))

    def seconds_per_megapixel(self, *, device: str = "auto", **_: Any) -> float:
        """One network call per megapixel, optimistic (a refused run is surely too long): the
        shipped model takes about 3 s per Mpx on two CPU cores (13.6 s for a 4 Mpx band, see the
        README), a GPU about a hundred times less."""
        from ..diffusion.device import no_cuda_driver, resolve_device

        if device == "cpu" or (device == "auto" and no_cuda_driver()):  # known without importing torch
            return CPU_SECONDS_PER_MPX
        return CPU_SECONDS_PER_MPX if resolve_device(device).type == "cpu" else CUDA_SECONDS_PER_MPX

    def context(self, *, method: str = "mmse", steps: int | None = None, samples: int = 1, model: str | None = None,
                masked: bool = True, uncertainty: str = "calibrated", **_: Any) -> int:
        """The receptive field times the network calls in sequence (each step widens what a pixel
        depends on), the inpainting steps included when the data has pixels to reconstruct, and
        the window a calibrated std pools the samples' variance over."""
        from ..diffusion.model import load_model
        from ..diffusion.sampler import FILL_RADIUS, FILL_STEPS
        from ..diffusion.tiling import receptive_radius
        from ..diffusion.uncertainty import POOL

        calls = chain_calls(method=method, steps=steps, samples=samples)
        radius = receptive_radius(load_model(model))
        pooled = POOL // 2 if int(samples) > 1 and uncertainty == "calibrated" else 0
        return radius * (calls + (FILL_STEPS if masked else 0)) + (FILL_RADIUS if masked else 0) + pooled

    def grid(self, *, model: str | None = None, **_: Any) -> int:
        """The U-Net's downsampling factor: tiles and regions start on its multiples."""
        from ..diffusion.model import load_model

        return load_model(model).config.multiple

    def denoise(self, obs: Observation, *, rng: np.random.Generator, method: str = "mmse",
                steps: int | None = None, samples: int = 1, model: str | None = None,
                device: str = "auto", tile: int = 768, batch: int | None = None, colour: str = "auto",
                ensemble: bool = False, uncertainty: str = "calibrated", **_: Any):
        """Restore ``obs`` (see the class docstring); ``(mean, std)`` with ``samples > 1``."""
        import torch

        from ..diffusion.checkpoint import CheckpointError
        from ..diffusion.cpu_heap import heap_kept
        from ..diffusion.ensemble import restore_ensemble
        from ..diffusion.model import load_model
        from ..diffusion.sampler import NoiseField, restore
        from ..diffusion.device import resolve_device
        from ..diffusion.tiling import TiledNetwork
        from ..diffusion.uncertainty import calibrate_std, find_table, rows_for

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
        lo, hi = (float(v) for v in obs.value_range)
        if colour == "auto" and not obs.rgb:  # fluorescence channels are no colours to mix
            colour = "per-channel"
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
        if obs.progress is not None:  # network calls done over those expected (an upper bound)
            expected, done = self.cost(method=method, steps=steps, samples=samples, ensemble=ensemble), [0.0]

            def tiles_done(share: float) -> None:
                done[0] += share
                obs.progress(min(1.0, done[0] / expected))

            net.on_tiles = tiles_done
        with heap_kept(dev.type == "cpu"), torch.inference_mode():
            run = restore_ensemble if ensemble else restore
            out = run(net, y, s, mask=mask, method=method, steps=steps, samples=samples, noise=noise)

        def back(t: torch.Tensor) -> np.ndarray:  # (C, H, W)
            return t[:, 0].numpy() if mc == 1 else t[0].numpy()

        mean = (back(out.mean) + 1.0) / scale + lo
        std = None if out.std is None else back(out.std)
        if std is not None and uncertainty == "calibrated":
            table = rows_for(find_table(net_model.model_id), obs.noise)
            std = np.stack([calibrate_std(p, level, samples, table)
                            for p, level in zip(std, np.broadcast_to(s, (std.shape[0],)))])
        std = None if std is None else std / scale
        if joint:
            mean = from_opponent(mean, (lo + hi) / 2)
            std = None if std is None else std_from_opponent(std)

        def layout(arr: np.ndarray) -> np.ndarray:
            return (np.moveaxis(arr, 0, -1) if rgb else arr[0]).astype(np.float32)

        return layout(mean) if std is None else (layout(mean), layout(std))
