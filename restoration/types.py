"""The plugin-facing types: what a noise model, transform or denoiser is, and the rules each follows.

Plugins subclass these and return instances from the hooks in :mod:`restoration.hookspecs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

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
    value_range : (float, float)
        The range ``data``'s clean values span (robust quantiles of the item after the transform
        chain; about (0, 1) after the default ``percentile`` transform): a network trained on a
        fixed range maps this one onto it.
    rgb : bool
        Whether the three channels are the red, green and blue of a photograph (a colour image:
        they may be restored jointly), rather than independent channels (fluorescence, spectra).
    progress : callable or None
        A denoiser that takes long may call ``progress(fraction)`` (0 to 1, rising) as it works
        through this observation: the host's progress bars move within a plane. Optional.
    noise : str or None
        The registry name of the noise model whose Gaussian space this is (``gaussian``,
        ``poisson``, ...; None where the channels' models differ or it is not known). A stabilized
        noise is Gaussian only approximately (the Anscombe transform's at a few photons): a
        denoiser whose error bars were calibrated per noise model picks that model's.
    """

    data: np.ndarray
    sigma: float | np.ndarray
    mask: np.ndarray | None = None
    origin: int = 0
    value_range: tuple[float, float] = (0.0, 1.0)
    rgb: bool = False
    progress: Callable[[float], None] | None = None
    noise: str | None = None


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One option a denoiser declares: ``restoration run`` offers it as ``--NAME`` (and
    ``--denoiser-option NAME=VALUE``), the Python API as a keyword, the flow in its parameters.

    Attributes
    ----------
    name : str
        Lowercase ``[a-z][a-z0-9_]*``; the flag is ``--name`` with ``_`` as ``-``.
    type : type
        ``bool``, ``int``, ``float`` or ``str``: values are converted to it (text from the command
        line included; ``bool`` accepts true/false, yes/no, on/off, 1/0).
    default : object
        The value when the user gives none (None allowed: "the denoiser decides").
    help : str
        One line for ``--help`` and ``restoration plugins``.
    choices : tuple
        The allowed values, if limited.
    minimum : float or None
        The smallest allowed value of a number.
    flag : bool
        Whether ``restoration run`` offers ``--NAME`` (a rarely tuned option may leave it to
        ``--denoiser-option``).
    path : bool
        The value is a file path: made absolute where it is stored for later runs (``serve``).

    Examples
    --------
    >>> steps = Option("steps", int, None, "reverse steps", minimum=1)
    >>> steps.convert("3"), steps.convert(None)
    (3, None)
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple = ()
    minimum: float | None = None
    flag: bool = True
    path: bool = False

    def convert(self, value: Any) -> Any:
        """``value`` (a Python value or command-line text) as this option's type, checked.

        Raises
        ------
        ValueError
            One line: the value is not of the type, not among the choices or below the minimum.
        """
        if value is None:
            return None
        if self.type is bool and isinstance(value, str):
            if value.lower() not in _TRUE + _FALSE:
                raise ValueError(f"{self.name}: {value!r} is not true or false")
            value = value.lower() in _TRUE
        try:
            if self.type is int and (isinstance(value, bool) or float(value) != int(float(value))):
                raise ValueError
            converted = self.type(value) if self.type is not bool else bool(value)
        except (TypeError, ValueError):
            raise ValueError(f"{self.name}: {value!r} is not {'an' if self.type is int else 'a'} "
                             f"{self.type.__name__}") from None
        if self.choices and converted not in self.choices:
            raise ValueError(f"{self.name}: {converted!r} is not one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and converted < self.minimum:
            raise ValueError(f"{self.name} must be >= {self.minimum:g}, got {converted}")
        return converted


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
      estimate, keeps the pixels where it is trustworthy and no clip distorts the noise, passes
      exactly those to ``log_likelihood`` (a ``(1, N)`` row of noisy and clean values, nothing
      missing), calls ``estimate`` on the data, maximizes ``log_likelihood`` over the free
      parameters jointly, each within 1/3..3x of its estimate, and subtracts a BIC penalty
      ``len(params) * log(N) / (2 N)``. So
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
        fraction below half of the pixels piled up at the extremes and below 3/4 of the isolated
        extreme values (an extreme whose 3x3 median is not at it: impulses are isolated, a
        saturated region is not), the host selects the best model without impulses instead.
        Default: None (no impulses).
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
    """An invertible intensity transform with explicit, JSON-serializable state.

    Subclass it and return an instance from a ``restoration_transforms`` hookimpl;
    ``restoration.testing.check_transform(transform)`` checks every rule below.

    Rules every transform follows:

    - **State.** ``fit`` returns everything ``forward`` and ``inverse`` need as a JSON-able dict
      (numbers, strings, lists): it is stored in the provenance and sent to other processes.
    - **Chunk-wise.** ``forward`` and ``inverse`` are element-wise given the state: applied to
      any part of the data (a plane, a band of rows, a tile) they give that part of the whole's
      result. The fit sees a sample of the item (a few planes, centre crops), never all of it.
    - **Missing pixels.** NaN stays NaN in both directions and does not spread; ``fit`` ignores
      NaN/inf.
    - **Invertible.** ``inverse(forward(x, state), state)`` equals ``x`` to float precision, for
      float32 and float64 data, whatever the range.
    """

    name: ClassVar[str]

    def fit(self, x: np.ndarray) -> dict:
        """Fit the transform's state on ``x`` (a sample of the data, NaN/inf ignored)."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, state: dict) -> np.ndarray:
        """Apply the transform with the fitted ``state`` (element-wise, same shape, NaN kept)."""
        raise NotImplementedError

    def inverse(self, y: np.ndarray, state: dict) -> np.ndarray:
        """Undo :meth:`forward` with the same ``state`` (element-wise, same shape, NaN kept)."""
        raise NotImplementedError


class Denoiser:
    """Restores one plane (or a band of rows of one) given as an :class:`Observation`.

    Subclass it and return an instance from a ``restoration_denoisers`` hookimpl;
    ``restoration.testing.check_denoiser(denoiser)`` checks every rule below.

    Rules every denoiser follows:

    - **Options.** :attr:`options` declares every option (:class:`Option`: type, default, help).
      The host converts and checks what the user gives against it (unknown names are refused,
      one line), fills in the defaults and passes every declared option as a keyword to
      :meth:`denoise`, :meth:`context`, :meth:`grid`, :meth:`identity`, :meth:`check`,
      :meth:`returns_std` and :meth:`cost` (which should accept ``**_`` for the others). The
      options and :meth:`identity` enter the provenance and the resume signature.
    - **Space.** ``obs.data`` is float32 with additive white Gaussian noise of std ``obs.sigma``
      (a scalar, or one per channel), clean values spanning about ``obs.value_range``; the result
      is in the same space. ``obs.mask`` marks pixels with no information, to reconstruct.
    - **Regions.** Large planes arrive as bands of rows read with :meth:`context` rows of
      context on each side and starting on a multiple of :meth:`grid`; the restored core of a
      band must equal the same rows of a whole-plane run (random numbers keyed by absolute row,
      ``obs.origin + r``).
    - **Reproducible.** Random draws come from ``rng`` only: one seed, one result.
    - **Finite.** No NaN or infinity in the result (the host refuses it).
    """

    name: ClassVar[str]
    #: The options this denoiser takes (see the rules above).
    options: ClassVar[tuple[Option, ...]] = ()

    def denoise(self, obs: Observation, *, rng: np.random.Generator, **options: Any) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Restore ``obs``: an array of ``obs.data``'s shape, or ``(restored, std)`` when
        :meth:`returns_std` is true for these options (``std`` the per-pixel uncertainty, same
        shape, in the same space)."""
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

    def identity(self, **options: Any) -> dict[str, Any]:
        """What else decides this denoiser's result besides its options (JSON-able), e.g. the
        content hash of a model file: recorded in the provenance, and a resumed run must match
        it. Default: nothing."""
        return {}

    def check(self, **options: Any) -> None:
        """Checks that take seconds (a model file loads, a device exists), run before any work.

        Raises
        ------
        InputError
            One line naming the option or file and the problem.
        """

    def returns_std(self, **options: Any) -> bool:
        """Whether :meth:`denoise` returns ``(restored, std)`` with these options (the host then
        writes the std map). Default: False."""
        return False

    def cost(self, **options: Any) -> float:
        """The time these options take relative to the defaults' (the host warns when a large
        run costs many times that). Default: 1."""
        return 1.0

    def seconds_per_megapixel(self, **options: Any) -> float | None:
        """Seconds the defaults take per megapixel, on the fastest hardware these options may
        use (with :meth:`cost`, the host predicts a run's time and refuses one over its ceiling
        unless told to go ahead). Default: None, unknown (no prediction)."""
        return None


def option_table(denoiser: Denoiser) -> dict[str, Option]:
    """``{name: Option}`` of a denoiser's declared options."""
    return {o.name: o for o in denoiser.options}


def resolve_options(denoiser: Denoiser, given: dict[str, Any] | Sequence[tuple[str, Any]]) -> dict[str, Any]:
    """Every declared option of ``denoiser``: the ``given`` values (None meaning not given)
    converted and checked, the defaults for the others.

    Raises
    ------
    ValueError
        One line starting with the option's name: an option the denoiser does not declare, or
        a value it does not accept.

    Examples
    --------
    >>> class Blur(Denoiser):
    ...     name = "blur"
    ...     options = (Option("radius", int, 2, minimum=1),)
    >>> resolve_options(Blur(), {}), resolve_options(Blur(), {"radius": "3"})
    ({'radius': 2}, {'radius': 3})
    """
    table = option_table(denoiser)
    out = {name: opt.default for name, opt in table.items()}
    for name, value in dict(given).items():
        if name not in table:
            known = ", ".join(table) or "none"
            raise ValueError(f"{name}: the {denoiser.name} denoiser has no such option (its options: {known})")
        if value is not None:
            out[name] = table[name].convert(value)
    return out
