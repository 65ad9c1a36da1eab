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

    Subclass it, set the class attributes and implement the five methods; return an instance from
    a ``restoration_noise_models`` hookimpl. ``restoration.testing.check_noise_model(model)``
    checks every rule below (run it in the plugin's own tests).

    Rules every model follows:

    - **Units.** Data and parameters are in the data's own units (whatever its range or dtype:
      uint8 counts, float in [0, 1], photons ...); the host never normalizes before calling these
      methods, and reports the parameters as given in noise.csv and the provenance.
    - **Missing pixels.** NaN/inf are missing: ``simulate`` leaves them NaN and draws finite values
      elsewhere; ``estimate`` and ``log_likelihood`` ignore them (finite results on data with
      holes); ``to_gaussian`` returns finite data with them marked in ``Observation.mask``;
      ``from_gaussian`` maps finite values to finite values (what it does with NaN is free).
    - **Parameters.** Every method takes the parameters as keywords named as in :attr:`params`
      (a model may accept more keywords and must then tolerate their absence). ``estimate``
      returns at least every name in :attr:`params`, as finite floats; other keys are allowed:
      text values are notes (reported as noise.csv columns, never passed back), other numbers are
      dropped. A model whose ``estimate`` also takes ``**fixed`` receives the values the user fixed
      (e.g. ``--sigma``) and estimates the others consistently with them.
    - **Selection** (``--noise auto``) treats every model alike: the host makes one clean
      estimate, calls ``estimate``, maximizes ``log_likelihood`` over each free parameter within
      1/3..3x of its estimate and subtracts a BIC penalty ``len(params) * log(N) / (2 N)``. So
      ``log_likelihood`` is the mean log *density* per pixel in data units (a discrete model
      subtracts the log of its unit step, e.g. ``log(gain)``; point masses spread over one
      quantization step), finite for any input (zeros, negatives, impulses), and does not assume
      that ``clean`` is exact (it is a local average carrying the noise variance in its residual).
      :attr:`nests` and :attr:`impulse_fraction` tell the host what no likelihood can.
    - **Reproducible.** ``simulate`` draws only from ``rng``: one seed, one result.

    Attributes
    ----------
    name : str
        ``--noise NAME``: unique, lowercase ``[a-z0-9-]``.
    params : tuple of str
        Parameter names (noise.csv columns), e.g. ``("sigma",)`` or ``("gain", "sigma", "offset")``;
        their number is the model's BIC complexity.
    nests : tuple of str
        Names of models that are special cases of this one (its parameters at a boundary value),
        e.g. ``poisson-gaussian`` nests ``gaussian`` (gain -> 0) and ``poisson`` (sigma = 0). On
        data of a nested model both fit alike; when this model's score is within the selection's
        tie tolerance of a model it nests, the nested (simpler) one is selected. Names of models
        not installed are ignored. Default: none.
    impulse_fraction : str or None
        For a model that explains pixels at the data's extremes as impulses (a point mass at the
        minimum/maximum, like ``salt-and-pepper``): the name of its parameter that is the fraction
        of pixels hit, estimated where the clean data is far from the extremes. Clipped data
        (whole regions at the extremes: saturation) also piles up there, and a point mass fits
        such a pile-up better than any continuous model; so when such a model wins with this
        fraction below half of the pixels piled up at the extremes, the host selects the best
        model without impulses instead. Default: None (no impulses).
    example_params : dict of str to float or None
        Parameters for tests and examples, typical of the data in [0.05, 0.95] the contract checks
        simulate (e.g. ``{"amplitude": 0.15}``); default (None): 0.1 for each parameter.
    """

    name: ClassVar[str]
    params: ClassVar[tuple[str, ...]]
    nests: ClassVar[tuple[str, ...]] = ()
    impulse_fraction: ClassVar[str | None] = None
    example_params: ClassVar[dict[str, float] | None] = None

    def simulate(self, clean: np.ndarray, rng: np.random.Generator, **params: float) -> np.ndarray:
        """Draw a noisy observation of ``clean`` (float data in its own units), from ``rng`` only.

        Same shape as ``clean``, float; NaN pixels of ``clean`` stay NaN.
        """
        raise NotImplementedError

    def estimate(self, noisy: np.ndarray) -> dict[str, float]:
        """Estimate this model's parameters from noisy data alone (NaN/inf ignored).

        Returns at least every name in :attr:`params` as a finite float. Optional extensions: a
        model whose ``estimate`` also takes ``**fixed`` receives the values the user fixed (e.g.
        ``--sigma``) and should estimate the others consistently with them; text values in the
        result are notes (e.g. how a parameter was identified), reported as noise.csv columns and
        never passed back to the model; other extra keys are dropped.
        """
        raise NotImplementedError

    def log_likelihood(self, noisy: np.ndarray, clean: np.ndarray, **params: float) -> float:
        """Mean log density per pixel of ``noisy`` given ``clean``, in data units (finite).

        Pixels where either is NaN/inf are left out. ``clean`` is the host's estimate, not the
        truth: a density that is -inf for small residuals (a hard support) must be smoothed.
        """
        raise NotImplementedError

    def to_gaussian(self, noisy: np.ndarray, **params: float) -> Observation:
        """Map the data to a space where its noise is additive white Gaussian.

        Same shape, finite data; ``sigma`` the noise std in that space; ``mask`` marks pixels
        without information (missing, impulses) that the denoiser reconstructs.
        """
        raise NotImplementedError

    def from_gaussian(self, restored: np.ndarray, **params: float) -> np.ndarray:
        """Inverse of :meth:`to_gaussian`, applied to the restored data (unbiased: an ideal denoiser's
        output maps back to the clean values, e.g. the exact unbiased inverse of the Anscombe
        transform rather than its algebraic inverse)."""
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
