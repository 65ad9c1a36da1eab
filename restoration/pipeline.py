"""The file-based restoration pipeline, one function per stage (called by the Prefect tasks).

Stages pass small JSON-able dicts and paths, never arrays: ``prepare`` -> per item ``ingest`` ->
``normalize`` -> ``characterize`` -> ``denoise`` -> ``assess``; then ``finish`` writes the tables
and the report. Every function here works without Prefect.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__
from .errors import InputError, printable
from .denoisers.colour import MODES as COLOUR_MODES
from .planning import (colour_mode, centre_window, characterize_sample, fit_transforms, make_plan, plane_indices, plane_regions, read_plane,
                       sample_planes, write_plane)
from .plugins import registry
from .noise.camera import calibration
from .restore import PlanePlan, cast_like, check_method, denoiser_options, output_dtype, restore_plane
from .storage import (MANAGED, RUN_FILE, STORE, WORK, chunk_side, clear_outputs, clear_progress, create_item_array, item_provenance,
                      mark_complete, mark_done, open_store, progress_done, read_json, start_progress,
                      write_csv, write_text_atomic)

PARAMS = ("noise", "sigma", "transforms", "denoiser", "method", "steps", "samples", "model_id", "device_kind", "seed", "axes",
          "calibration", "dark", "output_dtype", "colour", "ensemble")


def _item_obj(item: dict):
    from .io import Item

    return Item(name=item["name"], source=item["source"], array_path=item["array_path"], format=item["format"],
                shape=tuple(item["shape"]), dtype=np.dtype(item["dtype"]), axes=item["axes"], attrs=item["attrs"])


def request_signature(request: dict) -> dict:
    """What must match for an existing OUTDIR to be resumed."""
    return {k: request.get(k) for k in PARAMS} | {"inputs": request["inputs_resolved"]}


def signature_key(sig: dict) -> str:
    return hashlib.sha256(json.dumps(sig, sort_keys=True).encode()).hexdigest()[:16]


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


def check_outdir(request: dict) -> None:
    """OUTDIR must be a writable local directory that does not overlap an input.

    It may not lie inside an input directory or zarr store, nor inside the directory an input
    pattern searches (the run would write into its own input, and the next run would read its
    own output), and no input may lie inside OUTDIR's outputs (``--overwrite`` would delete it).
    Checked before anything is created, the run lock included: inputs are never modified.

    Raises
    ------
    InputError
        Naming OUTDIR: a URL, an existing non-directory, no permission to create or write it,
        or an overlap with an input.
    """
    from .io.discover import local_path

    spec = request.get("outdir")
    if not spec:
        return
    if "://" in spec:
        raise InputError("output directory must be a local path, not a URL", path=spec)
    outdir = os.path.abspath(os.path.expanduser(spec))
    for inp in request.get("inputs") or []:
        path = local_path(inp)
        if path is None:
            continue
        pattern = glob.has_magic(path)
        where = _glob_base(path) if pattern else path
        if pattern and _inside(outdir, where):
            raise InputError(f"output directory is inside the directory searched by the input pattern {inp}",
                             path=spec)
        if os.path.isdir(where) and _inside(outdir, where):
            raise InputError(f"output directory is inside the input directory {inp}", path=spec)
        if any(_inside(where, os.path.join(outdir, name)) for name in MANAGED):
            raise InputError(f"input {inp} lies in the outputs of this output directory, which the run replaces",
                             path=spec)
    _check_writable(spec, outdir)


def check_options(request: dict) -> dict:
    """Check option values and OUTDIR and fill derived fields (model id), without torch (seconds).

    Returns
    -------
    dict
        ``request`` with ``denoiser``, ``device_kind``, ``calibration``, ``model_id`` and
        ``inputs_resolved`` filled in.

    Raises
    ------
    InputError
        Naming the option: unknown names, values out of range, OUTDIR (see :func:`check_outdir`).
    """
    from .diffusion.files import model_file, model_id

    check_outdir(request)
    reg = registry()
    if request.get("noise", "auto") != "auto":
        reg.get("noise", request["noise"])
    for name in request.get("transforms") or []:
        if name != "none":
            reg.get("transform", name)
    den = request.get("denoiser") or "diffusion"
    accepted = getattr(reg.get("denoiser", den), "options", ())
    check_method(request.get("method", "mmse"))
    if (request.get("colour") or "auto") not in COLOUR_MODES:
        raise InputError(f"unknown colour mode {request['colour']!r} (valid: {', '.join(COLOUR_MODES)})")
    for key in ("steps", "samples"):
        if request.get(key) is not None and int(request[key]) < 1:
            raise InputError(f"--{key} must be >= 1")
    if int(request.get("samples") or 1) > 1 and "samples" not in accepted:  # its std would be all zeros
        raise InputError(f"--samples: the {den} denoiser draws no samples (use --denoiser diffusion)")
    if int(request.get("seed") or 0) < 0:  # numpy's generators take non-negative seeds only
        raise InputError("--seed must be >= 0")
    sigma = request.get("sigma")
    if sigma is not None and not (math.isfinite(float(sigma)) and float(sigma) > 0):
        raise InputError(f"--sigma must be a positive number (a noise std), got {sigma}")
    out = dict(request, denoiser=den)
    out["device_kind"] = request.get("device", "auto")
    out["calibration"] = calibration(gain=request.get("gain"), read_noise=request.get("read_noise"),
                                     offset=request.get("offset"), dark=request.get("dark"))
    output_dtype(np.float32, request.get("output_dtype"))  # an unknown choice exits 2 here
    out["model_id"] = model_id(model_file(request.get("model"))) if den == "diffusion" else None
    out["inputs_resolved"] = [os.path.realpath(p) if "://" not in p else p for p in request["inputs"]]
    return out


def _no_cuda_driver() -> bool:
    """Whether this Linux machine has no CUDA driver library: torch could not use a GPU either, and
    saying so then needs no torch import (seconds)."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return True
    return False


def check_runtime(request: dict) -> None:
    """The checks that need torch: the device exists and the model file loads (``request`` as
    :func:`check_options` returns it).

    Raises
    ------
    InputError
        ``--device cuda`` without a CUDA device, or a model file that is not a usable model.
    """
    den = request["denoiser"]
    device = request.get("device") or "auto"
    if device.startswith("cuda") and "device" in getattr(registry().get("denoiser", den), "options", ()):
        if _no_cuda_driver():
            raise InputError(f"--device {device}: no CUDA device is available (no CUDA driver on this machine)")
        from .diffusion.train import resolve_device

        resolve_device(device)
    if den == "diffusion":
        from .diffusion.checkpoint import CheckpointError
        from .diffusion.model import load_model
        try:
            load_model(request.get("model"))
        except CheckpointError as exc:
            raise InputError(str(exc)) from None


def validate(request: dict) -> dict:
    """:func:`check_options` then :func:`check_runtime`: every option checked, derived fields filled."""
    out = check_options(request)
    check_runtime(out)
    return out


def _holds_complete(outdir: Path) -> bool:
    """Whether OUTDIR's restored.zarr holds an item marked complete (an unreadable one is assumed
    to: it is not a run's to delete without ``--overwrite``)."""
    try:
        store = open_store(outdir, mode="r")
        return any((item_provenance(store, name) or {}).get("complete") is True for name in store.array_keys())
    except Exception:
        return True


def stale_outputs(request: dict) -> bool:
    """Whether OUTDIR's outputs are to be cleared before the run (``request`` as
    :func:`check_options` returns it): with ``overwrite``, or when they come from another request
    and nothing in them completed (a run in which every item failed never blocks the next).

    Raises
    ------
    InputError
        Naming OUTDIR, when it holds complete items of another request and ``overwrite`` is not set.
    """
    outdir = Path(request["outdir"])
    if request.get("overwrite"):
        return True
    if not (outdir / STORE).exists():
        return False
    previous = read_json(outdir / RUN_FILE)
    if isinstance(previous, dict) and previous.get("signature") == request_signature(request):
        return False
    if _holds_complete(outdir):
        raise InputError("holds a restoration made with other inputs or parameters; use --overwrite to replace it",
                         path=str(outdir))
    return True


def _item_dict(it) -> dict:
    return {"name": it.name, "source": it.source, "array_path": it.array_path, "format": it.format,
            "shape": list(it.shape), "dtype": str(it.dtype), "axes": it.axes, "attrs": it.attrs}


def discover_items(request: dict) -> tuple[list[dict], list[dict]]:
    """The items of the request's inputs, paired with their references; header reads only.

    Returns
    -------
    items : list of dict
        JSON-able; ``error`` is set on an item whose reference is missing or of another shape.
    failed : list of dict
        ``{"name", "error"}`` per input, or entry of a directory, glob or zarr group, that cannot
        be restored: it fails alone.

    Raises
    ------
    InputError
        For the run as a whole: two items with one name, or references that cannot be read.
    """
    from .io import discover

    items, failed, seen = [], [], {}
    for inp in request["inputs"]:
        try:
            found = discover([inp], axes=request.get("axes"),  # a bad file of a directory fails alone
                             on_error=lambda name, exc: failed.append({"name": name, "error": str(exc)}))
        except InputError as exc:
            failed.append({"name": printable(Path(inp.rstrip("/")).stem or inp), "error": str(exc)})
            continue
        for it in found:
            if it.name in seen:
                raise InputError(f"two items named {it.name!r}: {seen[it.name]} and {it.source}")
            seen[it.name] = it.source
            items.append(_item_dict(it) | {"reference": None})
    if request.get("reference"):
        refs = {r.name: r for r in discover(list(request["reference"]))}
        for item in items:
            ref = refs.get(item["name"])
            if ref is None:
                item["error"] = f"{item['source']}: no reference named {item['name']!r} among {', '.join(request['reference'])}"
            elif list(ref.shape) != item["shape"]:
                item["error"] = f"{ref.source}: reference shape {tuple(ref.shape)} differs from the input's {tuple(item['shape'])}"
            else:
                item["reference"] = _item_dict(ref)
    return items, failed


#: ``--samples N`` over more pixels than this in all (channels not counted) warns of its cost.
SAMPLES_WARN_PIXELS = 1 << 22


def _cost_warnings(request: dict, items: list[dict]) -> list[str]:
    """One line when ``--samples`` > 1 on large data: how many times the cost of ``--samples 1``."""
    samples = int(request.get("samples") or 1)
    pixels = sum(math.prod(n for n, a in zip(it["shape"], it["axes"]) if a != "c") for it in items)
    if samples <= 1 or pixels <= SAMPLES_WARN_PIXELS:
        return []
    factor, how = samples, f"{samples} restorations"
    if request["denoiser"] == "diffusion":
        from .denoisers.diffusion import chain_calls

        method, steps = request.get("method", "mmse"), request.get("steps")
        calls = chain_calls(method=method, steps=steps, samples=samples)
        factor = samples * calls / chain_calls(method=method, steps=steps)
        how = f"{samples} posterior chains of up to {calls} network passes each"
    return [f"--samples {samples} on {pixels / 1e6:.1f} Mpx takes about {factor:.0f}x the time of --samples 1 ({how})"]


def preflight(request: dict) -> dict:
    """Every mistake that can be known before any work, found in seconds (header reads only).

    Options and OUTDIR (:func:`check_options`), a foreign restoration in OUTDIR
    (:func:`stale_outputs`), the inputs and references (:func:`discover_items`), then the device
    and the model file (:func:`check_runtime`). Nothing is created or modified.

    Returns
    -------
    dict
        ``{"request", "items", "failed", "warnings"}``: the checked request, the items, the entries
        that will fail alone (the others are still restored) and one-line cost warnings.

    Raises
    ------
    InputError
        One line naming the file or option; also when no input holds anything to restore.
    """
    req = check_options(request)
    stale_outputs(req)
    items, failed = discover_items(req)
    usable = [it for it in items if not it.get("error")]
    if not usable:
        problems = [f["error"] for f in failed] + [it["error"] for it in items]
        if len(problems) == 1:
            raise InputError(problems[0])
        more = f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise InputError(f"nothing to restore: {'; '.join(problems[:3])}{more}")
    check_runtime(req)
    return {"request": req, "items": items, "failed": failed, "warnings": _cost_warnings(req, usable)}


def prepare(request: dict) -> dict:
    """Discover items and references, and settle resume versus ``--overwrite`` of OUTDIR.

    Returns ``{"request": ..., "items": [...], "failed": [...]}``; a problem with one input becomes a
    failed item, a problem with the run as a whole raises :class:`InputError`.
    """
    request = validate(request)
    outdir = Path(request["outdir"])  # validate() has checked it is not inside an input directory
    if stale_outputs(request):
        clear_outputs(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(outdir / RUN_FILE, json.dumps({"signature": request_signature(request), "version": __version__},
                                                    indent=1))
    items, failed = discover_items(request)
    return {"request": request, "items": items, "failed": failed}


def ingest(request: dict, item: dict) -> dict:
    """Fingerprint the input; copy it into the run's working store unless already restored."""
    from .io import fingerprint, ingest as ingest_array
    import zarr

    if item.get("error"):
        raise InputError(item["error"])
    outdir = Path(request["outdir"])
    obj = _item_obj(item)
    fp = fingerprint(obj)
    store = open_store(outdir)
    prov = item_provenance(store, item["name"])
    key = signature_key(request_signature(request))
    if prov and prov.get("complete") is True:
        if prov.get("fingerprint") == fp and prov.get("request_key") == key:
            return {**item, "fingerprint": fp, "skip": True}
        if not request.get("overwrite"):
            raise InputError("changed since it was restored into the output directory; use --overwrite", path=item["source"])
    work = zarr.open_group(str(outdir / WORK / "ingest.zarr"), mode="a", zarr_format=3)
    if item["name"] not in work or work[item["name"]].attrs.get("fingerprint") != fp:  # resumed: copied already
        ingest_array(obj, work)
    return {**item, "fingerprint": fp, "skip": False, "work": str(outdir / WORK / "ingest.zarr"), "request_key": key}


def _work_array(ing: dict):
    import zarr

    return zarr.open_group(ing["work"], mode="r")[ing["name"]]


def _stored(request: dict, ing: dict) -> dict:
    return item_provenance(open_store(Path(request["outdir"]), mode="r"), ing["name"]) or {}


def normalize(request: dict, ing: dict) -> dict:
    """Fit the transform chain on a sample of the item (states are JSON, stored in provenance)."""
    if ing.get("skip"):
        return {"transforms": _stored(request, ing).get("transforms", [])}
    sample = sample_planes(_work_array(ing), ing["axes"])
    return {"transforms": fit_transforms(sample, request.get("transforms"), registry())}


def characterize(request: dict, ing: dict) -> dict:
    """Noise model and parameters per channel, in the input's units (noise.csv rows)."""
    if ing.get("skip"):
        return {"rows": _stored(request, ing).get("noise_rows", [])}
    sample = sample_planes(_work_array(ing), ing["axes"])
    rows = characterize_sample(sample, "c" in ing["axes"], registry(), noise=request.get("noise", "auto"),
                               sigma=request.get("sigma"), fixed=request.get("calibration"))
    return {"rows": [{"name": ing["name"], **r} for r in rows]}


BATCHES = 64  # most work units per item: tens of tasks on a cluster, not thousands
#: On a cluster (``request["distributed"]``) an item is cut into about this many regions, so a
#: single large plane keeps several workers busy; never below SPREAD_MIN_PIXELS a region, where
#: the context rows each band reads would start to cost more than the parallelism gains.
SPREAD_REGIONS = 16
SPREAD_MIN_PIXELS = 1 << 21


def region_pixels() -> int:
    """Largest region restored at once (``RESTORATION_REGION_PIXELS``, default 4 Mpx): bounds
    memory whatever the array's size; larger planes are restored in bands of rows. Larger
    regions cost about 40 bytes a pixel and save only the context rows each band re-reads
    (5 to 17 % of the compute on 4096- to 8192-wide planes)."""
    return int(os.environ.get("RESTORATION_REGION_PIXELS", 1 << 22))


def plan_denoise(request: dict, ing: dict, norm: dict, noise: dict) -> dict:
    """Decide how every plane is restored, create (or reopen, when resuming) the output arrays,
    and split the regions still to do into batches. Returns a small JSON-able dict."""
    reg = registry()
    src = _work_array(ing)
    axes, shape, dtype = ing["axes"], tuple(ing["shape"]), np.dtype(ing["dtype"])
    options = denoiser_options(reg, request["denoiser"], {k: request.get(k) for k in ("method", "steps", "samples", "model", "device",
                                                                                      "ensemble")}
                               | {"colour": colour_mode(request.get("colour"), ing["format"], ing["attrs"], axes, shape)})
    plan = make_plan(sample_planes(src, axes), noise["rows"], norm["transforms"], request.get("transforms"),
                     request["denoiser"], options, reg)
    outdir = Path(request["outdir"])
    store = open_store(outdir)
    budget = region_pixels()
    if request.get("distributed"):
        budget = min(budget, max(SPREAD_MIN_PIXELS, int(np.prod(shape)) // SPREAD_REGIONS))
    regions = plane_regions(axes, shape, budget, min(chunk_side(), shape[axes.index("y")]))
    key = signature_key({"plan": plan.to_dict(), "fp": ing["fingerprint"], "req": ing["request_key"], "regions": regions})
    done = start_progress(outdir, ing["name"], key)
    want_std = int(request.get("samples") or 1) > 1
    if done and ing["name"] not in store:  # markers without their data: start over
        clear_progress(outdir, ing["name"])
        done = start_progress(outdir, ing["name"], key)
    if not done:
        arr = create_item_array(store, ing["name"], shape, output_dtype(dtype, request.get("output_dtype")), axes)
        arr.attrs.update(ing["attrs"] or {})  # OME axes, pixel sizes, resolution: carried over
        if want_std:
            create_item_array(store, ing["name"] + "_std", shape, np.float32, axes)
    split = len(regions) > len(plane_indices(axes, shape))
    den = reg.get("denoiser", request["denoiser"])
    margin = den.context(**options, masked=plan.masked) if split else 0
    todo = [r for r in range(len(regions)) if r not in done]
    size = max(1, -(-len(todo) // BATCHES))
    return {"plan": plan.to_dict(), "want_std": want_std, "total": len(regions), "regions": regions, "margin": margin,
            "grid": den.grid(**options) if split else 1,
            "batches": [todo[i:i + size] for i in range(0, len(todo), size)], "started": time.time()}


def denoise_planes(request: dict, ing: dict, info: dict, batch: list[int]) -> int:
    """Restore the regions ``batch`` (indices into ``info["regions"]``) into the output. Regions
    are whole planes or chunk-aligned bands of rows, read with ``info["margin"]`` rows of context:
    batches run in any order, in any process, without two writers on one chunk."""
    reg = registry()
    plan = PlanePlan.from_dict(info["plan"])
    src = _work_array(ing)
    outdir = Path(request["outdir"])
    store = open_store(outdir)
    arr = store[ing["name"]]
    std_arr = store[ing["name"] + "_std"] if info["want_std"] else None
    axes = ing["axes"]
    indices = plane_indices(axes, tuple(ing["shape"]))
    height = ing["shape"][axes.index("y")]
    for r in batch:
        i, y0, y1 = info["regions"][r]
        # The read starts and ends on the denoiser's grid counted from either edge of the plane,
        # so the band (and any flip of it) is seen as in the whole plane; the generator is the
        # plane's (random numbers are keyed by absolute row): any split gives the same result.
        g = info["grid"]
        lo = max(0, y0 - info["margin"]) // g * g
        hi = height - (height - min(height, y1 + info["margin"])) // g * g
        rng = np.random.default_rng([int(request.get("seed", 0)), i])
        restored, std = restore_plane(read_plane(src, axes, indices[i], slice(lo, hi)), plan, reg, rng, origin=lo)
        core = slice(y0 - lo, y1 - lo)
        write_plane(arr, axes, indices[i], cast_like(restored[core], arr.dtype), slice(y0, y1))
        if std_arr is not None:
            std = std[core] if std is not None else np.zeros_like(restored[core])
            write_plane(std_arr, axes, indices[i], std.astype(np.float32), slice(y0, y1))
        mark_done(outdir, ing["name"], r)
    return len(batch)


def finish_denoise(request: dict, ing: dict, info: dict, noise: dict) -> dict:
    """Mark the item complete (after all its data), with its provenance."""
    outdir = Path(request["outdir"])
    store = open_store(outdir)
    missing = info["total"] - len(progress_done(outdir, ing["name"]))
    if missing:
        raise RuntimeError(f"{ing['name']}: {missing} planes were not written")
    seconds = time.time() - info["started"]
    prov = provenance(request, ing, PlanePlan.from_dict(info["plan"]), noise["rows"], seconds)
    if info["want_std"]:
        mark_complete(store[ing["name"] + "_std"], {**prov, "of": ing["name"]})
    mark_complete(store[ing["name"]], prov)
    clear_progress(outdir, ing["name"])
    return {"seconds": seconds, "plan": info["plan"]}


def denoise(request: dict, ing: dict, norm: dict, noise: dict,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Restore every plane into restored.zarr in this process, resuming after completed planes."""
    if ing.get("skip"):
        return {"seconds": 0.0, "skipped": True}
    info = plan_denoise(request, ing, norm, noise)
    done = info["total"] - sum(len(b) for b in info["batches"])
    for batch in info["batches"]:
        for i in batch:
            denoise_planes(request, ing, info, [i])
            done += 1
            if progress:
                progress(done, info["total"])
    if progress and not info["batches"]:
        progress(info["total"], info["total"])
    return finish_denoise(request, ing, info, noise)


def provenance(request: dict, ing: dict, plan: PlanePlan, rows: list[dict], seconds: float) -> dict:
    return {
        "source": ing["source"], "array_path": ing["array_path"], "format": ing["format"],
        "fingerprint": ing["fingerprint"], "request_key": ing["request_key"], "axes": ing["axes"],
        "input_attrs": ing["attrs"],
        "noise": [{"channel": r["channel"], "noise": r["noise"], "params": {p: r[p] for p in registry().get("noise", r["noise"]).params}}
                  for r in rows],
        "noise_rows": rows, "transforms": plan.transforms, "transforms_space": plan.transforms_space,
        "denoiser": plan.denoiser, "options": plan.options, "method": request.get("method", "mmse"),
        "steps": request.get("steps"), "samples": int(request.get("samples") or 1), "model_id": request.get("model_id"),
        "seed": int(request.get("seed", 0)), "seeds": "numpy default_rng([seed, plane index]) per plane",
        "calibration": request.get("calibration"), "dark": request.get("dark"),
        "output_dtype": str(output_dtype(ing["dtype"], request.get("output_dtype"))),
        "version": __version__, "seconds": round(seconds, 3),
    }


from .report.views import REPORT_SIDE, _merge_rows, _report_view, report_item  # noqa: E402  (moved to restoration/report)


def assess(request: dict, ing: dict) -> dict:
    """The item's quality.csv row (PSNR/SSIM with a reference; residual noise; seconds)."""
    from .report import compare, residual_sigma

    store = open_store(Path(request["outdir"]), mode="r")
    arr = store[ing["name"]]
    prov = item_provenance(store, ing["name"]) or {}
    row = {"name": ing["name"], "status": "ok", "noise": "+".join(sorted({r["noise"] for r in prov.get("noise_rows", [])})),
           "denoiser": prov.get("denoiser"), "method": prov.get("method") if prov.get("denoiser") == "diffusion" else "",
           "psnr": np.nan, "ssim": np.nan, "residual_sigma": residual_sigma(sample_planes(arr, ing["axes"])),
           "seconds": prov.get("seconds"), "error": ""}
    if ing.get("reference"):
        ref = _item_obj(ing["reference"]).open()
        row.update(compare(arr, ref, ing["axes"], np.dtype(ing["dtype"])))
    return row


def finish(request: dict, results: list[dict], run_info: dict) -> dict:
    """Write noise.csv, quality.csv and report.html; drop the working store when all succeeded.

    ``results``: per item ``{"item": item or ingest dict, "quality": row, "noise_rows": [...]}``.
    The summary's ``ok`` counts the items complete before this run too; ``skipped`` names them.
    """
    import shutil

    import pandas as pd

    from .api import noise_frame
    from .report import write_report

    outdir = Path(request["outdir"])
    # Items that failed at discovery arrive first; the tables list every item by name.
    results = sorted(results, key=lambda res: res["quality"]["name"])
    noise_rows = [r for res in results for r in res.get("noise_rows", [])]
    frame = noise_frame(noise_rows) if noise_rows else noise_frame([])
    write_csv(outdir / "noise.csv", frame)
    cols = ["name", "status", "noise", "denoiser", "method", "psnr", "ssim", "residual_sigma", "seconds", "error"]
    quality = pd.DataFrame([res["quality"] for res in results], columns=cols)
    write_csv(outdir / "quality.csv", quality)
    items = [report_item(request, res["item"], res["quality"]["status"], res["quality"]["error"],
                         res.get("noise_rows", []), res["quality"]) for res in results]
    report = write_report(outdir / "report.html", items, run_info)
    failed = [res for res in results if res["quality"]["status"] != "ok"]
    if not failed and (outdir / WORK).exists():
        shutil.rmtree(outdir / WORK)
    return {"noise_csv": str(outdir / "noise.csv"), "quality_csv": str(outdir / "quality.csv"),
            "report": str(report), "ok": len(results) - len(failed), "failed": len(failed),
            "skipped": [res["quality"]["name"] for res in results if res["item"].get("skip")],
            "noise_table": frame.to_dict(orient="records"), "quality_table": quality.to_dict(orient="records")}


def failed_quality(name: str, error: str, request: dict) -> dict:
    return {"name": name, "status": "failed", "noise": "", "denoiser": request.get("denoiser"),
            "method": request.get("method", "mmse"), "psnr": np.nan, "ssim": np.nan, "residual_sigma": np.nan,
            "seconds": np.nan, "error": error}
