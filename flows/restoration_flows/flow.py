"""The ``restore-dataset`` flow: thin Prefect tasks over :mod:`restoration.pipeline`.

Tasks pass paths and small dicts, never arrays. One item failing never stops the others; the run
then ends Failed with a one-line summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import traceback
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from prefect.futures import as_completed
from prefect.states import Completed, Failed

from restoration import __version__, pipeline
from restoration.errors import InputError, printable
from restoration.storage import STORE, RunLock
from restoration.watch import record, scan

from .console import console

log = logging.getLogger("restoration")
# Prefect attaches its API handler to this logger (PREFECT_LOGGING_EXTRA_LOGGERS) but leaves its
# level alone, and the root's WARNING would drop the library's INFO lines before they reach the UI.
log.setLevel(logging.INFO)


def _retry_io(task, task_run, state) -> bool:
    """Retry transient I/O failures, never bad input."""
    try:
        exc = state.result(raise_on_failure=False)
    except Exception:
        return True
    return isinstance(exc, OSError) and not isinstance(exc, (InputError, FileNotFoundError))


@task(name="ingest", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retry_io)
def discover_task(request: dict) -> dict:
    return pipeline.prepare(request)


@task(name="ingest", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retry_io)
def ingest_task(request: dict, item: dict) -> dict:
    return pipeline.ingest(request, item)


@task(name="normalize")
def normalize_task(request: dict, ing: dict) -> dict:
    return pipeline.normalize(request, ing)


@task(name="characterize-noise")
def characterize_task(request: dict, ing: dict) -> dict:
    return pipeline.characterize(request, ing)


@task(name="denoise")
def denoise_task(request: dict, ing: dict, norm: dict, noise: dict) -> dict:
    name = ing["name"]
    artifact = create_progress_artifact(0.0, description=f"denoising {name}")
    last = [0.0]

    def progress(done: int, total: int) -> None:
        console.progress(f"denoise {name}", done, total)
        pct = 100.0 * done / total
        if pct - last[0] >= 5 or done == total:
            update_progress_artifact(artifact, pct)
            last[0] = pct

    result = pipeline.denoise(request, ing, norm, noise, progress=progress)
    log.info("restored %s in %.1f s", name, result["seconds"])
    return result


@task(name="denoise")
def denoise_plan_task(request: dict, ing: dict, norm: dict, noise: dict) -> dict:
    return pipeline.plan_denoise(request, ing, norm, noise)


@task(name="denoise")
def denoise_batch_task(request: dict, ing: dict, info: dict, batch: list[int]) -> int:
    return pipeline.denoise_planes(request, ing, info, batch)


@task(name="denoise")
def denoise_finish_task(request: dict, ing: dict, info: dict, noise: dict) -> dict:
    return pipeline.finish_denoise(request, ing, info, noise)


def _denoise_distributed(request: dict, ing: dict, norm: dict, noise: dict) -> None:
    """Plane batches as task runs on the flow's task runner (a Dask cluster): zarr paths travel,
    never arrays."""
    name = ing["name"]
    if ing.get("skip"):
        denoise_task.with_options(task_run_name=f"denoise-{name}")(request, ing, norm, noise)
        return
    info = denoise_plan_task.with_options(task_run_name=f"denoise-{name}-plan")(request, ing, norm, noise)
    artifact = create_progress_artifact(0.0, description=f"denoising {name}")
    futures = [denoise_batch_task.with_options(task_run_name=f"denoise-{name}-batch{i}").submit(request, ing, info, batch)
               for i, batch in enumerate(info["batches"])]
    done = info["total"] - sum(len(b) for b in info["batches"])
    for future in as_completed(futures):
        done += future.result()
        console.progress(f"denoise {name}", done, info["total"])
        update_progress_artifact(artifact, 100.0 * done / info["total"])
    denoise_finish_task.with_options(task_run_name=f"denoise-{name}-finish")(request, ing, info, noise)


@task(name="quality-report")
def assess_task(request: dict, ing: dict) -> dict:
    return pipeline.assess(request, ing)


@task(name="quality-report", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retry_io)
def summary_task(request: dict, results: list[dict], run_info: dict) -> dict:
    return pipeline.finish(request, results, run_info)


def one_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, escaped to one printable line (or its type's name)."""
    text = str(exc).strip().splitlines()
    return printable(text[0]) if text else type(exc).__name__


def _where(item: dict) -> str:
    """The item's file (plus its array path inside a zarr store), for messages."""
    source = str(item.get("source") or item["name"])
    return printable(f"{source.rstrip('/')}/{item['array_path']}" if item.get("array_path") else source)


def _naming(message: str, item: dict) -> str:
    """``message`` prefixed with the item's file unless it already names it (or its reference)."""
    where = _where(item)
    named = [where] + [printable(str(src or "")) for src in (item.get("source"), (item.get("reference") or {}).get("source"))]
    return message if any(n and n in message for n in named) else f"{where}: {message}"


def _restore_item(request: dict, item: dict, distributed: bool = False) -> dict:
    name = item["name"]
    rows: list[dict] = []
    try:
        ing = ingest_task.with_options(task_run_name=f"ingest-{name}")(request, item)
        norm = normalize_task.with_options(task_run_name=f"normalize-{name}")(request, ing)
        noise = characterize_task.with_options(task_run_name=f"characterize-noise-{name}")(request, ing)
        rows = noise["rows"]
        if distributed:
            _denoise_distributed(request, ing, norm, noise)
        else:
            denoise_task.with_options(task_run_name=f"denoise-{name}")(request, ing, norm, noise)
        quality = assess_task.with_options(task_run_name=f"quality-report-{name}")(request, ing)
        return {"item": ing, "quality": quality, "noise_rows": rows}
    except Exception as exc:  # one item failing must not stop the others
        message = one_line(exc) if isinstance(exc, InputError) else f"internal error: {one_line(exc)}"
        message = _naming(message, item)  # errors from later stages ("all values are NaN") name no file
        get_run_logger().error("item %s failed: %s\n%s", name, message, traceback.format_exc())
        console.line(f"failed: {name}: {message}")
        return {"item": item, "quality": pipeline.failed_quality(name, message, request), "noise_rows": rows}


def _clean(records: list[dict]) -> list[dict]:
    """NaN is not JSON: tables in artifacts show it as empty."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in records]


def _run_request(request: dict, distributed: bool = False) -> dict:
    """Restore one OUTDIR's worth of inputs; returns the summary of pipeline.finish."""
    started = dt.datetime.now(dt.timezone.utc)
    outdir = request["outdir"]
    pipeline.check_outdir(request)  # before the lock creates anything in OUTDIR
    with RunLock(outdir):
        plan = discover_task.with_options(task_run_name=f"ingest-discover-{Path(outdir).name}")(request)
        request = {**plan["request"], "distributed": distributed}
        results = [{"item": {"name": f["name"], "source": f["name"]},
                    "quality": pipeline.failed_quality(f["name"], f["error"], request), "noise_rows": []}
                   for f in plan["failed"]]
        for f in plan["failed"]:
            console.line(f"failed: {f['name']}: {f['error']}")
        for item in plan["items"]:
            results.append(_restore_item(request, item, distributed))
        run_info = {k: request.get(k) for k in ("inputs", "outdir", "noise", "sigma", "transforms", "denoiser", "method",
                                                 "steps", "samples", "model_id", "seed", "calibration", "output_dtype",
                                                 "colour", "ensemble")}
        run_info.update(version=__version__, started=started.isoformat(),
                        finished=dt.datetime.now(dt.timezone.utc).isoformat())
        return summary_task.with_options(task_run_name=f"quality-report-summary-{Path(outdir).name}")(request, results, run_info)


def _publish(summaries: list[dict], where: str) -> list[dict]:
    """The three artifacts of a run; returns the failed rows."""
    noise_rows = [r for s in summaries for r in s["noise_table"]]
    quality_rows = [r for s in summaries for r in s["quality_table"]]
    create_table_artifact(key="noise-profile", table=_clean(noise_rows), description=f"Noise per item and channel ({where})")
    create_table_artifact(key="quality-report", table=_clean(quality_rows), description=f"Restoration quality per item ({where})")
    failed = [r for r in quality_rows if r["status"] != "ok"]
    lines = [f"# Restoration of {len(quality_rows)} item(s) into {where}", "",
             f"- ok: {len(quality_rows) - len(failed)}, failed: {len(failed)}"]
    for s in summaries:  # absolute file links: the UI opens them wherever the run was started
        report = Path(s["report"]).resolve()
        store = report.parent / STORE
        lines.append(f"- report: [{report}]({report.as_uri()}); data: [{store}]({store.as_uri()})")
    lines += [f"- **failed** `{r['name']}`: {r['error']}" for r in failed]
    if not summaries:
        lines.append("- nothing new to restore")
    create_markdown_artifact(key="restoration-report", markdown="\n".join(lines), description="Restoration summary")
    return failed


def outcome(summaries: list[dict]) -> str:
    """What runs did, e.g. ``4 already complete, 2 restored, 0 failed`` (complete items of a
    resumed run are skipped)."""
    rows = [r for s in summaries for r in s["quality_table"]]
    failed = sum(r["status"] != "ok" for r in rows)
    skipped = sum(len(s.get("skipped", [])) for s in summaries)
    return (f"{skipped} already complete, " if skipped else "") + f"{len(rows) - failed - skipped} restored, {failed} failed"


def _final_state(summaries: list[dict], where: str):
    failed = [r for s in summaries for r in s["quality_table"] if r["status"] != "ok"]
    data = {"summaries": summaries}
    if failed:
        names = ", ".join(f"{r['name']} ({r['error']})" for r in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        return Failed(message=f"{outcome(summaries)} into {where}: {names}{more}", data=data)
    return Completed(message=f"{outcome(summaries)} into {where}", data=data)


def _watch(request: dict, watch: str, outroot: str, distributed: bool = False) -> list[dict]:
    params = {k: request[k] for k in sorted(request) if k not in ("inputs", "outdir", "overwrite")}
    found = scan(watch, outroot, params)
    log.info("watch %s: %d pending, %d done, %d still being written, %d failed before and unchanged",
             watch, len(found["pending"]), len(found["done"]), len(found["waiting"]), len(found["failed"]))
    if not Path(watch).is_dir():
        log.warning("watch %s: the folder does not exist (now); nothing to restore", watch)
    summaries = []
    for pending in found["pending"]:
        sub = dict(request, inputs=[pending["entry"]], outdir=pending["outdir"], overwrite=pending["overwrite"])
        try:
            summary = _run_request(sub, distributed)
            ok = summary["failed"] == 0
            error = "; ".join(r["error"] for r in summary["quality_table"] if r["status"] != "ok")
        except Exception as exc:  # a dataset that fails as a whole is remembered, the others go on
            ok, error = False, one_line(exc)
            get_run_logger().error("dataset %s failed: %s\n%s", pending["entry"], error, traceback.format_exc())
            summary = {"noise_table": [], "report": "", "quality_table": [
                pipeline.failed_quality(printable(Path(pending["entry"]).name), error, request)]}
        if record(outroot, pending, params, ok=ok, error=error):
            summaries.append(summary)
        else:
            log.warning("dataset %s vanished during its run; it is restored when it comes back", pending["entry"])
    return summaries


@flow(name="restore-dataset", log_prints=False)
def restore_dataset(inputs: list[str] | None = None, outdir: str | None = None, reference: list[str] | None = None,
                    noise: str = "auto", sigma: float | None = None, transforms: list[str] | None = None,
                    denoiser: str | None = None, method: str = "mmse", steps: int | None = None, samples: int = 1,
                    model: str | None = None, device: str = "auto", seed: int = 0, axes: str | None = None,
                    overwrite: bool = False, watch: str | None = None, outroot: str | None = None,
                    distributed: bool = False, gain: float | None = None, read_noise: float | None = None,
                    offset: float | None = None, dark: str | None = None, output_dtype: str = "auto",
                    colour: str = "auto", ensemble: bool = False) -> Any:
    """Restore ``inputs`` into ``outdir`` (ingest, normalize, characterize-noise, denoise,
    quality-report) and publish the noise-profile, quality-report and restoration-report artifacts.

    With ``watch`` and ``outroot`` instead (scheduled runs), every dataset of the folder ``watch``
    without a complete restoration in ``outroot`` is restored into ``outroot/<entry name>``.
    ``distributed`` submits plane batches to the flow's task runner (set a DaskTaskRunner with
    ``restore_dataset.with_options(task_runner=...)``) instead of denoising in this process.
    ``gain``, ``read_noise``, ``offset`` (ADU) and ``dark`` (a dark-frame file) fix camera
    parameters; ``output_dtype`` is ``auto`` (float32 for integer data), ``input`` or ``float32``.
    ``colour`` (``auto``, ``joint``, ``per-channel``) and ``ensemble`` are the diffusion
    denoiser's colour handling and geometric self-ensemble.
    """
    request = {"inputs": list(inputs or []), "outdir": str(outdir) if outdir else None,
               "reference": list(reference) if reference else None, "noise": noise, "sigma": sigma,
               "transforms": list(transforms) if transforms else None, "denoiser": denoiser, "method": method,
               "steps": steps, "samples": samples, "model": model, "device": device, "seed": seed, "axes": axes,
               "overwrite": overwrite, "gain": gain, "read_noise": read_noise, "offset": offset, "dark": dark,
               "output_dtype": output_dtype, "colour": colour, "ensemble": ensemble}
    if watch:
        if not outroot:
            raise InputError("watch needs outroot")
        pipeline.check_outdir({"inputs": [watch], "outdir": outroot})  # scheduled runs must not read their output
        summaries = _watch(request, watch, outroot, distributed)
        where = outroot
    else:
        if not inputs or not outdir:
            raise InputError("restore-dataset needs inputs and outdir (or watch and outroot)")
        summaries = [_run_request(request, distributed)]
        where = outdir
    _publish(summaries, where)
    return _final_state(summaries, where)
