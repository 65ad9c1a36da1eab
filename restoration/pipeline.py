"""The file-based restoration pipeline, one function per stage (called by the Prefect tasks).

Stages pass small JSON-able dicts and paths, never arrays: ``prepare`` -> per item ``ingest`` ->
``normalize`` -> ``characterize`` -> ``denoise`` -> ``assess``; then ``finish`` writes the tables
and the report. Every function here works without Prefect.
"""

from __future__ import annotations

import glob
import hashlib
import json
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


def validate(request: dict) -> dict:
    """Check option values (exit 2 on unknown names) and fill derived fields (model id)."""
    check_outdir(request)
    reg = registry()
    if request.get("noise", "auto") != "auto":
        reg.get("noise", request["noise"])
    for name in request.get("transforms") or []:
        if name != "none":
            reg.get("transform", name)
    den = request.get("denoiser") or "diffusion"
    reg.get("denoiser", den)
    check_method(request.get("method", "mmse"))
    if (request.get("colour") or "auto") not in COLOUR_MODES:
        raise InputError(f"unknown colour mode {request['colour']!r} (valid: {', '.join(COLOUR_MODES)})")
    for key in ("steps", "samples"):
        if request.get(key) is not None and int(request[key]) < 1:
            raise InputError(f"--{key} must be >= 1")
    if int(request.get("seed") or 0) < 0:  # numpy's generators take non-negative seeds only
        raise InputError("--seed must be >= 0")
    out = dict(request, denoiser=den)
    out["device_kind"] = request.get("device", "auto")
    out["calibration"] = calibration(gain=request.get("gain"), read_noise=request.get("read_noise"),
                                     offset=request.get("offset"), dark=request.get("dark"))
    output_dtype(np.float32, request.get("output_dtype"))  # an unknown choice exits 2 here
    if den == "diffusion":
        from .diffusion.checkpoint import CheckpointError
        from .diffusion.model import load_model
        try:
            out["model_id"] = load_model(request.get("model")).model_id
        except CheckpointError as exc:
            raise InputError(str(exc)) from None
    else:
        out["model_id"] = None
    out["inputs_resolved"] = [os.path.realpath(p) if "://" not in p else p for p in request["inputs"]]
    return out


def prepare(request: dict) -> dict:
    """Discover items and references, and settle resume versus ``--overwrite`` of OUTDIR.

    Returns ``{"request": ..., "items": [...], "failed": [...]}``; a problem with one input becomes a
    failed item, a problem with the run as a whole raises :class:`InputError`.
    """
    from .io import discover

    request = validate(request)
    outdir = Path(request["outdir"])  # validate() has checked it is not inside an input directory
    sig = request_signature(request)
    previous = read_json(outdir / RUN_FILE)
    has_outputs = (outdir / STORE).exists()
    if has_outputs and (not isinstance(previous, dict) or previous.get("signature") != sig):
        if not request.get("overwrite"):
            raise InputError("holds a restoration made with other inputs or parameters; use --overwrite to replace it",
                             path=str(outdir))
        clear_outputs(outdir)
    elif request.get("overwrite"):
        clear_outputs(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(outdir / RUN_FILE, json.dumps({"signature": sig, "version": __version__}, indent=1))

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
            items.append({"name": it.name, "source": it.source, "array_path": it.array_path, "format": it.format,
                          "shape": list(it.shape), "dtype": str(it.dtype), "axes": it.axes, "attrs": it.attrs,
                          "reference": None})
    if request.get("reference"):
        refs = {r.name: r for r in discover(list(request["reference"]))}
        for item in items:
            ref = refs.get(item["name"])
            if ref is None:
                item["error"] = f"{item['source']}: no reference named {item['name']!r} among {', '.join(request['reference'])}"
            elif list(ref.shape) != item["shape"]:
                item["error"] = f"{ref.source}: reference shape {tuple(ref.shape)} differs from the input's {tuple(item['shape'])}"
            else:
                item["reference"] = {"name": ref.name, "source": ref.source, "array_path": ref.array_path, "format": ref.format,
                                     "shape": list(ref.shape), "dtype": str(ref.dtype), "axes": ref.axes, "attrs": ref.attrs}
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


#: Report planes larger than this on a side are read subsampled (every k-th pixel), plus 1:1 centre
#: crops: the report never holds a whole large plane.
REPORT_SIDE = 2048


def _report_view(arr, axes: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The middle plane of ``arr`` (the middle z/t plane of stacks), subsampled to at most
    REPORT_SIDE a side, and its full-resolution centre crop when subsampled (else None)."""
    from .report_plots import DETAIL_SIDE

    index = (indices := plane_indices(axes, arr.shape))[len(indices) // 2]
    h, w = arr.shape[axes.index("y")], arr.shape[axes.index("x")]
    k = -(-max(h, w) // REPORT_SIDE)
    if k == 1:
        return read_plane(arr, axes, index), None
    crop = read_plane(arr, axes, index, *centre_window(h, w, DETAIL_SIDE))
    return read_plane(arr, axes, index, slice(None, None, k), slice(None, None, k)), crop


def assess(request: dict, ing: dict) -> dict:
    """The item's quality.csv row (PSNR/SSIM with a reference; residual noise; seconds)."""
    from .quality import compare, residual_sigma

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


def report_item(request: dict, ing: dict, status: str, error: str, noise_rows: list[dict], quality: dict):
    """Planes and tables of one item for report.html (the middle plane of stacks)."""
    from .report import ReportItem

    item = ReportItem(name=ing["name"], status=status, error=error, noise=_merge_rows(noise_rows), quality=quality)
    if status != "ok":
        return item
    store = open_store(Path(request["outdir"]), mode="r")
    axes = ing["axes"]
    noisy = _item_obj(ing).open()
    item.noisy, noisy_crop = _report_view(noisy, axes)
    item.restored, restored_crop = _report_view(store[ing["name"]], axes)
    reference_crop = None
    if ing["name"] + "_std" in store:
        item.std = _report_view(store[ing["name"] + "_std"], axes)[0]
    if ing.get("reference"):
        item.reference, reference_crop = _report_view(_item_obj(ing["reference"]).open(), axes)
    if noisy_crop is not None:
        item.full_size = (noisy.shape[axes.index("y")], noisy.shape[axes.index("x")])
        item.crops = (noisy_crop, restored_crop, reference_crop)
    item.provenance = item_provenance(store, ing["name"]) or {}
    return item


def _merge_rows(rows: list[dict]) -> dict:
    if not rows:
        return {}
    merged = dict(rows[0])
    if len(rows) > 1:  # per-channel values side by side
        for key in rows[0]:
            vals = [r.get(key) for r in rows]
            if any(v != vals[0] for v in vals):
                merged[key] = vals
    return merged


def finish(request: dict, results: list[dict], run_info: dict) -> dict:
    """Write noise.csv, quality.csv and report.html; drop the working store when all succeeded.

    ``results``: per item ``{"item": item or ingest dict, "quality": row, "noise_rows": [...]}``.
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
            "noise_table": frame.to_dict(orient="records"), "quality_table": quality.to_dict(orient="records")}


def failed_quality(name: str, error: str, request: dict) -> dict:
    return {"name": name, "status": "failed", "noise": "", "denoiser": request.get("denoiser"),
            "method": request.get("method", "mmse"), "psnr": np.nan, "ssim": np.nan, "residual_sigma": np.nan,
            "seconds": np.nan, "error": error}
