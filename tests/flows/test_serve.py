"""`restoration serve` against a real Prefect server: scheduled runs restore only what is new."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

BIN = Path(sys.executable).parent

TASKS = ("ingest", "normalize", "characterize-noise", "denoise", "quality-report")


def _drop(path: Path, seed: int, age: float = 120) -> None:
    """A noisy ramp at ``path``, last modified ``age`` seconds ago (default: past the settle time)."""
    rng = np.random.default_rng(seed)
    clean = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    np.save(path, clean + rng.normal(0, 0.1, clean.shape).astype(np.float32))
    old = time.time() - age
    os.utime(path, (old, old))


def _complete(outroot: Path, name: str) -> bool:
    import zarr

    try:  # the dataset first.npy is restored into OUTROOT/first.npy/, its item is named first
        arr = zarr.open_group(str(outroot / f"{name}.npy" / "restored.zarr"), mode="r")[name]
    except Exception:
        return False
    # and the run recorded the dataset as done (written after the tables and the report)
    return arr.attrs.get("restoration", {}).get("complete") is True and (outroot / f"{name}.npy" / "watch.json").is_file()


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def _wait(predicate, timeout: float, what: str, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"serve exited early: {proc.stdout.read()[-3000:]}")
        time.sleep(1)
    printed = ""
    if proc is not None:  # what serve printed says why: stop it (its group) and read it all
        os.killpg(proc.pid, signal.SIGINT)
        try:
            printed = proc.communicate(timeout=30)[0][-3000:]
        except subprocess.TimeoutExpired:
            proc.kill()
            printed = proc.communicate()[0][-3000:]
    raise AssertionError(f"timed out waiting for {what}; serve printed: {printed}")

@pytest.mark.serial  # Ctrl-C stops serving within 3 s
def test_serve_restores_new_datasets_only(prefect_server, tmp_path, spawn):
    url = prefect_server["url"]
    watch, outroot = tmp_path / "incoming", tmp_path / "restored"
    watch.mkdir()
    _drop(watch / "first.npy", 1)
    env = prefect_server["env"]
    # Its flow runs are subprocesses of its own: stopping its group at the end stops them too.
    proc = spawn.start([str(BIN / "restoration"), "serve", "--watch", str(watch), "-o", str(outroot),
                        "--interval", "4", "--denoiser", "nlm", "--settle", "5"], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    _wait(lambda: _complete(outroot, "first"), 240, "the first dataset", proc)
    before = _snapshot(outroot / "first.npy")
    _drop(watch / "second.npy", 2)
    _wait(lambda: _complete(outroot, "second"), 240, "the second dataset", proc)
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from prefect.settings import PREFECT_API_URL, temporary_settings

    # Earlier tests in this process used the temporary API: point this client at the server.
    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("restore-dataset/scheduled")
        assert dep.entrypoint == "restoration_flows.flow.restore_dataset"
        # Later scheduled runs find nothing new and change nothing.
        n_before = len([r for r in client.read_flow_runs() if r.deployment_id == dep.id and r.state.is_completed()])
        _wait(lambda: len([r for r in client.read_flow_runs()
                           if r.deployment_id == dep.id and r.state.is_completed()]) >= n_before + 2, 120,
              "two more scheduled runs", proc)
        assert _snapshot(outroot / "first.npy") == before
        # A run triggered by hand, as the README shows, restores a file dropped in just now: it
        # waits for the file to settle (5 s here) instead of leaving it to the next run.
        _drop(watch / "third.npy", 3, age=0)
        # The README's command, as written: --watch follows the run until it ends.
        r = subprocess.run([str(BIN / "prefect"), "deployment", "run", "restore-dataset/scheduled", "--watch"],
                           env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        _wait(lambda: _complete(outroot, "third"), 240, "the third dataset", proc)
        _wait(lambda: any(not r.auto_scheduled and r.state.is_completed() for r in client.read_flow_runs()
                          if r.deployment_id == dep.id), 240, "the manual run", proc)
        assert _snapshot(outroot / "first.npy") == before
        runs = [r for r in client.read_flow_runs() if r.deployment_id == dep.id]
        completed = [r for r in runs if r.state.is_completed()]
        assert completed and not [r for r in runs if r.state.is_failed()]
        # The run that restored the second dataset: every task name ran, all COMPLETED.
        restoring = None
        for run in completed:
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            if any(t.name == "denoise-second" for t in task_runs):
                restoring = (run, task_runs)
        assert restoring is not None
        run, task_runs = restoring
        for name in TASKS:
            mine = [t for t in task_runs if t.name.startswith(name + "-")]
            assert mine, name
            assert all(t.state.is_completed() for t in mine), [(t.name, t.state.type) for t in mine]
        artifacts = {a.key: a for a in client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
                     if a.key}
        assert {"noise-profile", "quality-report", "restoration-report"} <= set(artifacts)
        import json

        quality = json.loads(artifacts["quality-report"].data) if isinstance(artifacts["quality-report"].data, str) \
            else artifacts["quality-report"].data
        assert [row["name"] for row in quality] == ["second"] and quality[0]["status"] == "ok"
        noise = json.loads(artifacts["noise-profile"].data) if isinstance(artifacts["noise-profile"].data, str) \
            else artifacts["noise-profile"].data
        assert noise[0]["noise"] == "gaussian" and abs(noise[0]["sigma (input units)"] - 0.1) < 0.02
        assert "second" in artifacts["restoration-report"].data
        summary = artifacts["restoration-report"].data
        assert "(file:///" in summary and "/report.html)" in summary and "/restored.zarr)" in summary, summary
        # the library's own log lines reach the run's logs (and so the UI)
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
        assert any("restored second" in entry.message for entry in logs), [e.message for e in logs][:20]
        # One run at a time, held by the server too; polls that found nothing say so in the list.
        limit = dep.global_concurrency_limit.limit if dep.global_concurrency_limit else dep.concurrency_limit
        assert limit == 1
        assert any(r.state.name == "Nothing new" for r in completed), {r.state.name for r in completed}
        assert run.name.startswith("watch-restored-")
    proc.send_signal(signal.SIGINT)  # Ctrl-C: serving stops in seconds, with one line (issue 23)
    sent = time.monotonic()
    assert proc.wait(30) == 130
    assert time.monotonic() - sent <= 3
    printed = proc.stdout.read()
    assert printed.strip().splitlines()[-1].startswith("interrupted: serving stopped"), printed[-500:]
    assert f"{run.name}: started" in printed and f"{run.name}: 1 restored, 0 failed into {outroot}" in printed, printed


def test_a_run_reads_on_its_own_in_the_ui(prefect_server, tmp_path):
    """Through the real server's API: the run is named after OUTDIR, the CLI prints its page, the
    logs say what was found and how well it went, tables are rounded with units, the summary holds
    the results table and the failure, and the failed item is a Failed task run with its reason."""
    import json

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    (tmp_path / "in").mkdir()
    (tmp_path / "ref").mkdir()
    for name, seed in (("good", 1), ("bad", 2)):
        _drop(tmp_path / "in" / f"{name}.npy", seed)
    clean = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    np.save(tmp_path / "ref" / "good.npy", clean)
    np.save(tmp_path / "ref" / "bad.npy", clean[:32])                      # another shape: bad fails alone
    r = subprocess.run([str(BIN / "restoration"), "run", str(tmp_path / "in"), "-o", str(tmp_path / "nightly"),
                        "--reference", str(tmp_path / "ref"), "--denoiser", "nlm"], env=prefect_server["env"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr                           # one item failed
    (page,) = [line for line in r.stderr.splitlines() + r.stdout.splitlines() if line.startswith("Prefect UI: ")]
    run_id = page.rstrip("/").rsplit("/", 1)[-1]
    with temporary_settings({PREFECT_API_URL: prefect_server["url"]}), get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        assert run.name.startswith("restore-nightly-") and run.state.is_failed()
        logs = [e.message for e in client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))]
        assert any(m.startswith("good: noise gaussian sigma=0.") and "input's units" in m for m in logs), logs
        assert any(m.startswith("good: psnr ") and " dB, ssim " in m for m in logs), logs
        assert any(m.startswith("denoiser nlm") for m in logs) and any(m.startswith("report: /") for m in logs), logs
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        (failed,) = [t for t in tasks if t.name == "failed-bad"]
        assert failed.state.is_failed() and "reference shape (32, 64)" in failed.state.message, failed.state.message
        assert all(t.state.is_completed() for t in tasks if t.name.endswith("-good"))
        artifacts = {a.key: a for a in client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
                     if a.key}
        assert "denoise-good" in artifacts                                  # progress, keyed per item
        quality = artifacts["quality-report"].data
        quality = json.loads(quality) if isinstance(quality, str) else quality
        good = next(row for row in quality if row["name"] == "good")
        assert good["psnr (dB)"] == float(f"{good['psnr (dB)']:.4g}") and "seconds" in good
        summary = artifacts["restoration-report"].data
        assert "| `good` | ok | gaussian |" in summary and "**failed** `bad`" in summary and "reference shape" in summary


def test_serve_refuses_the_ephemeral_api(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    (tmp_path / "w").mkdir()
    r = subprocess.run([str(BIN / "restoration"), "serve", "--watch", str(tmp_path / "w"), "-o", str(tmp_path / "o"),
                        "--interval", "60"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "prefect server start" in lines[0] and "PREFECT_API_URL" in lines[0]


def test_serve_watches_a_bucket(prefect_server, bucket, s3_server, spawn):
    """``serve --watch s3://...``: a zarr store and a ``.tif`` uploaded to the bucket are restored
    into the bucket, once: later scheduled runs find them done and rewrite nothing."""
    import io

    import fsspec
    import tifffile
    import zarr

    from restoration.store import item_provenance, open_store

    fs = fsspec.filesystem("s3")
    rng = np.random.default_rng(5)
    clean = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    zarr.create_array(store=f"{bucket}/incoming/first.zarr", data=clean + rng.normal(0, 0.1, clean.shape).astype(np.float32))
    outdir = f"{bucket}/restored/first.zarr"
    tif = io.BytesIO()
    tifffile.imwrite(tif, (clean[:48] * 1000 + rng.normal(0, 60, (48, 64))).astype(np.uint16))
    fs.pipe_file(f"{bucket.removeprefix('s3://')}/incoming/cells.tif", tif.getvalue())
    fs.invalidate_cache()
    uploaded = {k: (v["LastModified"], v["ETag"]) for k, v in fs.find(f"{bucket}/incoming", detail=True).items()}
    env = {**prefect_server["env"], **s3_server["env"]}
    proc = spawn.start([str(BIN / "restoration"), "serve", "--watch", f"{bucket}/incoming", "-o", f"{bucket}/restored",
                        "--interval", "3", "--denoiser", "nlm", "--settle", "1", "--name", "bucket"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def restored() -> bool:
        fs.invalidate_cache()
        # written after the item, the tables and the report
        return fs.exists(f"{outdir}/watch.json") and fs.exists(f"{bucket}/restored/cells.tif/watch.json")

    _wait(restored, 240, "the datasets in the bucket", proc)
    assert item_provenance(open_store(outdir, mode="r"), "first")["complete"] is True
    assert item_provenance(open_store(f"{bucket}/restored/cells.tif", mode="r"), "cells")["complete"] is True
    assert {"noise.csv", "quality.csv", "report.html", "run.json"} <= {p.rsplit("/", 1)[-1] for p in fs.ls(outdir)}

    def stamps(prefix: str = "restored") -> dict:
        fs.invalidate_cache()
        return {k: (v["LastModified"], v["ETag"]) for k, v in fs.find(f"{bucket}/{prefix}", detail=True).items()}

    before = stamps()
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_server["url"]}), get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("restore-dataset/bucket")

        def completed() -> int:
            return len([r for r in client.read_flow_runs() if r.deployment_id == dep.id and r.state.is_completed()])

        n = completed()
        _wait(lambda: completed() >= n + 1, 120, "another scheduled run", proc)
    assert stamps() == before  # restored once
    assert stamps("incoming") == uploaded  # the input untouched
