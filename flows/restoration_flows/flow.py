"""The ``restore-dataset`` flow: thin Prefect tasks over :mod:`restoration.pipeline`.

Tasks pass the pipeline's typed records (paths and parameters), never arrays. One item failing never stops the others; the run
then ends Failed with a one-line summary.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
import traceback
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.futures import as_completed
from prefect.states import Completed, Failed

from restoration import __version__, pipeline
from restoration.errors import InputError, printable
from restoration.options import CheckedRun, RunOptions
from restoration.pipeline import (DenoisePlan, Entry, Ingested, ItemResult, NoiseProfile, Normalized, Restored)
from restoration.stopping import raise_if_stopped
from restoration.store.files import basename, exists, is_url
from restoration.store.locks import RunLock
from restoration.watch import SETTLE_SECONDS, record, scan, seconds_to_settle

from .artifacts import noise_line, publish, quality_line
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
def discover_task(run: CheckedRun) -> tuple[list[Entry], list[dict]]:
    """Settle resume and discover the entries (:func:`restoration.pipeline.prepare`)."""
    return pipeline.prepare(run)


@task(name="ingest", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retry_io)
def ingest_task(run: CheckedRun, entry: Entry) -> Ingested:
    """The ingest stage (:func:`restoration.pipeline.ingest`)."""
    return pipeline.ingest(run, entry)


@task(name="normalize")
def normalize_task(run: CheckedRun, ing: Ingested) -> Normalized:
    """The normalize stage (:func:`restoration.pipeline.normalize`)."""
    return pipeline.normalize(run, ing)


@task(name="characterize-noise")
def characterize_task(run: CheckedRun, ing: Ingested) -> NoiseProfile:
    """The characterize-noise stage (:func:`restoration.pipeline.characterize`)."""
    return pipeline.characterize(run, ing)


def progress_key(name: str) -> str:
    """The progress artifact's key of an item (lowercase letters, digits and dashes, as Prefect
    requires): ``denoise-<name>``."""
    return "denoise-" + (re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "item")


@task(name="denoise")
def denoise_task(run: CheckedRun, ing: Ingested, norm: Normalized, noise: NoiseProfile) -> Restored:
    """The denoise stage in this process, with a progress bar and a progress artifact."""
    name = ing.name
    artifact = create_progress_artifact(0.0, key=progress_key(name), description=f"denoising {name}")
    last = [0.0]

    def progress(done: int, total: int) -> None:
        console.progress(f"denoise {name}", done, total)
        pct = 100.0 * done / total
        if pct - last[0] >= 5 or done == total:
            update_progress_artifact(artifact, pct)
            last[0] = pct

    result = pipeline.denoise(run, ing, norm, noise, progress=progress)
    log.info("restored %s in %.1f s", name, result.seconds)
    return result


@task(name="denoise")
def denoise_plan_task(run: CheckedRun, ing: Ingested, norm: Normalized, noise: NoiseProfile) -> DenoisePlan:
    """Plan an item's regions for workers (:func:`restoration.pipeline.plan_denoise`)."""
    return pipeline.plan_denoise(run, ing, norm, noise)


@task(name="denoise")
def denoise_batch_task(run: CheckedRun, ing: Ingested, info: DenoisePlan, batch: list[int]) -> int:
    """Restore one batch of regions, on any worker (:func:`restoration.pipeline.denoise_planes`)."""
    return pipeline.denoise_planes(run, ing, info, batch)


@task(name="denoise")
def denoise_finish_task(run: CheckedRun, ing: Ingested, info: DenoisePlan, noise: NoiseProfile) -> Restored:
    """Mark a distributed item complete (:func:`restoration.pipeline.finish_denoise`)."""
    return pipeline.finish_denoise(run, ing, info, noise)


def _denoise_distributed(run: CheckedRun, ing: Ingested, norm: Normalized, noise: NoiseProfile) -> None:
    """Plane batches as task runs on the flow's task runner (a Dask cluster): zarr paths travel,
    never arrays."""
    name = ing.name
    if ing.skip:
        denoise_task.with_options(task_run_name=f"denoise-{name}")(run, ing, norm, noise)
        return
    info = denoise_plan_task.with_options(task_run_name=f"denoise-{name}-plan")(run, ing, norm, noise)
    artifact = create_progress_artifact(0.0, key=progress_key(name), description=f"denoising {name}")
    futures = [denoise_batch_task.with_options(task_run_name=f"denoise-{name}-batch{i}").submit(run, ing, info, batch)
               for i, batch in enumerate(info.batches)]
    done = info.total - sum(len(b) for b in info.batches)
    for future in as_completed(futures):
        done += future.result()
        console.progress(f"denoise {name}", done, info.total)
        update_progress_artifact(artifact, 100.0 * done / info.total)
    denoise_finish_task.with_options(task_run_name=f"denoise-{name}-finish")(run, ing, info, noise)


@task(name="quality-report")
def assess_task(run: CheckedRun, ing: Ingested) -> dict:
    """The item's quality row (:func:`restoration.pipeline.assess`)."""
    return pipeline.assess(run, ing)


@task(name="quality-report", retries=2, retry_delay_seconds=[1, 5], retry_condition_fn=_retry_io)
def summary_task(run: CheckedRun, results: list[ItemResult], run_info: dict) -> dict:
    """The tables and report.html (:func:`restoration.pipeline.finish`)."""
    return pipeline.finish(run, results, run_info)


def one_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, escaped to one printable line (or its type's name)."""
    text = str(exc).strip().splitlines()
    return printable(text[0]) if text else type(exc).__name__


class ItemFailed(Exception):
    """Why an item could not be restored (the message of its failed task run)."""


@task(name="item-failed", retries=0)
def item_failed_task(message: str) -> None:
    """Fail with ``message``: a failed item's own Failed task run in the UI."""
    raise ItemFailed(message)


def _naming(message: str, entry: Entry) -> str:
    """``message`` prefixed with the item's file unless it already names it (or its reference)."""
    where = printable(entry.item.where)
    named = [where, printable(entry.item.source)] + ([printable(entry.reference.source)] if entry.reference else [])
    return message if any(n and n in message for n in named) else f"{where}: {message}"


def _restore_item(run: CheckedRun, entry: Entry) -> ItemResult:
    name = entry.name
    rows: list[dict] = []
    try:
        ing = ingest_task.with_options(task_run_name=f"ingest-{name}")(run, entry)
        norm = normalize_task.with_options(task_run_name=f"normalize-{name}")(run, ing)
        noise = characterize_task.with_options(task_run_name=f"characterize-noise-{name}")(run, ing)
        rows = noise.rows
        log.info("%s: %s", name, noise_line(rows))
        if run.distributed:
            _denoise_distributed(run, ing, norm, noise)
        else:
            denoise_task.with_options(task_run_name=f"denoise-{name}")(run, ing, norm, noise)
        quality = assess_task.with_options(task_run_name=f"quality-report-{name}")(run, ing)
        log.info("%s: %s", name, quality_line(quality))
        if quality["warning"]:
            log.warning("%s: %s", name, quality["warning"])
            console.line(f"warning: {name}: {quality['warning']}")
        return ItemResult(entry, quality, rows, skipped=ing.skip)
    except Exception as exc:  # one item failing must not stop the others
        # Unless it is a stop in disguise: Prefect's engine, interrupted while it sets up a task
        # run, can raise its own error ("Task run is not set") in place of the KeyboardInterrupt.
        raise_if_stopped()
        message = one_line(exc) if isinstance(exc, InputError) else f"internal error: {one_line(exc)}"
        message = _naming(message, entry)  # errors from later stages ("all values are NaN") name no file
        get_run_logger().error("item %s failed: %s\n%s", name, message, traceback.format_exc())
        console.line(f"failed: {name}: {message}")
        # A task run of its own that fails with the reason: the item shows Failed in the UI.
        item_failed_task.with_options(task_run_name=f"failed-{name}")(message, return_state=True)
        return ItemResult(entry, pipeline.failed_quality(name, message, run), rows)


def _run_request(options: RunOptions, distributed: bool = False) -> dict:
    """Restore one OUTDIR's worth of inputs; returns the summary of pipeline.finish."""
    started = dt.datetime.now(dt.timezone.utc)
    run = pipeline.check_options(options, distributed=distributed)  # before the lock creates anything in OUTDIR
    with RunLock(options.outdir):
        pipeline.check_runtime(run)
        log.info("denoiser %s (%s)%s", options.denoiser, ", ".join(f"{k}={v}" for k, v in run.denoiser_options.items()),
                 "".join(f", {k} {v}" for k, v in run.identity.items()))
        entries, failed = discover_task.with_options(task_run_name=f"ingest-discover-{basename(options.outdir)}")(run)
        results = [pipeline.failed_input(f["name"], f["error"], run) for f in failed]
        for f in failed:
            console.line(f"failed: {f['name']}: {f['error']}")
        for entry in entries:
            results.append(_restore_item(run, entry))
        run_info = {"options": options.to_json(), "denoiser_options": run.denoiser_options, "identity": run.identity,
                    "calibration": run.calibration, "version": __version__, "started": started.isoformat(),
                    "finished": dt.datetime.now(dt.timezone.utc).isoformat()}
        summary = summary_task.with_options(task_run_name=f"quality-report-summary-{basename(options.outdir)}")(
            run, results, run_info)
        log.info("report: %s", summary["report"] if is_url(summary["report"]) else Path(summary["report"]).resolve())
        return summary


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
    return Completed(message=f"{outcome(summaries)} into {where}" if summaries else f"nothing new to restore in {where}",
                     data=data)


def flow_run_name() -> str:
    """This flow run's name ("" outside one)."""
    from prefect.runtime import flow_run

    return flow_run.name or ""


def _served_line(text: str) -> None:
    """A line on the output of ``restoration serve`` for the runs of its deployment (the runner
    passes its flow runs' output through)."""
    from prefect.runtime import deployment

    if deployment.id:
        print(text, flush=True)


def _announce() -> None:
    """Print the flow run's page when a Prefect server is configured (not the temporary API)."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() and flow_run.ui_url:
        console.line(f"Prefect UI: {flow_run.ui_url}")
        log.info("run page: %s", flow_run.ui_url)


def _watch(options: RunOptions, watch: str, outroot: str, distributed: bool = False,
           settle: float = SETTLE_SECONDS) -> list[dict]:
    # The default planes stays out, as in the resume signature: folders done before the option existed stay done.
    params = {k: v for k, v in sorted(options.to_json().items())
              if k not in ("inputs", "outdir", "overwrite", "allow_slow") and (k, v) != ("planes", "yx")}
    found = scan(watch, outroot, params, settle=settle)
    if found["waiting"]:  # a file being copied in: wait for it rather than leave it to the next run
        wait = seconds_to_settle(found["waiting"], settle=settle)
        names = ", ".join(basename(w) for w in found["waiting"][:3]) + (" ..." if len(found["waiting"]) > 3 else "")
        log.info("watch %s: waiting %.0f s for %s to settle (unchanged for %g s: not still being written)",
                 watch, wait, names, settle)
        console.line(f"waiting {wait:.0f} s for {names} to settle")
        time.sleep(wait + 0.5)
        found = scan(watch, outroot, params, settle=settle)
    log.info("watch %s: %d pending, %d done, %d still being written, %d failed before and unchanged",
             watch, len(found["pending"]), len(found["done"]), len(found["waiting"]), len(found["failed"]))
    if not (exists(watch) if is_url(watch) else Path(watch).is_dir()):
        log.warning("watch %s: the folder does not exist (now); nothing to restore", watch)
    summaries = []
    for pending in found["pending"]:
        sub = options.replace(inputs=(pending["entry"],), outdir=pending["outdir"], overwrite=pending["overwrite"])
        try:
            summary = _run_request(sub, distributed)
            ok = summary["failed"] == 0
            error = "; ".join(r["error"] for r in summary["quality_table"] if r["status"] != "ok")
        except Exception as exc:  # a dataset that fails as a whole is remembered, the others go on
            ok, error = False, one_line(exc)
            get_run_logger().error("dataset %s failed: %s\n%s", pending["entry"], error, traceback.format_exc())
            summary = {"noise_table": [], "report": "", "quality_table": [
                pipeline.failed_quality(printable(basename(pending["entry"])), error, options)]}
        if record(outroot, pending, params, ok=ok, error=error):
            summaries.append(summary)
        else:
            log.warning("dataset %s vanished during its run; it is restored when it comes back", pending["entry"])
    return summaries


def run_name() -> str:
    """The flow run's name: ``restore-<OUTDIR's name>`` (``watch-<OUTROOT's name>`` for watched
    folders), with the time, so that the runs list reads on its own."""
    from prefect.runtime import flow_run

    params = flow_run.parameters or {}
    options = params.get("options") or {}
    outdir = options.outdir if isinstance(options, RunOptions) else options.get("outdir")
    where = f"watch-{basename(params['outroot'])}" if params.get("watch") and params.get("outroot") \
        else f"restore-{basename(outdir) if outdir else 'nothing'}"
    return f"{where}-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


@flow(name="restore-dataset", flow_run_name=run_name, log_prints=False)
def restore_dataset(options: RunOptions | None = None, watch: str | None = None, outroot: str | None = None,
                    distributed: bool = False, settle: float = SETTLE_SECONDS) -> Any:
    """Restore ``options.inputs`` into ``options.outdir`` (ingest, normalize, characterize-noise,
    denoise, quality-report) and publish the noise-profile, quality-report and restoration-report
    artifacts.

    ``options`` are the :class:`~restoration.options.RunOptions` (what ``restoration run``
    takes; a deployment gives them as a JSON object). With ``watch`` and ``outroot`` instead of
    inputs and outdir (scheduled runs), every dataset of the folder ``watch`` without a complete
    restoration in ``outroot`` is restored into ``outroot/<entry name>``; an entry modified in
    the last ``settle`` seconds is still being copied, and the run waits for it (up to
    ``settle``). A run that finds nothing new ends in the state "Nothing new". ``distributed`` submits
    plane batches to the flow's task runner (set a DaskTaskRunner with
    ``restore_dataset.with_options(task_runner=...)``) instead of denoising in this process.
    """
    options = options if isinstance(options, RunOptions) else RunOptions.from_json(options or {})
    _announce()
    _served_line(f"{flow_run_name()}: started")
    if watch:
        if not outroot:
            raise InputError("watch needs outroot")
        pipeline.check_outdir([watch], outroot)  # scheduled runs must not read their output
        summaries = _watch(options, watch, outroot, distributed, settle)
        where = outroot
    else:
        if not options.inputs or not options.outdir:
            raise InputError("restore-dataset needs options with inputs and outdir (or watch and outroot)")
        summaries = [_run_request(options, distributed)]
        where = options.outdir
    publish(summaries, where)
    state = _final_state(summaries, where)
    _served_line(f"{flow_run_name()}: {state.message}")
    if watch and not summaries:  # a poll that found nothing: marked as such in the runs list
        return Completed(message=state.message, name="Nothing new", data=state.data)
    return state
