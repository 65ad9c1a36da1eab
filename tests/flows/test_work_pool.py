"""The README's work-pool recipe, as written, against a real Prefect server whose database is
SQLite or PostgreSQL: a process work pool, ``prefect deploy --all`` from the repository's
``prefect.yaml``, a ``prefect worker``, a run triggered with ``prefect deployment run``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from servers import start_prefect_server, throwaway_postgres

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
POOL = "restoration-pool"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="module")
def pool_servers(tmp_path_factory, module_spawn):
    """A Prefect server per database (SQLite in its home; PostgreSQL in a throwaway cluster),
    started side by side (a server takes many seconds to start), or why it did not start; the
    servers, then the cluster, are stopped after the module."""
    with contextlib.ExitStack() as databases:

        def start(backend: str) -> dict:
            home = tmp_path_factory.mktemp(f"prefect-{backend}")
            # No scheduler: prefect.yaml's nightly schedule must not start a run during the test.
            settings = {"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}
            url = databases.enter_context(throwaway_postgres()) if backend == "postgresql" else None
            if url:
                settings["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = url
            return {**start_prefect_server(home, module_spawn, **settings), "database": url}

        try:
            with ThreadPoolExecutor(len(BACKENDS)) as pool:
                started = {backend: pool.submit(start, backend) for backend in BACKENDS}
            # A backend that did not start fails its own test only.
            yield {backend: future.exception() or future.result() for backend, future in started.items()}
        finally:
            module_spawn.stop()  # before the cluster stops


def _state_in_postgres(url: str, run_id) -> str:
    """The run's state type as the PostgreSQL database holds it (asyncpg: Prefect's own driver)."""
    import asyncio

    import asyncpg

    async def query():
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return await conn.fetchval("SELECT state_type FROM flow_run WHERE id = $1", run_id)
        finally:
            await conn.close()

    return asyncio.run(query())


def _prefect(env: dict, *args: str, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run ``prefect ARGS`` (no terminal: nothing prompts), return its output; fail on an error."""
    r = subprocess.run([str(BIN / "prefect"), *args], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"prefect {' '.join(args)}: {r.stdout[-3000:]}{r.stderr[-3000:]}"
    return r.stdout + r.stderr


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_of_the_pool_runs_the_deployment_from_prefect_yaml(backend, pool_servers, tmp_path, spawn):
    pool_server = pool_servers[backend]
    if isinstance(pool_server, BaseException):  # e.g. no PostgreSQL installed: fail, saying so
        raise pool_server
    env = {**pool_server["env"], "PREFECT_WORKER_QUERY_SECONDS": "1"}  # the worker polls every second
    watch, outroot = tmp_path / "incoming", tmp_path / "restored"
    watch.mkdir()
    # A 128 x 128 crop of the sample image (fast), written long ago: settled, not still being copied.
    noisy, clean = (np.load(REPO / "data" / kind / "camera_gaussian.npy")[160:288, 192:320] for kind in ("noisy", "clean"))
    np.save(watch / "camera_gaussian.npy", noisy)
    os.utime(watch / "camera_gaussian.npy", (time.time() - 3600,) * 2)
    given = (watch / "camera_gaussian.npy").read_bytes()
    # The README's recipe ("Deploying to a work pool"), command for command.
    _prefect(env, "work-pool", "create", POOL, "--type", "process")
    with open(tmp_path / "worker.log", "w") as log:  # the worker keeps its own copy of the file
        spawn.start([str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--limit", "1"], env=env,
                    stdout=log, stderr=subprocess.STDOUT)
    _prefect(env, "deploy", "--all", cwd=REPO)
    _prefect(env, "deployment", "run", "restore-dataset/scheduled", "--param", f"watch={watch}",
             "--param", f"outroot={outroot}", "--param", 'options={"denoiser": "nlm"}', "--watch", timeout=400)

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: pool_server["url"]}), get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("restore-dataset/scheduled")
        # deployed as prefect.yaml declares it
        assert dep.entrypoint == "restoration_flows.flow.restore_dataset" and dep.work_pool_name == POOL
        assert [s.schedule.cron for s in dep.schedules] == ["0 2 * * *"] and dep.parameters["watch"] == "/data/incoming"
        limit = dep.global_concurrency_limit.limit if dep.global_concurrency_limit else dep.concurrency_limit
        assert limit == 1
        (run,) = [r for r in client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))
                  if not r.auto_scheduled]
        assert run.state.type.value == "COMPLETED", (run.state, run.state.message)
        assert run.state.message == f"1 restored, 0 failed into {outroot}"
        assert run.work_pool_name == POOL and run.parameters["watch"] == str(watch)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        assert "denoise-camera_gaussian" in {t.name for t in tasks}
        assert all(t.state.is_completed() for t in tasks), [(t.name, t.state.type) for t in tasks]
    if pool_server["database"]:  # the server kept it in PostgreSQL, and made no SQLite database
        assert _state_in_postgres(pool_server["database"], run.id) == "COMPLETED"
        assert not list(pool_server["home"].rglob("*.db")), list(pool_server["home"].rglob("*.db"))
    spawn.stop()  # the worker, before its server goes
    # That worker ran it, in a process of its own.
    assert f"submitting flow run '{run.id}'" in (tmp_path / "worker.log").read_text()

    import zarr

    out = outroot / "camera_gaussian.npy"
    assert {"report.html", "quality.csv", "noise.csv", "run.json", "watch.json"} <= {p.name for p in out.iterdir()}
    item = zarr.open_group(str(out / "restored.zarr"), mode="r")["camera_gaussian"]
    assert item.attrs["restoration"]["complete"] is True
    restored = np.asarray(item["0"] if isinstance(item, zarr.Group) else item)
    assert restored.shape == noisy.shape and np.isfinite(restored).all()
    # Restored, not copied: much closer to the clean image than the input was.
    assert np.mean((restored - clean) ** 2) < np.mean((noisy - clean) ** 2) / 4
    assert (watch / "camera_gaussian.npy").read_bytes() == given  # the input untouched
