"""The diffusion model: a U-Net and its schedule, with the conversions every sampler needs."""

from __future__ import annotations

import os
from functools import lru_cache

import torch

from .checkpoint import CheckpointError, load_model_file
from .files import DEFAULT_MODEL, model_file, model_id  # noqa: F401 (DEFAULT_MODEL: imported from here)
from .schedule import Schedule
from .unet import UNet, UNetConfig

# Far past any useful chain (the shipped model's has 1000): the schedule's tables are that long.
MAX_SCHEDULE_STEPS = 100_000


class DiffusionModel(torch.nn.Module):
    """U-Net + DDPM schedule. All tensors are in model units: data scaled to [-1, 1].

    The network sees ``z = x_t / sqrt(abar_t) = x_0 + sigma eps`` and its noise level ``sigma``.
    """

    def __init__(self, config: UNetConfig, schedule: Schedule | None = None):
        super().__init__()
        self.net = UNet(config)
        self.schedule = schedule or Schedule()
        self.model_id = "untrained"
        self.provenance: dict = {}

    @property
    def config(self) -> UNetConfig:
        """The network's :class:`~restoration.diffusion.unet.UNetConfig`."""
        return self.net.config

    def predict(self, z: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x0_hat, eps_hat)`` for the rescaled state ``z`` at noise level ``sigma``.

        ``x0_hat`` is Tweedie's estimate E[x_0 | z]: the MMSE denoiser at that noise level.
        """
        sigma = sigma.to(z.dtype).reshape(-1, 1, 1, 1)
        out = self.net(z, sigma.reshape(-1))
        if self.config.prediction == "eps":
            eps = out
            return z - sigma * eps, eps
        # v-prediction, with alpha = sqrt(abar) = 1/sqrt(1+s^2), s_t = sqrt(1-abar) = s/sqrt(1+s^2)
        alpha = torch.rsqrt(1 + sigma**2)
        x_t = alpha * z
        s_t = sigma * alpha
        x0 = alpha * x_t - s_t * out
        return x0, (z - x0) / sigma

    def to_config(self) -> dict:
        """``{"unet": ..., "schedule": ...}``: what :meth:`from_config` rebuilds the model from."""
        return {"unet": self.config.to_dict(), "schedule": self.schedule.to_config()}

    @classmethod
    def from_config(cls, config: dict) -> "DiffusionModel":
        """An untrained model of the architecture and schedule ``config`` describes (see :meth:`to_config`)."""
        return cls(UNetConfig.from_dict(config["unet"]), Schedule(**config.get("schedule", {})))

    @classmethod
    def from_state(cls, config: dict, state: dict) -> "DiffusionModel":
        """The model ``config`` describes with the weights ``state``, both checked before it is built.

        A config can ask for any size of network: it is compared against the weights first, so a
        small file never makes the loader allocate a large one.

        Parameters
        ----------
        config : dict
            ``{"unet": ..., "schedule": ...}`` as written by :meth:`to_config`.
        state : dict
            The network's state dict (tensor name -> tensor).

        Raises
        ------
        ValueError
            The config is invalid, or its network's tensor names or shapes differ from ``state``'s.
        """
        unet = UNetConfig.from_dict(config["unet"])
        schedule = dict(config.get("schedule", {}))
        if not 1 <= int(schedule.get("steps", 1000)) <= MAX_SCHEDULE_STEPS:  # its tables are allocated
            raise ValueError(f"schedule steps must be 1 to {MAX_SCHEDULE_STEPS}, not {schedule['steps']}")
        # Each level and block has tensors of its own: a config with more of them than the file has
        # tensors cannot match, and its mere module objects could fill the memory.
        if len(unet.widths) + sum(unet.blocks) > len(state):
            raise ValueError(f"the config asks for {len(unet.widths)} levels and {sum(unet.blocks)} blocks, "
                             f"the file has {len(state)} tensors")
        with torch.device("meta"):  # shapes only: no memory is allocated, whatever the widths
            expected = {k: tuple(v.shape) for k, v in UNet(unet).state_dict().items()}
        found = {k: tuple(v.shape) for k, v in state.items()}
        if expected != found:
            name = min(set(expected) ^ set(found) or {k for k in expected if expected[k] != found[k]})
            raise ValueError(f"{name}: the config needs shape {expected.get(name, 'none')}, "
                             f"the file has {found.get(name, 'none')}")
        model = cls(unet, Schedule(**schedule))
        model.net.load_state_dict(state)
        return model


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> DiffusionModel:
    state, config, provenance = load_model_file(path)
    try:
        model = DiffusionModel.from_state(config, state)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: model weights do not match its config ({str(exc).splitlines()[0][:160]})") from None
    model.provenance = provenance
    model.model_id = model_id(path)
    return model.eval().requires_grad_(False)


def load_model(path: str | os.PathLike | None = None) -> DiffusionModel:
    """Load a model file (default: the shipped model), cached per path and modification time."""
    path = model_file(path)
    return _load_cached(str(path), path.stat().st_mtime)
