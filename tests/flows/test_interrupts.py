"""Interrupts that stop (issue 23): SIGINT to the command alone, SIGINT to its process group (a
terminal's Ctrl-C) and SIGTERM stop a run within 3 s with one line, exit 130 (143), nothing it
started left running, and the same command then finishes bit-identical to an uninterrupted run.
A SIGKILLed run leaves nothing behind either (its temporary Prefect API, its Dask workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import zarr

from restoration.store import item_array, item_provenance
from restoration.store.layout import LOCK

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.serial  # every test asserts a 3 s stop
WAYS = {"sigint-process": (signal.SIGINT, False, 130), "sigint-group": (signal.SIGINT, True, 130),
        "sigterm": (signal.SIGTERM, False, 143)}


@pytest.fixture(scope="module", autouse=True)
def shared_api(prefect_server):
    """One Prefect server for the module's runs, as a user with a server has: a temporary API
    starts in seconds, and only the runs that test what becomes of it (:func:`own_api`) start one."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("PREFECT_API_URL", prefect_server["url"])
        yield


def own_api() -> dict:
    """The environment of a run that starts (and must stop) its own temporary Prefect API."""
    return {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}


def _stack(path: Path) -> None:
    rng = np.random.default_rng(9)
    np.save(path, (0.5 + rng.normal(0, 0.05, (160, 48, 48))).astype(np.float32))


def _command(vol: Path, out: Path, *extra: str) -> list[str]:
    return [str(BIN / "restoration"), "run", str(vol), "-o", str(out), "--denoiser", "nlm", *extra]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, module_spawn):
    """An uninterrupted run of the stack: what every interrupted one must end as."""
    root = tmp_path_factory.mktemp("interrupts")
    _stack(root / "vol.npy")
    proc = module_spawn.start(_command(root / "vol.npy", root / "ref"), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    assert proc.wait(600) == 0, proc.stderr.read()
    return root


def _descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def interrupt(spawn, args: list[str], ready, way: str, tmp_path: Path, env: dict | None = None) -> dict:
    """Start ``args`` (with ``env``), wait for ``ready()``, stop it the ``way`` of :data:`WAYS`;
    what it did."""
    sig, group, code = WAYS[way]
    with open(tmp_path / "stderr", "w") as stderr:
        proc = spawn.start(args, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    deadline = time.time() + 600
    while not ready():
        assert proc.poll() is None and time.time() < deadline, (tmp_path / "stderr").read_text()
        time.sleep(0.05)
    started = _descendants(proc.pid)
    commands = [" ".join(p.cmdline()) for p in started]
    before = (tmp_path / "stderr").stat().st_size  # what it printed while working is not the point
    sent = time.monotonic()
    if group:
        os.killpg(proc.pid, sig)  # the command's group: a terminal's Ctrl-C
    else:
        proc.send_signal(sig)
    returned = proc.wait(60)
    seconds = time.monotonic() - sent
    _, alive = psutil.wait_procs(started, timeout=5)
    lines = [line for line in (tmp_path / "stderr").read_bytes()[before:].decode().replace("\r", "\n").splitlines()
             if line.strip() and not line.startswith("denoise ")]  # the progress bar shares stderr
    return {"code": returned, "expected": code, "seconds": seconds, "lines": lines, "started": started,
            "commands": commands,
            "alive": [p.pid for p in alive if p.status() != psutil.STATUS_ZOMBIE]}


def assert_stopped(result: dict, word: str) -> None:
    assert result["code"] == result["expected"], result
    assert result["seconds"] <= 3, result
    assert len(result["lines"]) == 1 and result["lines"][0].startswith(word + ": "), result["lines"]
    assert "Traceback" not in result["lines"][0] and "API" not in result["lines"][0]
    assert not result["alive"], result


def _regions_done(out: Path) -> int:
    folder = out / ".work" / "progress" / "vol"
    try:
        return sum(1 for p in folder.iterdir() if p.suffix == ".done")
    except OSError:
        return 0


def assert_resumes_identically(spawn, args: list[str], out: Path, reference: Path) -> None:
    again = spawn.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert again.wait(600) == 0, again.stderr.read()
    a = zarr.open_group(str(reference / "ref" / "restored.zarr"), mode="r")
    b = zarr.open_group(str(out / "restored.zarr"), mode="r")
    assert item_provenance(b, "vol")["complete"] is True
    assert np.array_equal(item_array(a, "vol")[:], item_array(b, "vol")[:])


@pytest.mark.parametrize("way", list(WAYS))
def test_denoise_on_cpu_stops_and_resumes(reference, tmp_path, spawn, way):
    out = tmp_path / "out"
    args = _command(reference / "vol.npy", out)
    result = interrupt(spawn, args, lambda: _regions_done(out) >= 2, way, tmp_path, env=own_api())
    assert_stopped(result, "terminated" if way == "sigterm" else "interrupted")
    assert any("uvicorn" in c for c in result["commands"])  # its own API was running, and is gone
    assert "regions of vol" in result["lines"][0] and "the same command resumes" in result["lines"][0]
    assert item_provenance(zarr.open_group(str(out / "restored.zarr"), mode="r"), "vol")["complete"] is False
    import fcntl

    with open(out / LOCK) as f:  # the lock is free: taken at once
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    if way != "sigint-process":  # stopped as by the group's SIGINT (the same handler): resumed once
        assert_resumes_identically(spawn, args, out, reference)


def test_denoise_in_dask_workers_stops_on_ctrl_c_and_resumes(reference, tmp_path, spawn):
    out = tmp_path / "out"
    args = _command(reference / "vol.npy", out, "--dask-workers", "1")
    result = interrupt(spawn, args, lambda: _regions_done(out) >= 2, "sigint-group", tmp_path)
    assert_stopped(result, "interrupted")
    assert any("multiprocessing-fork" in c for c in result["commands"])  # a Dask worker was running
    assert_resumes_identically(spawn, args, out, reference)


def test_sigkill_leaves_nothing_running(reference, tmp_path, spawn):
    """kill -9 (or the OOM killer) of a run with a local Dask cluster: its temporary Prefect API,
    the guard, the workers and the workers' own temporary APIs are gone within 5 s."""
    out = tmp_path / "out"
    proc = spawn.start(_command(reference / "vol.npy", out, "--dask-workers", "1"), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=own_api())
    deadline = time.time() + 600
    while _regions_done(out) < 2:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    started = _descendants(proc.pid)
    commands = [" ".join(p.cmdline()) for p in started]
    assert any("uvicorn" in c for c in commands) and any("multiprocessing-fork" in c for c in commands)
    proc.kill()  # the command alone, not its group: what it started is on its own now
    proc.wait()
    _, alive = psutil.wait_procs(started, timeout=5)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE], [p.pid for p in alive]


@pytest.mark.parametrize("command", ["train", "adapt"])
def test_training_stops_on_ctrl_c(tmp_path, spawn, tiny_model, command):
    """Training and adaptation stop within 3 s, say where the checkpoint is and how to resume."""
    model = tmp_path / "m.pt"
    if command == "train":
        args = ["train", "skimage:brick", "-o", str(model), "--steps", "100000", "--patch", "32",
                "--batch", "4", "--widths", "8,16", "--blocks", "1,1", "--checkpoint-every", "5", "--threads", "1",
                "--synthetic", "0"]
    else:
        np.save(tmp_path / "noisy.npy", (0.5 + np.random.default_rng(1).normal(0, 0.1, (64, 64))).astype(np.float32))
        args = ["adapt", str(tmp_path / "noisy.npy"), "-o", str(model), "--init", str(tiny_model), "--steps", "100000",
                "--patch", "32", "--batch", "2", "--checkpoint-every", "5", "--threads", "1"]
    state = Path(str(model) + ".state")
    result = interrupt(spawn, [str(BIN / "restoration"), *args], state.is_file, "sigint-group", tmp_path)
    assert_stopped(result, "interrupted")
    assert str(state) in result["lines"][0] and "--resume" in result["lines"][0]


# ---------------------------------------------------------------------------------------------
# The other stages. A plugin (a real distribution on PYTHONPATH) whose transform, noise model or
# denoiser works slowly in the stage named by SLOW_STAGE holds the run there; what makes the
# stage slow is the plugin's, the stopping is the host's. The report stage is slow by itself: a
# reference of many planes to measure.

SLOW_STAGES = """
    import os
    import time

    from restoration import hookimpl
    from restoration.noise.gaussian import GaussianNoise
    from restoration.transforms.scaling import PercentileTransform
    from restoration.types import Denoiser


    def work(stage):
        if os.environ.get("SLOW_STAGE") == stage:  # the test waits for this file, then signals
            open(os.environ["SLOW_STAGE_MARK"], "w").close()
            time.sleep(120)


    class SlowTransform(PercentileTransform):
        name = "slow"

        def fit(self, x):
            work("normalize")
            return super().fit(x)


    class SlowNoise(GaussianNoise):
        name = "slow-gaussian"

        def estimate(self, noisy, **fixed):
            work("characterize")
            return super().estimate(noisy, **fixed)


    class SignalledWhileFinalized:
        def __del__(self):  # the test signals once the mark exists: the handler runs in here
            open(os.environ["SLOW_STAGE_MARK"], "w").close()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                time.sleep(0.01)


    class Copy(Denoiser):
        name = "copy"

        def denoise(self, obs, *, rng, **options):
            if os.environ.get("SLOW_STAGE") == "finalizer" and not os.path.exists(os.environ["SLOW_STAGE_MARK"]):
                SignalledWhileFinalized()  # dropped at once
            try:
                work("disguised")
            except KeyboardInterrupt:  # as a library may answer a stop: with an error of its own
                raise RuntimeError("Task run is not set") from None
            return obs.data.copy()


    @hookimpl
    def restoration_transforms():
        return [SlowTransform()]


    @hookimpl
    def restoration_noise_models():
        return [SlowNoise()]


    @hookimpl
    def restoration_denoisers():
        return [Copy()]
"""


@pytest.fixture(scope="module")
def slow_site(tmp_path_factory):
    """The plugin's site directory and an uninterrupted run of every stage test's command."""
    import textwrap

    root = tmp_path_factory.mktemp("slow-stages")
    (root / "site" / "slow_stages-0.1.dist-info").mkdir(parents=True)
    (root / "site" / "slow_stages.py").write_text(textwrap.dedent(SLOW_STAGES))
    (root / "site" / "slow_stages-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: slow-stages\nVersion: 0.1\n")
    (root / "site" / "slow_stages-0.1.dist-info" / "entry_points.txt").write_text("[restoration]\nslow_stages = slow_stages\n")
    rng = np.random.default_rng(4)
    clean = np.tile(np.linspace(0.2, 0.8, 512, dtype=np.float32), (24, 512, 1))
    np.save(root / "vol.npy", (clean + rng.normal(0, 0.05, clean.shape)).astype(np.float32))
    (root / "ref").mkdir()
    np.save(root / "ref" / "vol.npy", clean)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "site"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(_slow_command(root, root / "reference"), env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return root, env


def _slow_command(root: Path, out: Path) -> list[str]:
    return [str(BIN / "restoration"), "run", str(root / "vol.npy"), "-o", str(out), "--reference", str(root / "ref"),
            "--transform", "slow", "--noise", "slow-gaussian", "--denoiser", "copy"]


# Each way of sending SIGINT meets the same handler (the denoise stage tries all three): one way
# per stage here, the two ways alternating, and a resume where the stage leaves work half done.
@pytest.mark.parametrize("stage, way, resume", [("normalize", "sigint-group", False),
                                                ("characterize", "sigint-process", True),
                                                ("report", "sigint-group", True)])
def test_every_stage_stops_on_ctrl_c(slow_site, tmp_path, spawn, monkeypatch, stage, way, resume):
    root, env = slow_site
    out, mark = tmp_path / "out", tmp_path / "in-the-stage"
    for key, value in {**env, "SLOW_STAGE": stage, "SLOW_STAGE_MARK": str(mark)}.items():
        monkeypatch.setenv(key, value)

    def in_report() -> bool:  # the item is complete; its quality row (what the stage measures) is not
        try:
            restored = zarr.open_group(str(out / "restored.zarr"), mode="r")
            return item_provenance(restored, "vol")["complete"] is True and not (out / "quality.csv").exists()
        except Exception:
            return False

    result = interrupt(spawn, _slow_command(root, out), in_report if stage == "report" else mark.exists, way, tmp_path)
    assert_stopped(result, "interrupted")
    assert not (out / "quality.csv").exists() and not (out / "report.html").exists()
    if resume:
        monkeypatch.delenv("SLOW_STAGE")
        again = subprocess.run(_slow_command(root, out), capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stderr
        a = zarr.open_group(str(root / "reference" / "restored.zarr"), mode="r")
        b = zarr.open_group(str(out / "restored.zarr"), mode="r")
        assert np.array_equal(item_array(a, "vol")[:], item_array(b, "vol")[:])
        columns = ["name", "status", "noise", "psnr", "ssim", "residual_sigma"]
        assert (pd.read_csv(out / "quality.csv")[columns].equals(pd.read_csv(root / "reference" / "quality.csv")[columns]))


def test_a_signal_whose_exception_python_drops_still_stops(slow_site, tmp_path, spawn, monkeypatch):
    """SIGTERM while the denoiser is in a finalizer, where Python drops the exception its
    handler raises ("Exception ignored in"): the run still stops at the next region, 143."""
    root, env = slow_site
    out, mark = tmp_path / "out", tmp_path / "in-the-finalizer"
    for key, value in {**env, "SLOW_STAGE": "finalizer", "SLOW_STAGE_MARK": str(mark)}.items():
        monkeypatch.setenv(key, value)
    result = interrupt(spawn, _slow_command(root, out), mark.exists, "sigterm", tmp_path)
    assert_stopped(result, "terminated")  # one line: what Python dropped is not printed
    assert not (out / "quality.csv").exists()


def test_a_stop_that_a_library_turns_into_its_own_error_still_stops(slow_site, tmp_path, spawn, monkeypatch):
    """Ctrl-C that reaches the run as another exception (Prefect's engine, interrupted while it
    sets up a task run, raises "Task run is not set" instead): one line, interrupted, 130, and the
    item is not reported as failed."""
    root, env = slow_site
    out, mark = tmp_path / "out", tmp_path / "in-the-denoiser"
    for key, value in {**env, "SLOW_STAGE": "disguised", "SLOW_STAGE_MARK": str(mark)}.items():
        monkeypatch.setenv(key, value)
    result = interrupt(spawn, _slow_command(root, out), mark.exists, "sigint-group", tmp_path)
    assert_stopped(result, "interrupted")
    assert not (out / "quality.csv").exists()


def test_ingest_stops_on_ctrl_c(slow_site, tmp_path, spawn):
    """SIGINT while the input is being copied into the working store (a 256 MB stack): stopped
    within 3 s, the half copy never taken for a whole one, and the rerun finishes the item."""
    root, env = slow_site
    rng = np.random.default_rng(6)
    np.save(tmp_path / "vol.npy", rng.random((64, 1024, 1024), dtype=np.float32))
    out = tmp_path / "out"
    args = [str(BIN / "restoration"), "run", str(tmp_path / "vol.npy"), "-o", str(out), "--denoiser", "copy",
            "--noise", "gaussian", "--sigma", "0.1"]
    chunks = out / ".work" / "ingest.zarr" / "vol" / "c"
    with pytest.MonkeyPatch.context() as m:
        m.setenv("PYTHONPATH", env["PYTHONPATH"])
        result = interrupt(spawn, args, chunks.exists, "sigint-group", tmp_path)
        assert_stopped(result, "interrupted")
        copy = zarr.open_group(str(out / ".work" / "ingest.zarr"), mode="r")["vol"]
        assert "fingerprint" not in copy.attrs  # unfinished, so the rerun copies it again
        again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    restored = zarr.open_group(str(out / "restored.zarr"), mode="r")
    assert item_provenance(restored, "vol")["complete"] is True
