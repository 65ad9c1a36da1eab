"""The plugin-facing types: what a noise model, transform or denoiser is (CONTRACT).

Plugins subclass these and return instances from the hooks in :mod:`restoration.hookspecs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass
class Observation:
    """One plane in a space where its noise is additive white Gaussian.

    Attributes
    ----------
    data : ndarray
        ``(y, x)`` or ``(y, x, c)`` float data in the stabilized space.
    sigma : float or ndarray
        Gaussian noise std in that space: a scalar or one value per channel.
    mask : ndarray of bool, optional
        Same ``(y, x)`` shape; True marks pixels with no information (impulses, NaN) that the
        denoiser must reconstruct.
    origin : int
        Row of the full plane that ``data``'s first row is (0 for a whole plane). A denoiser that
        draws random numbers keys them by absolute position (row ``origin + r``), so a band of
        rows restores exactly as the same rows of the whole plane.
    """

    data: np.ndarray
    sigma: float | np.ndarray
    mask: np.ndarray | None = None
    origin: int = 0


class NoiseModel:
    """A noise type: simulate it, estimate its parameters, and map it to Gaussian noise.

    Parameters are in the data's own units (see ARCHITECTURE.md, "Units and parameters").
    """

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]]

    def simulate(self, clean: np.ndarray, rng: np.random.Generator, **params: float) -> np.ndarray:
        """Draw a noisy observation of ``clean`` (float data in its own units)."""
        raise NotImplementedError

    def estimate(self, noisy: np.ndarray) -> dict[str, float]:
        """Estimate this model's parameters from noisy data alone.

        Optional extensions: a model whose ``estimate`` also takes ``**fixed`` receives the values
        the user fixed (e.g. ``--sigma``) and should estimate the others consistently with them;
        text values in the result are notes (e.g. how a parameter was identified), reported as
        noise.csv columns and never passed back to the model.
        """
        raise NotImplementedError

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Mean log-likelihood per pixel of ``noisy`` given ``clean`` under this model (finite)."""
        raise NotImplementedError

    def to_gaussian(self, noisy: np.ndarray, **params: float) -> Observation:
        """Map the data to a space where its noise is additive white Gaussian."""
        raise NotImplementedError

    def from_gaussian(self, restored: np.ndarray, **params: float) -> np.ndarray:
        """Inverse of :meth:`to_gaussian`, applied to the restored data."""
        raise NotImplementedError


class Transform:
    """An invertible intensity transform with explicit, JSON-serializable state."""

    name: ClassVar[str]

    def fit(self, x: np.ndarray) -> dict:
        """Fit the transform's state on ``x`` (which may be a sample of the data)."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        raise NotImplementedError

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        raise NotImplementedError


class Denoiser:
    """Restores one plane (or a region of one) given as an :class:`Observation`.

    ``denoise`` returns the restored plane, same shape as ``obs.data``. With ``samples > 1`` in
    ``options`` a denoiser that supports it returns ``(restored, std)``: the mean of the samples
    and their per-pixel standard deviation.
    """

    name: ClassVar[str]
    #: Options this denoiser understands; the host passes only these (e.g. ``method``, ``steps``).
    options: ClassVar[tuple[str, ...]] = ()

    def denoise(self, obs: Observation, *, rng: np.random.Generator, **options: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def context(self, **options: Any) -> int:
        """Pixels of context a region of a plane needs on each side for its restored core to match
        a whole-plane run (the host splits planes too large for memory into such regions). The
        host adds ``masked=True`` to the options when the data has pixels to reconstruct."""
        return 32

    def grid(self, **options: Any) -> int:
        """Rows whose multiples a region must start on to restore as in a whole-plane run (a
        network that downsamples by 8 sees another phase of its grid elsewhere). The host starts
        every region's read at a multiple of it; 1 for denoisers without such a grid."""
        return 1
