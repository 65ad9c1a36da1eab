"""Before any work: the options checked, OUTDIR checked, the inputs discovered, resume settled.

Everything here takes seconds (header reads only) and raises :class:`~restoration.errors.InputError`
with one line naming the file or option.
"""

from __future__ import annotations

import glob
import math
import os
from pathlib import Path

from ..errors import InputError, printable
from ..noise.calibration import calibration
from ..options import CheckedRun, RunOptions, denoiser_settings
from ..planes import check_planes, orientations
from ..plugins import registry
from ..restore import output_dtype
from ..store.access import check_url
from ..store.files import is_url, join
from ..store.layout import MANAGED
from .records import Entry


def _inside(child: str, parent: str) -> bool:
    """Whether ``child`` is ``parent`` or lies below it (symbolic links resolved; loops allowed)."""
    child, parent = os.path.realpath(child), os.path.realpath(parent)
    return os.path.commonpath([child, parent]) == parent


def _glob_base(path: str) -> str:
    """The directory a glob pattern searches: its leading components without wildcards."""
    parts = Path(path).parts
    lead = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    return str(Path(*parts[:lead])) if lead else "."


def _check_writable(spec: str, outdir: str) -> None:
    """OUTDIR is a directory, or can be made one, that this process may write."""
    if os.path.lexists(outdir) and not os.path.isdir(outdir):
        raise InputError("exists and is not a directory", path=spec)
    existing = outdir
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise InputError(f"cannot be created: {existing} is not a directory", path=spec)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot be written: no write permission in {existing}", path=spec)


def _check_url_outdir(inputs: tuple[str, ...] | list[str], outdir: str) -> None:
    """An object-storage OUTDIR: not overlapping an input URL, reachable and writable."""
    base = outdir.rstrip("/") + "/"
    for inp in inputs:
        if not is_url(inp):
            continue
        where = inp.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0].rsplit("/", 1)[0] if glob.has_magic(inp) else inp
        if base.startswith(where.rstrip("/") + "/"):
            raise InputError(f"output directory is inside the input {inp}", path=outdir)
        if any((inp.rstrip("/") + "/").startswith(join(outdir, name) + "/") for name in MANAGED):
            raise InputError(f"input {inp} lies in the outputs of this output directory, which the run replaces",
                             path=outdir)
    check_url(outdir, write=True)


def check_outdir(inputs: tuple[str, ...] | list[str], outdir: str | None) -> None:
    """OUTDIR must be a writable directory (local, or an fsspec URL) that does not overlap an input.

    It may not lie inside an input directory or zarr store, nor inside the directory an input
    pattern searches (the run would write into its own input, and the next run would read its
    own output), and no input may lie inside OUTDIR's outputs (``--overwrite`` would delete it).
    Checked before anything is created, the run lock included: inputs are never modified.

    Raises
    ------
    InputError
        Naming OUTDIR: an existing non-directory, no permission to create or write it, an
        overlap with an input; on object storage also no credentials, an unreachable endpoint
        or a missing bucket (:func:`restoration.store.access.check_url`).
    """
    from ..io.discover import local_path

    if not outdir:
        return
    if outdir.startswith("file:"):
        raise InputError("a local output directory is given as a path, not a URL", path=outdir)
    if is_url(outdir):
        _check_url_outdir(inputs, outdir)
        return
    resolved = os.path.abspath(os.path.expanduser(outdir))
    for inp in inputs:
        path = local_path(inp)
        if path is None:
            continue
        pattern = glob.has_magic(path)
        where = _glob_base(path) if pattern else path
        if pattern and _inside(resolved, where):
            raise InputError(f"output directory is inside the directory searched by the input pattern {inp}",
                             path=outdir)
        if os.path.isdir(where) and _inside(resolved, where):
            raise InputError(f"output directory is inside the input directory {inp}", path=outdir)
        if any(_inside(where, os.path.join(resolved, name)) for name in MANAGED):
            raise InputError(f"input {inp} lies in the outputs of this output directory, which the run replaces",
                             path=outdir)
    _check_writable(outdir, resolved)


def check_options(options: RunOptions, *, distributed: bool = False) -> CheckedRun:
    """Check every option and OUTDIR, without torch (seconds), and derive what follows from them.

    Raises
    ------
    InputError
        Naming the option: unknown names, values out of range, OUTDIR (see :func:`check_outdir`).
    """
    check_outdir(options.inputs, options.outdir)
    reg = registry()
    if options.noise != "auto":
        reg.get("noise", options.noise)
    for name in options.transforms:
        if name != "none":
            reg.get("transform", name)
    den, resolved = denoiser_settings(options, reg)
    if options.seed < 0:  # numpy's generators take non-negative seeds only
        raise InputError("--seed must be >= 0")
    if options.sigma is not None and not (math.isfinite(float(options.sigma)) and float(options.sigma) > 0):
        raise InputError(f"--sigma must be a positive number (a noise std), got {options.sigma}")
    fixed = calibration(gain=options.gain, read_noise=options.read_noise, offset=options.offset, dark=options.dark)
    output_dtype("float32", options.output_dtype)  # an unknown choice exits 2 here
    orientations(options.planes)
    return CheckedRun(options, resolved, den.identity(**resolved), fixed,
                      tuple(os.path.realpath(p) if "://" not in p else p for p in options.inputs), distributed)


def check_runtime(run: CheckedRun) -> None:
    """The denoiser's slow checks (:meth:`~restoration.types.Denoiser.check`: a device exists, a
    model file loads)."""
    registry().get("denoiser", run.options.denoiser).check(**run.denoiser_options)


def validate(options: RunOptions, *, distributed: bool = False) -> CheckedRun:
    """:func:`check_options` then :func:`check_runtime`: every option checked."""
    run = check_options(options, distributed=distributed)
    check_runtime(run)
    return run


def discover_entries(run: CheckedRun) -> tuple[list[Entry], list[dict]]:
    """The items of the run's inputs, paired with their references; header reads only.

    Returns
    -------
    entries : list of Entry
        ``error`` is set on an entry whose reference is missing or of another shape, or that
        cannot take the ``planes`` option (:func:`~restoration.planes.check_planes`: no z
        axis, anisotropic voxels, zx or zy planes over the region budget).
    failed : list of dict
        ``{"name", "error"}`` per input, or entry of a directory, glob or zarr group, that cannot
        be restored: it fails alone.

    Raises
    ------
    InputError
        For the run as a whole: two items with one name, or references that cannot be read.
    """
    from ..io import discover

    options = run.options
    items, failed, seen = [], [], {}
    for inp in options.inputs:
        try:
            found = discover([inp], axes=options.axes,  # a bad file of a directory fails alone
                             on_error=lambda name, exc: failed.append({"name": name, "error": str(exc)}))
        except InputError as exc:
            failed.append({"name": printable(Path(inp.rstrip("/")).stem or inp), "error": str(exc)})
            continue
        for it in found:
            if it.name in seen:
                raise InputError(f"two items named {it.name!r}: {seen[it.name]} and {it.source}")
            seen[it.name] = it.source
            items.append(it)
    if not options.reference:
        return [_planes_checked(Entry(it), options) for it in items], failed
    refs = {r.name: r for r in discover(list(options.reference))}
    entries = []
    for it in items:
        ref = refs.get(it.name)
        if ref is None:
            entries.append(Entry(it, error=f"{it.source}: no reference named {it.name!r} among "
                                           f"{', '.join(options.reference)}"))
        elif tuple(ref.shape) != tuple(it.shape):
            entries.append(Entry(it, error=f"{ref.source}: reference shape {tuple(ref.shape)} differs from the "
                                           f"input's {tuple(it.shape)}"))
        else:
            entries.append(_planes_checked(Entry(it, ref), options))
    return entries, failed


def _planes_checked(entry: Entry, options: RunOptions) -> Entry:
    """``entry``, with an error when its item cannot take ``options.planes`` (it fails alone)."""
    from .stages import region_pixels

    try:
        check_planes(options.planes, entry.item.axes, entry.item.shape, entry.item.attrs,
                     max_pixels=region_pixels(), path=entry.item.where)
    except InputError as exc:
        return Entry(entry.item, entry.reference, str(exc))
    return entry


#: A run this many times the cost of the denoiser's defaults, over more pixels than
#: :data:`COST_WARN_PIXELS` (channels not counted), warns of its cost.
COST_WARN_FACTOR = 4.0
COST_WARN_PIXELS = 1 << 22


def _cost_warnings(run: CheckedRun, entries: list[Entry]) -> list[str]:
    """One line when the denoiser's options cost many times its defaults on large data."""
    den = registry().get("denoiser", run.options.denoiser)
    factor = den.cost(**run.denoiser_options)
    pixels = sum(math.prod(n for n, a in zip(e.item.shape, e.item.axes) if a != "c") for e in entries)
    if factor < COST_WARN_FACTOR or pixels <= COST_WARN_PIXELS:
        return []
    changed = [f"{k}={v}" for k, v in run.options.denoiser_options.items() if v is not None]
    return [f"{', '.join(changed) or 'these options'} on {pixels / 1e6:.1f} Mpx: the {den.name} denoiser takes about "
            f"{factor:.0f}x the time of its defaults"]


#: A run predicted to take longer than this many hours is refused unless ``allow_slow``
#: (``--allow-slow``); the environment variable ``RESTORATION_MAX_HOURS`` sets another ceiling.
MAX_HOURS = 12.0
#: Seconds each network call costs a plane whatever its size (launching it, a minimum tile).
CALL_OVERHEAD_SECONDS = 0.002


def _planes(entry: Entry) -> int:
    return math.prod(n for n, a in zip(entry.item.shape, entry.item.axes) if a not in "yxc")


def predicted_seconds(run: CheckedRun, entries: list[Entry]) -> float | None:
    """The run's predicted time: its pixels (channels not counted) and planes times the
    denoiser's :meth:`~restoration.types.Denoiser.cost` and its
    :meth:`~restoration.types.Denoiser.seconds_per_megapixel` (None when it does not say)."""
    den = registry().get("denoiser", run.options.denoiser)
    speed = den.seconds_per_megapixel(**run.denoiser_options)
    if speed is None:
        return None
    views = len(orientations(run.options.planes))
    mpx = sum(math.prod(n for n, a in zip(e.item.shape, e.item.axes) if a != "c") for e in entries) / 1e6
    planes = sum(_planes(e) for e in entries)
    return den.cost(**run.denoiser_options) * views * (mpx * speed + planes * CALL_OVERHEAD_SECONDS)


def _duration(seconds: float) -> str:
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.0f} s"


def check_cost(run: CheckedRun, entries: list[Entry]) -> None:
    """Refuse a run predicted (:func:`predicted_seconds`) to take more than :data:`MAX_HOURS`,
    unless ``allow_slow``.

    Raises
    ------
    InputError
        Naming the options, the predicted time and ``--allow-slow``.
    """
    try:
        ceiling = float(os.environ.get("RESTORATION_MAX_HOURS", MAX_HOURS))
    except ValueError:
        raise InputError(f"RESTORATION_MAX_HOURS must be a number of hours, got "
                         f"{os.environ['RESTORATION_MAX_HOURS']!r}") from None
    seconds = predicted_seconds(run, entries) if not run.options.allow_slow else None
    if seconds is None or seconds <= ceiling * 3600:
        return
    changed = [f"--{k.replace('_', '-')} {v}" for k, v in run.options.denoiser_options.items() if v is not None]
    raise InputError(f"{', '.join(changed) or 'these options'}: predicted to take about {_duration(seconds)}, over "
                     f"the {ceiling:g} h ceiling (RESTORATION_MAX_HOURS); add --allow-slow to run it anyway")


def preflight(options: RunOptions) -> dict:
    """Every mistake that can be known before any work, found in seconds (header reads only).

    Options and OUTDIR (:func:`check_options`), a foreign restoration in OUTDIR
    (:func:`stale_outputs`), the inputs and references (:func:`discover_entries`), the predicted
    cost (:func:`check_cost`), then the denoiser's slow checks (:func:`check_runtime`). Nothing is created or modified.

    Returns
    -------
    dict
        ``{"run", "entries", "failed", "warnings"}``: the checked run, the entries, the inputs
        that will fail alone (the others are still restored) and one-line cost warnings.

    Raises
    ------
    InputError
        One line naming the file or option; also when no input holds anything to restore.
    """
    from .resume import stale_outputs

    run = check_options(options)
    stale_outputs(run)
    entries, failed = discover_entries(run)
    usable = [e for e in entries if not e.error]
    if not usable:
        problems = [f["error"] for f in failed] + [e.error for e in entries]
        if len(problems) == 1:
            raise InputError(problems[0])
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise InputError(f"nothing to restore: {'; '.join(problems[:3])}{more}")
    check_cost(run, usable)  # before the denoiser's slow checks: an absurd request is told in a second
    check_runtime(run)
    return {"run": run, "entries": entries, "failed": failed, "warnings": _cost_warnings(run, usable)}
