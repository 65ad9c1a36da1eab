"""Real servers on loopback for the tests: a Prefect server (SQLite or PostgreSQL behind it) and a
throwaway PostgreSQL cluster. Every process is started in a process group of ours and stopped."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from processes import ProcessGroups

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(home: Path, url: str | None = None, **settings: str) -> dict:
    """This process's environment without its Prefect settings, with ``home`` as PREFECT_HOME,
    fast schedules and polling, ``url`` as PREFECT_API_URL and ``settings`` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               # Fast schedules and polling so a test sees runs within seconds.
               PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2", PREFECT_RUNNER_POLL_FREQUENCY="1",
               PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false")
    env.update(settings)
    if url:
        env["PREFECT_API_URL"] = url
    return env


def start_prefect_server(home: Path, spawn: ProcessGroups, **settings: str) -> dict:
    """``prefect server start`` on a free loopback port with ``home`` as PREFECT_HOME and the
    server ``settings`` (e.g. its database URL), started in ``spawn`` (which stops it).

    Returns the server's ``url``, ``home`` and the ``env`` a client or worker of it runs with.
    """
    port = free_port()
    with open(home / "server.log", "w") as log:
        proc = spawn.start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                           env=server_env(home, **settings), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    return {"url": url, "home": home, "env": server_env(home, url)}


def start_moto_server(spawn: ProcessGroups, log_path: Path, **env: str) -> str:
    """moto's standalone S3 server on a free loopback port, started in ``spawn`` (which stops
    it) with ``env`` added to its environment; its URL, once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        proc = spawn.start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                           stdout=log, stderr=log, env={**os.environ, **env})
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                return url
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"moto_server did not start: {log_path.read_text()[-2000:]}") from None
            time.sleep(0.2)


def postgres_bin() -> Path:
    """The directory of Debian's PostgreSQL server programs (``initdb``, ``pg_ctl``), newest first;
    fails the test (CI installs them: ``.ci/install-postgresql.sh``) when there are none."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parents[1].name))
    if found:
        return found[-1].parent
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(shutil.which("initdb")).parent
    pytest.fail("PostgreSQL server programs (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin nor on "
                "PATH: install them with `bash .ci/install-postgresql.sh` (apt-get install postgresql)")


@contextmanager
def throwaway_postgres(user: str = "prefect", database: str = "prefect") -> Iterator[str]:
    """A PostgreSQL cluster initialised in a new temporary directory, listening on a free
    loopback port (and on a socket in that directory), with a login role ``user`` (a random
    password, no superuser) owning the new ``database``, as the README's recipe makes them; stopped
    and deleted on exit.

    initdb refuses to run as root: as root the cluster belongs to Debian's ``postgres`` account.

    Yields
    ------
    str
        The SQLAlchemy URL of ``database`` for Prefect (``postgresql+asyncpg://...``).
    """
    bindir = postgres_bin()
    owner = {}
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root, initdb needs an unprivileged account: Debian's postgresql "
                        "package creates `postgres`, and there is none")
        owner = {"user": account.pw_uid, "group": account.pw_gid}
    # Not under pytest's temporary directory: its parents are private to root.
    root = Path(tempfile.mkdtemp(prefix="restoration-test-pg-"))
    data, password, port = root / "data", secrets.token_urlsafe(16), free_port()
    if owner:
        os.chown(root, owner["user"], owner["group"])

    def run(*args: str, stdin: str | None = None) -> None:
        r = subprocess.run([str(bindir / args[0]), *args[1:]], input=stdin, capture_output=True, text=True,
                           timeout=120, cwd=root, **owner)
        if r.returncode:
            log = (root / "server.log").read_text()[-2000:] if (root / "server.log").exists() else ""
            raise RuntimeError(f"{args[0]} failed: {r.stdout}{r.stderr}{log}")

    try:
        # Only the cluster's account (and root) can enter the directory of its socket: trusted there;
        # every TCP login needs a password. No fsync: the cluster is thrown away.
        run("initdb", "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256",
            "-E", "UTF8", "--no-sync")
        run("pg_ctl", "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "120", "start", "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off")
        try:
            admin = ("-h", str(root), "-p", str(port), "-U", "postgres")
            run("psql", "-X", *admin, "-v", "ON_ERROR_STOP=1", "-d", "postgres",  # the password on stdin, not argv
                stdin=f"CREATE ROLE {user} LOGIN PASSWORD '{password}';")
            run("createdb", *admin, "-O", user, database)
            yield f"postgresql+asyncpg://{user}:{password}@127.0.0.1:{port}/{database}"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)
