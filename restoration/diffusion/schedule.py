"""DDPM noise schedule with a continuous time axis.

The forward process is Ho et al.'s ``x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps`` with the
linear beta schedule over ``T`` steps. Time is continuous: ``log abar`` is interpolated linearly
between grid points, so any noise level maps to an exact (fractional) timestep and the effective
noise of an observation matches its sigma instead of the nearest grid point's.
"""

from __future__ import annotations

import math

import numpy as np
import torch


class Schedule:
    """Linear-beta DDPM schedule, ``T`` steps, continuous in ``t``.

    ``sigma(t) = sqrt((1 - abar_t) / abar_t)`` is the noise std of ``x_t / sqrt(abar_t)``: the
    scale on which an image with additive Gaussian noise of that std sits at time ``t``.

    Examples
    --------
    >>> s = Schedule()
    >>> t = s.t_of_sigma(2 * 25 / 255)
    >>> bool(abs(s.sigma_of_t(t) / (2 * 25 / 255) - 1) < 1e-6)
    True
    """

    def __init__(self, steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        self.steps = int(steps)
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)
        betas = np.linspace(beta_start, beta_end, self.steps, dtype=np.float64)
        # Index 0 is t = 0 (clean data); index k is after k forward steps.
        self._log_abar = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])
        self._log_sigma = 0.5 * np.log(np.expm1(-self._log_abar[1:]))

    def to_config(self) -> dict:
        """``steps``, ``beta_start`` and ``beta_end``: the keyword arguments that rebuild this schedule."""
        return {"steps": self.steps, "beta_start": self.beta_start, "beta_end": self.beta_end}

    def log_abar(self, t: np.ndarray | float) -> np.ndarray:
        """``log abar_t``, interpolated linearly between the integer steps (t = 0 is clean data)."""
        return np.interp(t, np.arange(self.steps + 1), self._log_abar)

    def sigma_of_t(self, t: np.ndarray | float) -> np.ndarray:
        """The noise level ``sqrt((1 - abar_t) / abar_t)`` (model units) at the fractional step ``t``."""
        la = self.log_abar(t)
        return np.sqrt(np.expm1(-la))

    @property
    def sigma_max(self) -> float:
        """The noise level of the last step ``T``: the highest the schedule reaches."""
        return float(np.exp(self._log_sigma[-1]))

    def t_of_sigma(self, sigma: float | np.ndarray) -> np.ndarray:
        """Fractional timestep whose noise level is ``sigma`` (model units), clamped to [0, T].

        Below the first step ``t`` is interpolated in ``log abar`` towards t = 0, so very small
        sigmas still map exactly.
        """
        sigma = np.asarray(sigma, dtype=np.float64)
        if np.any(sigma <= 0):
            raise ValueError("sigma must be positive")
        target = -np.log1p(sigma**2)  # log abar at that sigma
        grid = np.arange(self.steps + 1)
        # log abar decreases with t: interpolate on the reversed (increasing) axis.
        t = np.interp(-target, -self._log_abar, grid)
        return np.clip(t, 0.0, float(self.steps))


def sigma_embedding(sigma: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of ``log sigma`` (the network's noise-level conditioning)."""
    half = dim // 2
    freqs = torch.exp(torch.linspace(0.0, math.log(1000.0), half, device=sigma.device))
    arg = torch.log(sigma.float()).unsqueeze(-1) * freqs * 0.25
    return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)
