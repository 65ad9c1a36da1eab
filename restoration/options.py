"""The run options, defined once: :class:`RunOptions` is what ``restoration run``, ``serve``, the
``restore-dataset`` flow, the provenance, the resume signature and the Python API all take.

The command line's flags are generated from it (:func:`add_run_arguments`) and from the options
each registered denoiser declares (:class:`~restoration.types.Option`); JSON appears only at the
Prefect boundary (:meth:`RunOptions.to_json`, :meth:`RunOptions.from_json`).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import InputError
from .planes import PLANES
from .restore import OUTPUT_DTYPES


def _flag(help: str, **argparse_kwargs: Any) -> dict:
    """Field metadata: the command line's help and argparse keywords (the flag is the field's
    name with ``_`` as ``-``)."""
    return {"help": help, "argparse": argparse_kwargs}


@dataclass(frozen=True)
class RunOptions:
    """Everything a user chooses about one restoration run.

    Attributes
    ----------
    inputs : tuple of str
        Files, directories, globs or zarr stores (a URL for zarr).
    outdir : str or None
        The output directory (a local path).
    reference : tuple of str
        Clean references, paired with the inputs by item name.
    noise : str
        ``auto`` (selected by likelihood) or a noise model's name.
    sigma : float or None
        The noise std in the input's own units (fixes the model's ``sigma``).
    gain, read_noise, offset : float or None
        Camera calibration in ADU (per photon, std, dark level).
    dark : str or None
        Dark frame(s) file: offset = its mean, read noise = its std.
    transforms : tuple of str
        The transform chain (empty: the default, ``percentile``; ``("none",)`` disables it).
    denoiser : str
        A registered denoiser's name.
    denoiser_options : dict
        The options given for the denoiser (those it declares; the rest take its defaults).
    seed : int
        Seed of every random draw.
    axes : str or None
        OME axis letters overriding the inference, e.g. ``zyx``.
    output_dtype : str
        ``auto`` (float32 for integer data), ``input`` or ``float32``.
    planes : str
        ``yx`` (stacks plane by plane) or ``yx,zx,zy``: a z-stack also restored as zx and as zy
        planes with the same 2-D model, the three averaged (about 3x the time; for
        near-isotropic voxels).
    overwrite : bool
        Replace an OUTDIR made with other inputs or options.
    allow_slow : bool
        Run even when the predicted time is over the ceiling
        (:func:`~restoration.pipeline.checks.check_cost`).

    Examples
    --------
    >>> opts = RunOptions(inputs=("a.tif",), outdir="out", denoiser_options={"method": "ddim"})
    >>> RunOptions.from_json(opts.to_json()) == opts
    True
    """

    inputs: tuple[str, ...] = field(default=(), metadata={"cli": False})
    outdir: str | None = field(default=None, metadata={"cli": False})
    reference: tuple[str, ...] = field(default=(), metadata=_flag(
        "clean references, paired by item name", nargs="+", metavar="REF"))
    noise: str = field(default="auto", metadata=_flag("auto or a noise model name"))
    sigma: float | None = field(default=None, metadata=_flag("noise std in the input's own units", type=float))
    gain: float | None = field(default=None, metadata=_flag("camera gain, ADU per photon", type=float, metavar="ADU"))
    read_noise: float | None = field(default=None, metadata=_flag("camera read noise std, ADU", type=float,
                                                                  metavar="ADU"))
    offset: float | None = field(default=None, metadata=_flag("camera offset (dark level), ADU", type=float,
                                                              metavar="ADU"))
    dark: str | None = field(default=None, metadata=_flag("dark frame(s): offset = mean, read noise = std",
                                                          metavar="FILE"))
    transforms: tuple[str, ...] = field(default=(), metadata=_flag(
        "replaces the default chain (percentile); repeatable; 'none' disables it", flag="--transform",
        action="append", metavar="NAME"))
    denoiser: str = field(default="diffusion", metadata=_flag("diffusion (default), nlm or a plugin's"))
    denoiser_options: Mapping[str, Any] = field(default_factory=dict, metadata={"cli": False})
    seed: int = field(default=0, metadata=_flag("seed of every random draw", type=int))
    axes: str | None = field(default=None, metadata=_flag("override axis inference, e.g. zyx"))
    output_dtype: str = field(default="auto", metadata=_flag(
        "auto (default): float32 for integer data, else the input's dtype; input: keep it", choices=OUTPUT_DTYPES))
    planes: str = field(default="yx", metadata=_flag(
        "yx (default): a stack plane by plane; yx,zx,zy: a z-stack also as zx and zy planes with the 2-D model, "
        "the three averaged (about 3x the time; for near-isotropic voxels; measured above BM4D in "
        "benchmarks/results/microscopy.md)", choices=PLANES, metavar="yx|yx,zx,zy"))
    overwrite: bool = field(default=False, metadata=_flag(
        "replace an OUTDIR made with other inputs or parameters", action="store_true"))
    allow_slow: bool = field(default=False, metadata=_flag(
        "run even when the predicted time is over the ceiling (RESTORATION_MAX_HOURS, default 12)",
        action="store_true"))

    def __post_init__(self) -> None:
        for name in ("inputs", "reference", "transforms"):  # lists from JSON or argparse
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))
        object.__setattr__(self, "denoiser", self.denoiser or "diffusion")
        object.__setattr__(self, "denoiser_options", dict(self.denoiser_options or {}))

    def replace(self, **changes: Any) -> "RunOptions":
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (lists for tuples), the form Prefect parameters take."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunOptions":
        """The options a :meth:`to_json` dict (or a deployment's parameters) holds.

        Raises
        ------
        InputError
            An unknown key.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown run option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        return cls(**dict(data))


def _option_fields(include: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> list[dataclasses.Field]:
    include = None if include is None else set(include)
    return [f for f in dataclasses.fields(RunOptions) if f.metadata.get("cli", True) and f.name not in exclude
            and (include is None or f.name in include)]


#: The run options that say what the noise is (``characterize`` and ``adapt`` take these).
NOISE_OPTIONS = ("noise", "sigma", "gain", "read_noise", "offset", "dark", "axes")


def add_run_arguments(parser: argparse.ArgumentParser, denoisers: Iterable = (), *,
                      include: Iterable[str] | None = None, exclude: Iterable[str] = (), defaults: bool = True) -> None:
    """Add the flags of :class:`RunOptions` and of every denoiser's declared options.

    A denoiser option becomes ``--NAME`` when its :attr:`~restoration.types.Option.flag` is set
    and no run option or earlier denoiser took the name; every option is also reachable as
    ``--denoiser-option NAME=VALUE``. Values are converted by the chosen denoiser later
    (:func:`options_from_args`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
    denoisers : iterable of Denoiser
        The registered denoisers (none: no denoiser options).
    include : iterable of str, optional
        Only these run options (e.g. :data:`NOISE_OPTIONS`).
    exclude : iterable of str
        Run options not offered (``serve`` has no ``reference``).
    defaults : bool
        False: every flag defaults to None (not given), for commands that pass on only what the
        user set.
    """
    taken = set()
    for f in _option_fields(include, exclude):
        kwargs = dict(f.metadata["argparse"])
        flag = kwargs.pop("flag", "--" + f.name.replace("_", "-"))
        if defaults and kwargs.get("action") != "append":
            default = f.default if f.default is not dataclasses.MISSING else None
            kwargs.setdefault("default", list(default) if isinstance(default, tuple) else default)
        else:
            kwargs.setdefault("default", None)
        parser.add_argument(flag, dest=f.name, help=f.metadata["help"], **kwargs)
        taken.add(f.name)
    denoisers = list(denoisers)
    if not denoisers:
        return
    group = parser.add_argument_group("denoiser options", "the chosen denoiser's (see `restoration plugins`)")
    for den in denoisers:
        for opt in den.options:
            if not opt.flag or opt.name in taken:
                continue
            taken.add(opt.name)
            flag = "--" + opt.name.replace("_", "-")
            if opt.type is bool:
                group.add_argument(flag, dest=f"denoiser_option:{opt.name}", action="store_const", const=True,
                                   default=None, help=f"{opt.help} ({den.name})")
            else:
                group.add_argument(flag, dest=f"denoiser_option:{opt.name}", default=None,
                                   choices=opt.choices or None, help=f"{opt.help} ({den.name})",
                                   metavar=None if opt.choices else opt.type.__name__.upper())
    group.add_argument("--denoiser-option", dest="denoiser_option_pairs", action="append", default=[],
                       metavar="NAME=VALUE", help="any option of the chosen denoiser; repeatable")


def options_from_args(args: argparse.Namespace, **extra: Any) -> RunOptions:
    """The :class:`RunOptions` parsed by :func:`add_run_arguments` (plus ``extra`` fields).

    Only the denoiser options the user gave are kept; the denoiser checks them
    (:func:`~restoration.types.resolve_options`).

    Raises
    ------
    InputError
        ``--denoiser-option`` without ``=``.
    """
    given: dict[str, Any] = {}
    for key, value in vars(args).items():
        if key.startswith("denoiser_option:") and value is not None:
            given[key.split(":", 1)[1]] = value
    for pair in getattr(args, "denoiser_option_pairs", None) or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise InputError(f"--denoiser-option {pair!r}: expected NAME=VALUE")
        given[name.strip().replace("-", "_")] = value
    fields = {f.name: getattr(args, f.name) for f in _option_fields() if getattr(args, f.name, None) is not None}
    return RunOptions(**fields, denoiser_options=given, **extra)


def run_argv(options: RunOptions) -> list[str]:
    """The ``restoration run`` arguments that give ``options`` (the inverse of
    :func:`options_from_args`): the inputs, ``-o OUTDIR``, then each option not at its default,
    the denoiser's as ``--denoiser-option NAME=VALUE``.

    Examples
    --------
    >>> run_argv(RunOptions(inputs=("a.tif",), outdir="out", sigma=0.1, transforms=("none",),
    ...                     denoiser_options={"samples": 4}))
    ['a.tif', '-o', 'out', '--sigma', '0.1', '--transform', 'none', '--denoiser-option', 'samples=4']
    """
    argv = [*options.inputs] + (["-o", options.outdir] if options.outdir else [])
    for f in _option_fields():
        value = getattr(options, f.name)
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if value == default or value is None:
            continue
        flag = f.metadata["argparse"].get("flag", "--" + f.name.replace("_", "-"))
        if isinstance(value, bool):
            argv.append(flag)
        elif f.metadata["argparse"].get("action") == "append":
            argv += [a for v in value for a in (flag, str(v))]
        elif isinstance(value, tuple):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv + [a for k, v in options.denoiser_options.items() if v is not None
                   for a in ("--denoiser-option", f"{k}={v}")]


def denoiser_settings(options: RunOptions, reg) -> tuple[Any, dict[str, Any]]:
    """The chosen denoiser and its options resolved (:func:`~restoration.types.resolve_options`).

    Raises
    ------
    InputError
        An unknown denoiser, an option it does not declare or a value it does not accept, named
        as its flag (``--samples must be >= 1, got 0``).
    """
    from .types import resolve_options

    den = reg.get("denoiser", options.denoiser)
    try:
        return den, resolve_options(den, options.denoiser_options)
    except ValueError as exc:
        raise InputError(f"--{exc}") from None


@dataclass(frozen=True)
class CheckedRun:
    """Run options checked, with what follows from them: the stages' shared input.

    Attributes
    ----------
    options : RunOptions
        As the user gave them.
    denoiser_options : dict
        Every option of the denoiser, converted, defaults filled in.
    identity : dict
        The denoiser's :meth:`~restoration.types.Denoiser.identity` (e.g. its model's content hash).
    calibration : dict
        The camera parameters fixed (``poisson-gaussian`` names).
    inputs_resolved : tuple of str
        The inputs as absolute real paths (URLs unchanged).
    distributed : bool
        Whether plane batches run on a cluster's workers.
    """

    options: RunOptions
    denoiser_options: dict[str, Any]
    identity: dict[str, Any]
    calibration: dict[str, float]
    inputs_resolved: tuple[str, ...]
    distributed: bool = False

    def signature(self) -> dict[str, Any]:
        """What an existing OUTDIR must match to be resumed: every choice that changes a result
        (the denoiser's identity included; the model file's path, OUTDIR and ``overwrite`` not)."""
        o = self.options
        return {"inputs": list(self.inputs_resolved), "noise": o.noise, "sigma": o.sigma,
                "calibration": self.calibration, "dark": o.dark, "transforms": list(o.transforms),
                "denoiser": o.denoiser, "denoiser_options": {k: v for k, v in self.denoiser_options.items()
                                                             if k != "model"},
                "identity": self.identity, "seed": o.seed, "axes": o.axes, "output_dtype": o.output_dtype,
                # only when not the default: OUTDIRs made before the option existed still resume
                **({"planes": o.planes} if o.planes != "yx" else {})}

    def key(self) -> str:
        """A short hash of :meth:`signature`."""
        return signature_key(self.signature())


def signature_key(sig: Mapping[str, Any]) -> str:
    """16 hex digits of the SHA-256 of ``sig`` as sorted JSON."""
    return hashlib.sha256(json.dumps(sig, sort_keys=True, default=str).encode()).hexdigest()[:16]
