"""Shared fixtures: a tiny trained diffusion model (seconds to train), a quiet Prefect setup, and
subprocesses that never outlive their test (nor the session: a leftover one fails the run)."""

from __future__ import annotations

import os
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil  # a dependency of dask.distributed
import pytest
from processes import ProcessGroups
from servers import start_moto_server

# One temporary Prefect home (and so one ephemeral API) per test session, never the user's.
_PREFECT_HOME = Path(os.environ.get("RESTORATION_TEST_PREFECT_HOME", "/tmp/restoration-test-prefect"))
os.environ.setdefault("PREFECT_HOME", str(_PREFECT_HOME))
if "PYTEST_XDIST_WORKER" in os.environ:  # each pytest-xdist worker its own (one SQLite database per API)
    os.environ["PREFECT_HOME"] += "-" + os.environ["PYTEST_XDIST_WORKER"]
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Every process this session starts inherits this mark (environments are copied, not built from
# nothing), so one left behind is found even after it was orphaned, and another session's is not.
SESSION_MARK = "RESTORATION_TEST_SESSION"
os.environ[SESSION_MARK] = f"{os.getpid()}-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-level U-Net trained for 300 steps on scikit-image training images."""
    from restoration.diffusion.train import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    train(TrainConfig(sources=["skimage:brick,grass,moon,text"], output=str(out), steps=300, patch=32, batch=8,
                      widths=(8, 16), blocks=(1, 1), lr=3e-3, warmup=20, synthetic=4, checkpoint_every=300,
                      seed=0, threads=1))
    return out


@pytest.fixture
def spawn():
    """Start subprocesses that are stopped (their whole group) when the test ends, pass or fail."""
    groups = ProcessGroups()
    yield groups
    groups.stop()


@pytest.fixture(scope="module")
def module_spawn():
    """:func:`spawn` for module-scoped fixtures (a server shared by a module's tests)."""
    groups = ProcessGroups()
    yield groups
    groups.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3 API on loopback (moto's standalone server), for the whole session: its URL and
    the environment that points the AWS libraries at it (set in this process too, and so
    inherited by what it starts). One server, since fsspec caches filesystems per endpoint."""
    groups = ProcessGroups()
    try:
        url = start_moto_server(groups, tmp_path_factory.mktemp("moto") / "moto.log")
        env = {"AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": "testing-key", "AWS_SECRET_ACCESS_KEY": "testing-secret",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield {"url": url, "env": env}
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    finally:
        groups.stop()


@pytest.fixture
def bucket(s3_server) -> str:
    """A new, empty bucket on :func:`s3_server` for one test: its ``s3://`` URL."""
    import fsspec

    name = f"test-{uuid.uuid4().hex[:12]}"
    fsspec.filesystem("s3").mkdir(name)
    return f"s3://{name}"


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """``add(module, code, version="0.1", target=None)``: a real distribution with a ``restoration``
    entry point named ``module`` (pointing at ``target``, e.g. ``"mod:plugin"``, else the module) in a
    site directory on ``sys.path`` (pass it as ``PYTHONPATH`` to subprocesses)."""
    from restoration import plugins

    site = tmp_path / "site"
    site.mkdir()
    added = []

    def add(module: str, code: str, version: str = "0.1", target: str | None = None) -> Path:
        (site / f"{module}.py").write_text(textwrap.dedent(code))
        dist = site / f"plugin_{module}-{version}.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: plugin-{module}\nVersion: {version}\n")
        (dist / "entry_points.txt").write_text(f"[restoration]\n{module} = {target or module}\n")
        added.append(module)
        return site

    monkeypatch.syspath_prepend(str(site))
    plugins.reset()
    yield add
    for module in added:
        sys.modules.pop(module, None)
    plugins.reset()


def _temporary_prefect_api() -> set[int]:
    """Pids of the temporary Prefect API that in-process CLI calls started as this process's child,
    and of the guard tied to it: Prefect stops it at exit (stopping it earlier would fail its
    last log flush), and the guard ends with this process."""
    server = sys.modules.get("prefect.server.api.server")
    children = sys.modules.get("restoration_flows.children")
    guard = {children._guard.pid} if children is not None and children._guard is not None else set()
    if server is None:
        return guard
    return guard | {s.server_process.pid for s in server.SubprocessASGIServer._instances.values() if s.server_process}


def _ours(proc: psutil.Process, mark: str, basetemp: str) -> bool:
    try:
        if proc.environ().get(SESSION_MARK) == mark:
            return True
        return any(basetemp in arg for arg in proc.cmdline())
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def leftover_processes(basetemp: str) -> list[psutil.Process]:
    """Live processes this session started (its mark in their environment, or its temporary
    directory on their command line). Not counted: the pytest process, its ancestors, and the
    children that end with it (Prefect's temporary API, multiprocessing's resource tracker).
    """
    me = psutil.Process()
    mine = {me.pid, *(p.pid for p in me.parents()), *_temporary_prefect_api()}
    mark = os.environ[SESSION_MARK]
    found = []
    for proc in psutil.process_iter():
        if proc.pid in mine or not _ours(proc, mark, basetemp):
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE or "multiprocessing.resource_tracker" in " ".join(proc.cmdline()):
                continue
        except psutil.Error:
            continue
        found.append(proc)
    return found


@pytest.hookimpl(trylast=True)  # after the runner's own sessionfinish has torn every fixture down
def pytest_sessionfinish(session, exitstatus):
    basetemp = str(session.config._tmp_path_factory.getbasetemp())  # the tmp_path_factory fixture's
    deadline = time.time() + 10  # processes signalled by a teardown may take a moment to go
    while (left := leftover_processes(basetemp)) and time.time() < deadline:
        time.sleep(0.5)
    if not left:
        return
    lines = []
    for proc in left:
        try:
            lines.append(f"  pid {proc.pid}: {' '.join(proc.cmdline())[:200]}")
            proc.kill()  # found and named: do not leave it running either
        except psutil.Error:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "processes started by the test suite are still running:\n" + "\n".join(lines)
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=True)
    else:
        print(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
