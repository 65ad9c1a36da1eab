"""The per-item stages: ingest -> normalize -> characterize-noise -> denoise -> assess.

Each takes the :class:`~restoration.options.CheckedRun` and the records of the stages before it
(:mod:`.records`), and works in this process or, for the denoise work units, in any other.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import numpy as np

from .. import __version__
from ..errors import InputError
from ..options import CheckedRun, RunOptions, signature_key
from ..planning import (characterize_sample, context_rows, fit_transforms, make_plan, plane_indices,
                        plane_regions, read_plane, sample_planes, write_plane)
from ..planes import (average_parts, orientations, part_dtype, restore_slab, slab_axis, slab_regions, slab_width,
                      volume_axes, volume_indices, volume_key)
from ..plugins import registry
from ..restore import cast_like, output_dtype, restore_plane
from ..stopping import raise_if_stopped
from ..store.chunks import chunk_blocks, chunk_side, part_chunks
from ..store.items import create_item_array, finish_item, item_array, item_provenance, std_array
from ..store.files import join
from ..store.layout import WORK, open_group, open_store
from ..store.ome_metadata import is_rgb
from ..store.parts import create_part, has_parts, part_array, remove_parts
from ..store.progress import clear_progress, mark_done, progress_done, start_progress
from .records import DenoisePlan, Entry, Ingested, NoiseProfile, Normalized, Restored


def _outdir(run: CheckedRun) -> str:
    return str(run.options.outdir)


def ingest(run: CheckedRun, entry: Entry) -> Ingested:
    """Fingerprint the input; copy it into the run's working store unless already restored.

    Raises
    ------
    InputError
        The entry's known problem, or an input changed since its complete restoration in
        OUTDIR (without ``overwrite``).
    """
    import zarr

    from ..io import fingerprint, ingest as ingest_array

    if entry.error:
        raise InputError(entry.error)
    outdir = _outdir(run)
    prov = item_provenance(open_store(outdir), entry.name)
    fp = None
    if prov and prov.get("complete") is True:
        fp = fingerprint(entry.item)
        if prov.get("fingerprint") == fp and prov.get("request_key") == run.key():
            return Ingested(entry, fp, skip=True, stored=prov)
        if not run.options.overwrite:
            raise InputError("changed since it was restored into the output directory; use --overwrite",
                             path=entry.item.source)
    work = join(outdir, WORK, "ingest.zarr")
    group = open_group(work)
    copy = group[entry.name] if entry.name in group and group[entry.name].attrs.get("fingerprint") else None
    if copy is not None and copy.attrs["fingerprint"] != (fp := fp or fingerprint(entry.item)):
        copy = None                      # an earlier attempt's copy of other data
    if copy is None:
        copy = ingest_array(entry.item, group)  # fingerprinted while copying: the input is read once
    samples = open_group(join(outdir, WORK, SAMPLES))
    if entry.name not in samples or copy.attrs["fingerprint"] != samples[entry.name].attrs.get("fingerprint"):
        # The planes every later stage decides from, read once here (crops of a few planes).
        sample = samples.create_array(entry.name, data=sample_planes(copy, entry.item.axes), overwrite=True)
        sample.update_attributes({"fingerprint": copy.attrs["fingerprint"]})
    return Ingested(entry, copy.attrs["fingerprint"], skip=False, work=work)


#: The working store's samples of the items (:func:`~restoration.planning.sample_planes`).
SAMPLES = "samples.zarr"


def _work_array(ing: Ingested):
    return open_group(ing.work, mode="r")[ing.name]


def _sample(ing: Ingested) -> np.ndarray:
    """The item's sample planes, as ingest stored them."""
    return open_group(join(os.path.dirname(ing.work), SAMPLES), mode="r")[ing.name][...]


def normalize(run: CheckedRun, ing: Ingested) -> Normalized:
    """Fit the transform chain on a sample of the item (states are JSON, stored in provenance)."""
    if ing.skip:
        return Normalized(ing.stored.get("transforms", []))
    return Normalized(fit_transforms(_sample(ing), run.options.transforms, registry()))


def characterize(run: CheckedRun, ing: Ingested) -> NoiseProfile:
    """Noise model and parameters per channel, in the input's units (noise.csv rows)."""
    if ing.skip:
        return NoiseProfile(ing.stored.get("noise_rows", []))
    axes = ing.item.axes
    rows = characterize_sample(_sample(ing), "c" in axes, registry(), noise=run.options.noise, sigma=run.options.sigma,
                               fixed=run.calibration)
    return NoiseProfile([{"name": ing.name, **r} for r in rows])


BATCHES = 64  # most work units per item: tens of tasks on a cluster, not thousands
#: On a cluster (``run.distributed``) an item is cut into about this many regions, so a single
#: large plane keeps several workers busy; never below SPREAD_MIN_PIXELS a region, where the
#: context rows each band reads would start to cost more than the parallelism gains.
SPREAD_REGIONS = 16
SPREAD_MIN_PIXELS = 1 << 21


def region_pixels() -> int:
    """Largest region restored at once (``RESTORATION_REGION_PIXELS``, default 4 Mpx): bounds
    memory whatever the array's size; larger planes are restored in bands of rows. Larger
    regions cost about 40 bytes a pixel and save only the context rows each band re-reads
    (5 to 17 % of the compute on 4096- to 8192-wide planes)."""
    return int(os.environ.get("RESTORATION_REGION_PIXELS", 1 << 22))


def _parts(run: CheckedRun, want_std: bool) -> list[str]:
    """The orientations' arrays kept until averaged: none for yx planes alone."""
    orients = orientations(run.options.planes)
    if len(orients) == 1:
        return []
    return [o + suffix for o in orients for suffix in ("", "_std") if want_std or not suffix]


def plan_denoise(run: CheckedRun, ing: Ingested, norm: Normalized, noise: NoiseProfile) -> DenoisePlan:
    """Decide how every plane is restored, create (or reopen, when resuming) the output arrays,
    and split the regions still to do into batches.

    yx regions are whole planes or chunk-aligned bands of rows (:func:`~restoration.planning.plane_regions`).
    With ``planes`` ``yx,zx,zy`` the slabs of zx and zy planes follow
    (:func:`~restoration.planes.slab_regions`), and every orientation is restored into an array
    of its own in the working store (:func:`~restoration.store.parts.create_part`), averaged into the
    output by :func:`finish_denoise`.
    """
    reg = registry()
    item = ing.item
    axes, shape = item.axes, tuple(item.shape)
    den = reg.get("denoiser", run.options.denoiser)
    plan = make_plan(_sample(ing), noise.rows, norm.transforms, run.options.transforms,
                     den.name, run.denoiser_options, reg, rgb=is_rgb(item.format, item.attrs, axes, shape))
    outdir = _outdir(run)
    store = open_store(outdir)
    budget = region_pixels()
    if run.distributed:
        budget = min(budget, max(SPREAD_MIN_PIXELS, int(np.prod(shape)) // SPREAD_REGIONS))
    tile = chunk_side()
    regions = plane_regions(axes, shape, budget, min(tile, shape[axes.index("y")]))
    orients = orientations(run.options.planes)
    # Slabs as wide as the budget allows, chunk-aligned when over a chunk: the arrays' chunks follow.
    aligns = {o: min(tile, shape[axes.index(slab_axis(o))]) for o in orients[1:]}
    slabs = [s for o in orients[1:] for s in slab_regions(axes, shape, o, budget, aligns[o])]
    signature = {"plan": plan.to_dict(), "fp": ing.fingerprint, "req": run.key(), "regions": regions}
    key = signature_key(signature | ({"slabs": slabs} if slabs else {}))
    done = start_progress(outdir, ing.name, key)
    want_std = den.returns_std(**run.denoiser_options)
    parts = _parts(run, want_std)
    if done and (ing.name not in store or (parts and not has_parts(outdir, ing.name, parts))):
        clear_progress(outdir, ing.name)  # markers without their data: start over
        done = start_progress(outdir, ing.name, key)
    if not done:
        # an OME-Zarr image group; the item's attrs (pixel sizes, units) become its OME metadata at the end
        out_dtype = output_dtype(item.dtype, run.options.output_dtype)
        create_item_array(store, ing.name, shape, out_dtype, axes)
        if want_std:
            create_item_array(store, ing.name + "_std", shape, np.float32, axes)
        for part in parts:
            o = part.removesuffix("_std")
            width = slab_width(axes, shape, o, budget, aligns[o]) if o in aligns else 1
            create_part(outdir, ing.name, part, shape, np.float32 if part.endswith("_std") else part_dtype(out_dtype),
                        part_chunks(shape, axes, o, width, budget, tile))
    split = len(regions) > len(plane_indices(axes, shape))
    margin = den.context(**run.denoiser_options, masked=plan.masked) if split else 0
    todo = [r for r in range(len(regions) + len(slabs)) if r not in done]
    size = max(1, -(-len(todo) // BATCHES))
    return DenoisePlan(plan, regions, [todo[i:i + size] for i in range(0, len(todo), size)], margin,
                       den.grid(**run.denoiser_options) if split else 1, want_std, time.time(), slabs)


def denoise_planes(run: CheckedRun, ing: Ingested, info: DenoisePlan, batch: list[int],
                   progress: Callable[[float], None] | None = None) -> int:
    """Restore the regions ``batch`` (numbers of ``info.regions``, then of ``info.slabs``) into
    the output, calling ``progress(regions)`` with the regions of the batch done so far (a
    fraction within one when the denoiser reports it, or as a slab's planes are done).

    yx regions are whole planes or chunk-aligned bands of rows, read with ``info.margin`` rows
    of context; slabs are whole zx or zy planes, their data read once. Each region writes chunks
    of its own (the output's, or with several orientations its orientation's array in the
    working store) and is marked done once written: batches run in any order, in any process,
    without two writers on one chunk, and a killed run resumes after its written regions."""
    reg = registry()
    src = _work_array(ing)
    outdir = _outdir(run)
    store = open_store(outdir)
    several = len(orientations(run.options.planes)) > 1
    arr = part_array(outdir, ing.name, "yx") if several else item_array(store, ing.name)
    std_arr = None
    if info.want_std:
        std_arr = part_array(outdir, ing.name, "yx_std") if several else std_array(store, ing.name)
    axes = ing.item.axes
    indices = plane_indices(axes, tuple(ing.item.shape))
    height = ing.item.shape[axes.index("y")]
    for n, r in enumerate(batch):
        within = (lambda share, n=n: progress(n + share)) if progress else None
        if r >= len(info.regions):
            _denoise_slab(run, ing, info, info.slabs[r - len(info.regions)], src, reg, within)
            mark_done(outdir, ing.name, r)
            if progress:
                progress(n + 1)
            raise_if_stopped()
            continue
        i, y0, y1 = info.regions[r]
        # The generator is the plane's (random numbers are keyed by absolute row): any split
        # gives the same result.
        lo, hi = context_rows(y0, y1, height, info.margin, info.grid)
        rng = np.random.default_rng([run.options.seed, i])
        restored, std = restore_plane(read_plane(src, axes, indices[i], slice(lo, hi)), info.plan, reg, rng, origin=lo,
                                      progress=within)
        core = slice(y0 - lo, y1 - lo)
        write_plane(arr, axes, indices[i], cast_like(restored[core], arr.dtype), slice(y0, y1))
        if std_arr is not None:
            std = std[core] if std is not None else np.zeros_like(restored[core])
            write_plane(std_arr, axes, indices[i], std.astype(np.float32), slice(y0, y1))
        mark_done(outdir, ing.name, r)
        if progress:
            progress(n + 1)
        raise_if_stopped()  # a signal whose exception Python dropped stops the run here
    return len(batch)


def _denoise_slab(run: CheckedRun, ing: Ingested, info: DenoisePlan, slab: tuple[str, int, int, int], src, reg,
                  progress: Callable[[float], None] | None) -> None:
    """Restore one slab's zx or zy planes (read from the working copy at once) into its
    orientation's array."""
    orientation, v, first, end = slab
    outdir = _outdir(run)
    axes, shape = ing.item.axes, tuple(ing.item.shape)
    axis = slab_axis(orientation)
    key = volume_key(axes, volume_indices(axes, shape)[v], axis, slice(first, end))
    part = part_array(outdir, ing.name, orientation)
    restored, std = restore_slab(np.asarray(src[key]), volume_axes(axes), orientation, info.plan, reg,
                                 seed=run.options.seed, first=v * shape[axes.index(axis)] + first, dtype=part.dtype,
                                 want_std=info.want_std,
                                 progress=(lambda j: progress(j / (end - first))) if progress else None)
    part[key] = restored
    if info.want_std:
        part_array(outdir, ing.name, orientation + "_std")[key] = std


def _average_parts(run: CheckedRun, ing: Ingested, info: DenoisePlan) -> None:
    """Average the orientations' arrays into the output (and std map), block by block: a block
    is a chunk of every part, so memory stays bounded; doing it again after a crash writes the
    same."""
    outdir = _outdir(run)
    store = open_store(outdir)
    orients = orientations(run.options.planes)
    targets = [(item_array(store, ing.name), "")] + ([(std_array(store, ing.name), "_std")] if info.want_std else [])
    for target, suffix in targets:
        parts = [part_array(outdir, ing.name, o + suffix) for o in orients]
        block = tuple(max(sides) for sides in zip(*(p.chunks for p in parts)))
        for key in chunk_blocks(target.shape, block):
            target[key] = average_parts([p[key] for p in parts], target.dtype)


def finish_denoise(run: CheckedRun, ing: Ingested, info: DenoisePlan, noise: NoiseProfile) -> Restored:
    """Mark the item complete (after all its data), with its provenance: with several
    orientations, once they are averaged into the output (the working arrays are then removed)."""
    outdir = _outdir(run)
    store = open_store(outdir)
    missing = info.total - len(progress_done(outdir, ing.name))
    if missing:
        raise RuntimeError(f"{ing.name}: {missing} regions were not written")
    if len(orientations(run.options.planes)) > 1:
        _average_parts(run, ing, info)
    seconds = time.time() - info.started
    prov = provenance(run, ing, info, noise, seconds)
    if info.want_std:
        finish_item(store, ing.name + "_std", {**prov, "of": ing.name}, ing.item.attrs)
    finish_item(store, ing.name, prov, ing.item.attrs)  # pyramid and OME metadata, then provenance
    remove_parts(outdir, ing.name)
    clear_progress(outdir, ing.name)
    return Restored(seconds)


def denoise(run: CheckedRun, ing: Ingested, norm: Normalized, noise: NoiseProfile,
            progress: Callable[[int, int], None] | None = None) -> Restored:
    """Restore every plane into restored.zarr in this process, resuming after completed planes;
    ``progress(done, total)`` as regions (and, where the denoiser says, parts of one) are done."""
    if ing.skip:
        return Restored(0.0, skipped=True)
    info = plan_denoise(run, ing, norm, noise)
    todo = [r for batch in info.batches for r in batch]
    before = info.total - len(todo)
    # One pass: the arrays and the registry opened once for all the regions.
    denoise_planes(run, ing, info, todo, (lambda done: progress(before + done, info.total)) if progress else None)
    if progress and not todo:
        progress(info.total, info.total)
    return finish_denoise(run, ing, info, noise)


def provenance(run: CheckedRun, ing: Ingested, info: DenoisePlan, noise: NoiseProfile, seconds: float) -> dict:
    """What restored.zarr records about an item: where it came from, what was found and done."""
    reg = registry()
    item, plan, o = ing.item, info.plan, run.options
    return {
        "source": item.source, "array_path": item.array_path, "format": item.format,
        "fingerprint": ing.fingerprint, "request_key": run.key(), "axes": item.axes, "input_attrs": item.attrs,
        "noise": [{"channel": r["channel"], "noise": r["noise"],
                   "params": {p: r[p] for p in reg.get("noise", r["noise"]).params}} for r in noise.rows],
        "noise_rows": noise.rows, "transforms": plan.transforms, "transforms_space": plan.transforms_space,
        "denoiser": plan.denoiser, "options": plan.options, "identity": run.identity, "rgb": plan.rgb,
        "seed": o.seed, "planes": o.planes, "seeds": "numpy default_rng([seed, plane index]) per plane" + (
            "; zx and zy planes of z-volume v: default_rng([seed, 1, v * ny + y]) and default_rng([seed, 2, v * nx + x])"
            if o.planes != "yx" else ""),
        "calibration": run.calibration, "dark": o.dark,
        "output_dtype": str(output_dtype(item.dtype, o.output_dtype)), "version": __version__,
        "seconds": round(seconds, 3),
    }


#: quality.csv's columns.
QUALITY_COLUMNS = ["name", "status", "noise", "denoiser", "options", "psnr", "ssim", "residual_sigma", "seconds", "error",
                   "warning"]


def changed_options(options: RunOptions) -> str:
    """The denoiser options the user set, as ``k=v`` pairs (quality.csv's ``options``)."""
    return " ".join(f"{k}={v}" for k, v in options.denoiser_options.items() if v is not None)


def assess(run: CheckedRun, ing: Ingested) -> dict:
    """The item's quality.csv row (PSNR/SSIM with a reference; residual noise; seconds)."""
    from ..report import compare, residual_sigma

    store = open_store(_outdir(run), mode="r")
    arr = item_array(store, ing.name)
    prov = item_provenance(store, ing.name) or {}
    row = {"name": ing.name, "status": "ok", "noise": "+".join(sorted({r["noise"] for r in prov.get("noise_rows", [])})),
           "denoiser": prov.get("denoiser"), "options": changed_options(run.options),
           "psnr": np.nan, "ssim": np.nan, "residual_sigma": residual_sigma(sample_planes(arr, ing.item.axes)),
           "seconds": prov.get("seconds"), "error": "", "warning": ""}
    if ing.entry.reference is not None:
        figures = compare(arr, ing.entry.reference.open(), ing.item.axes, np.dtype(ing.item.dtype))
        if left_out := figures.pop("left_out"):  # a repair, said once: the figures stand on the rest
            row["warning"] = (f"reference {ing.entry.reference.source}: {left_out} non-finite values, left out of "
                              "psnr and ssim")
        row.update(figures)
    return row
