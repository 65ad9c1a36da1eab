"""Hostile use of the command line (issue 13): OUTDIR against its inputs, odd file names,
multi-page TIFF, lying zarr stores, signals, watched folders that vanish.

A user's mistake exits 2 with one stderr line naming the file or option, never a traceback, found
before the flow starts where it can be; the input is never modified; nothing partial is marked
complete. Real files, the real CLI (in-process, or a subprocess where a signal is the point).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import tifffile
import zarr

from hostile import NLM, complete, err_lines, failure_lines, garbage, noisy, snapshot
from restoration.errors import InputError
from restoration.store import item_array, item_provenance
from restoration.watch import record, scan
from restoration_flows.cli import main

BIN = Path(sys.executable).parent


def one_error(capsys, argv: list[str], *needles: str) -> str:
    """Run the CLI; assert exit 2 and one stderr line holding every needle; return that line."""
    capsys.readouterr()
    code = main(argv)
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, (code, lines)
    assert "Traceback" not in lines[0] and all(n in lines[0] for n in needles), lines
    return lines[0]


# ---------------------------------------------------------------------------------------------
# OUTDIR: local, writable, never overlapping an input (refused before the flow starts).

def test_overwrite_never_deletes_an_input_inside_outdir(tmp_path, capsys):
    """Case 1: OUTDIR/restored.zarr given as the input with --overwrite would be cleared."""
    out = tmp_path / "out"
    zarr.open_group(str(out / "restored.zarr"), mode="w").create_array("x", data=noisy())
    before = snapshot(out)
    one_error(capsys, ["run", str(out / "restored.zarr"), "-o", str(out), "--overwrite", *NLM],
              str(out), "outputs")
    assert snapshot(out) == before


def test_outdir_in_the_directory_of_a_glob(tmp_path, capsys):
    """Case 3: the first run would write restored.zarr where the pattern looks, and the next run
    would read it as an input."""
    np.save(tmp_path / "a.npy", noisy())
    before = snapshot(tmp_path)
    one_error(capsys, ["run", str(tmp_path / "*"), "-o", str(tmp_path), *NLM], str(tmp_path), "pattern")
    assert snapshot(tmp_path) == before


def test_outdir_url_is_refused(tmp_path, capsys, monkeypatch):
    """Case 4: a file:// OUTDIR used to become a folder named 'file:' in the working directory
    (object storage URLs are OUTDIRs: tests/flows/test_object_storage.py)."""
    np.save(tmp_path / "a.npy", noisy())
    monkeypatch.chdir(tmp_path)
    url = (tmp_path / "out").as_uri()
    one_error(capsys, ["run", "a.npy", "-o", url, *NLM], url, "not a URL")
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_outdir_that_cannot_be_a_directory(tmp_path, capsys, where):
    """Case 6: an existing regular file, or a path below one, named as OUTDIR."""
    np.save(tmp_path / "a.npy", noisy())
    outdir = tmp_path / "a.npy" if where == "file" else tmp_path / "a.npy" / "out"
    before = snapshot(tmp_path)
    one_error(capsys, ["run", str(tmp_path / "a.npy"), "-o", str(outdir), *NLM], str(outdir), "directory")
    assert snapshot(tmp_path) == before


def test_outdir_that_cannot_be_created(tmp_path, capsys):
    """Case 6: OUTDIR under /proc, where even root cannot create a directory (a permission check
    passes there, so it is the run's own attempt that must be reported)."""
    np.save(tmp_path / "a.npy", noisy())
    outdir = f"/proc/restoration-test-{uuid.uuid4().hex}/out"
    one_error(capsys, ["run", str(tmp_path / "a.npy"), "-o", outdir, *NLM], outdir, "cannot create")


def test_negative_seed_is_refused_up_front(tmp_path, capsys):
    """Case 11: numpy takes no negative seed; each item used to fail with an internal error."""
    np.save(tmp_path / "a.npy", noisy())
    one_error(capsys, ["run", str(tmp_path / "a.npy"), "-o", str(tmp_path / "out"), "--seed", "-1", *NLM], "--seed")
    assert not (tmp_path / "out").exists()


def test_serve_outroot_inside_the_watched_folder(tmp_path, capsys):
    """Case 13: scheduled runs would find their own output among the datasets. Refused before a
    Prefect server is even looked for."""
    watch = tmp_path / "incoming"
    watch.mkdir()
    one_error(capsys, ["serve", "--watch", str(watch), "-o", str(watch / "restored"), "--interval", "60"],
              str(watch / "restored"), "inside the input directory")
    assert not (watch / "restored").exists()


# ---------------------------------------------------------------------------------------------
# One run over a directory of good and hostile entries, and a symlink loop given as an input.

NEWLINE_GOOD, NEWLINE_BAD = "two\nlines", "bad\nnews"
UNDECODABLE = os.fsdecode(b"caf\xe9")  # the bytes of a Latin-1 file name
FORMULA = "=1+2"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    indir = root / "in"
    indir.mkdir()
    np.save(indir / "good.npy", noisy(seed=1))
    (indir / "corrupt.npy").write_bytes(garbage(seed=2))
    np.save(indir / f"{NEWLINE_GOOD}.npy", noisy(seed=3))
    (indir / f"{NEWLINE_BAD}.npy").write_bytes(garbage(seed=4))
    np.save(indir / f"{UNDECODABLE}.npy", noisy(seed=5))
    np.save(indir / f"{FORMULA}.npy", noisy(seed=6))
    pages = (noisy(seed=7) * 1000).astype(np.uint16)
    for k in range(3):  # a TIFF written page by page
        tifffile.imwrite(indir / "appended.tif", pages + k, append=True)
    tifffile.imwrite(indir / "mixed.tif", pages)
    tifffile.imwrite(indir / "mixed.tif", pages[:16, :16], append=True)
    # A zarr array declaring 10^12 pixels and holding none: every read is the fill value.
    zarr.create_array(str(indir / "huge.zarr"), shape=(10**6, 10**6), chunks=(1024, 1024), dtype="float32")
    os.symlink(root / "loop", root / "loop")
    before = snapshot(indir)
    out = root / "out"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):  # the console writes to whatever sys.stderr is
        code = main(["run", str(indir), str(root / "loop"), "-o", str(out), *NLM])
    return {"root": root, "indir": indir, "out": out, "before": before, "code": code,
            "lines": [line for line in stderr.getvalue().splitlines() if line.strip()],
            "quality": pd.read_csv(out / "quality.csv", keep_default_na=False).set_index("name")}


def _failure(mixed, needle: str) -> str:
    """The one failure line holding ``needle``."""
    found = [line for line in failure_lines(mixed["lines"]) if needle in line]
    assert len(found) == 1, mixed["lines"]
    return found[0]


def test_mixed_run_restores_the_good_entries_and_fails_the_bad_ones(mixed):
    """Case 2: one corrupt .npy used to fail the whole directory, restoring nothing."""
    assert mixed["code"] == 2
    assert complete(mixed["out"], "good")
    assert mixed["quality"].loc["good", "status"] == "ok"
    assert mixed["quality"].loc["corrupt", "status"] == "failed"
    assert "corrupt.npy" in mixed["quality"].loc["corrupt", "error"] and not complete(mixed["out"], "corrupt")
    assert "corrupt.npy" in _failure(mixed, "corrupt.npy")
    assert str(mixed["indir"]) not in mixed["quality"].index  # the directory is no item
    assert snapshot(mixed["indir"]) == mixed["before"]
    assert not any("Traceback" in line for line in mixed["lines"])
    # corrupt, bad\nnews, café, mixed.tif, huge.zarr and the loop; each on one line
    assert len(failure_lines(mixed["lines"])) == 6, mixed["lines"]


def test_symlink_loop_as_input(mixed):
    """Case 7: used to end the whole run with 'internal error: RuntimeError'."""
    line = _failure(mixed, "loop")
    assert "symbolic link loop" in line and "internal error" not in line
    assert mixed["quality"].loc["loop", "status"] == "failed"


def test_undecodable_file_name(mixed):
    """Case 8: a file name that is not UTF-8 used to crash logging and the report (exit 1)."""
    escaped = "caf\\xe9"
    line = _failure(mixed, f"{escaped}.npy")
    assert "UTF-8" in line
    assert mixed["quality"].loc[escaped, "status"] == "failed"
    assert escaped in (mixed["out"] / "report.html").read_text()


def test_newline_in_a_file_name(mixed):
    """Case 9: a newline in a name used to split a failure over three lines and cut the name."""
    assert complete(mixed["out"], "two\\nlines")  # restored, under its escaped name
    line = _failure(mixed, "bad\\nnews.npy")  # one line, the whole name
    assert "not a valid .npy" in line
    assert mixed["quality"].loc["bad\\nnews", "status"] == "failed"
    assert "bad\\nnews.npy" in mixed["quality"].loc["bad\\nnews", "error"]


def test_csv_cells_cannot_be_formulas(mixed):
    """Case 12: a cell starting with = + - @ runs as a formula in a spreadsheet."""
    assert complete(mixed["out"], FORMULA)
    assert mixed["quality"].loc["'" + FORMULA, "status"] == "ok"
    noise = pd.read_csv(mixed["out"] / "noise.csv", keep_default_na=False)
    assert "'" + FORMULA in set(noise["name"]) and FORMULA not in set(noise["name"])
    cells = [c for path in ("quality.csv", "noise.csv")
             for c in pd.read_csv(mixed["out"] / path, dtype=str, keep_default_na=False).to_numpy().ravel()]
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not c[1:2].isdigit())]


def test_multi_page_tiff(mixed):
    """Case 15: pages appended one by one are a stack; pages of different shapes a clear error
    (pages 2 and 3 used to be dropped silently)."""
    store = zarr.open_group(str(mixed["out"] / "restored.zarr"), mode="r")
    arr = item_array(store, "appended")
    assert arr.shape == (3, 32, 32) and list(arr.metadata.dimension_names) == ["z", "y", "x"]
    assert item_provenance(store, "appended")["complete"] is True
    line = _failure(mixed, "mixed.tif")
    assert "differ" in line and "(32, 32)" in line and "(16, 16)" in line


def test_zarr_declaring_more_pixels_than_allowed(mixed):
    """Case 5: 10^12 declared pixels and no chunk written used to keep the run busy forever."""
    line = _failure(mixed, "huge.zarr")
    assert "RESTORATION_MAX_ZARR_PIXELS" in line
    assert mixed["quality"].loc["huge", "status"] == "failed"


# ---------------------------------------------------------------------------------------------
# characterize

def test_characterize_corrupt_zarr_chunk(tmp_path, capsys):
    """Case 10: `run` reported a corrupt chunk in one line; `characterize` printed a traceback."""
    store = tmp_path / "vol.zarr"
    arr = zarr.create_array(str(store), shape=(32, 32), chunks=(16, 16), dtype="float32")
    arr[:] = noisy()
    for chunk in (store / "c").rglob("*"):
        if chunk.is_file():
            chunk.write_bytes(garbage(64, seed=8))
    before = snapshot(store)
    one_error(capsys, ["characterize", str(store)], str(store), "cannot read")
    assert snapshot(store) == before


# ---------------------------------------------------------------------------------------------
# SIGTERM

def test_sigterm_stops_cleanly(tmp_path, spawn):
    """Case 16: SIGTERM used to kill the run at once (exit -15, no message), leaving the
    temporary Prefect API server running. Now it ends like Ctrl-C: one line, exit 143, and
    nothing the run started is left."""
    rng = np.random.default_rng(9)
    np.save(tmp_path / "vol.npy", (0.5 + rng.normal(0, 0.05, (400, 48, 48))).astype(np.float32))
    out = tmp_path / "out"
    with open(tmp_path / "stderr", "w") as stderr:
        proc = spawn.start([str(BIN / "restoration"), "run", str(tmp_path / "vol.npy"), "-o", str(out), *NLM],
                           stdout=subprocess.DEVNULL, stderr=stderr)
    progress = out / ".work" / "progress" / "vol"
    deadline = time.time() + 120
    while not (progress.is_dir() and any(progress.glob("*.done"))):
        assert proc.poll() is None and time.time() < deadline, (tmp_path / "stderr").read_text()
        time.sleep(0.1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children  # the temporary Prefect API server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 143
    lines = [line for line in (tmp_path / "stderr").read_text().splitlines() if line.strip()]
    assert lines[-1].startswith("terminated: ") and "the same command resumes" in lines[-1], lines
    assert not any("Traceback" in line for line in lines), lines
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [p.cmdline() for p in alive]
    assert not complete(out, "vol")


# ---------------------------------------------------------------------------------------------
# Watched folders

def _dataset(watch: Path) -> Path:
    watch.mkdir()
    np.save(watch / "scan.npy", noisy())
    old = time.time() - 120  # past the "still being copied" window
    os.utime(watch / "scan.npy", (old, old))
    return watch / "scan.npy"


def test_a_vanished_dataset_is_not_remembered_as_failed(tmp_path):
    """Case 14: the watched folder moved away during a run and back: the dataset used to be
    remembered as failed (never restored again) and its .work folder left behind."""
    watch, parked, outroot = tmp_path / "incoming", tmp_path / "parked", tmp_path / "restored"
    _dataset(watch)
    params = {"denoiser": "nlm"}
    (pending,) = scan(watch, outroot, params)["pending"]
    work = Path(pending["outdir"]) / ".work"
    work.mkdir(parents=True)  # what the interrupted run had written
    watch.rename(parked)
    assert scan(watch, outroot, params) == {"pending": [], "waiting": [], "done": [], "failed": []}
    assert record(outroot, pending, params, ok=False, error="no such file or directory") is False
    assert not Path(pending["outdir"]).exists()
    parked.rename(watch)
    assert [p["entry"] for p in scan(watch, outroot, params)["pending"]] == [pending["entry"]]
    # a dataset that is still there when it fails is remembered
    assert record(outroot, pending, params, ok=False, error="bad") is True
    assert scan(watch, outroot, params)["failed"] == [pending["entry"]]
    assert json.loads((outroot / ".restoration-failed.json").read_text())["scan.npy"]["error"] == "bad"


# ---------------------------------------------------------------------------------------------
# Issue 23: metadata contradicting the data, absurd cost, non-finite calibration, foreign state.

def _ome_zarr(path: Path, axes: list[str], shape: tuple[int, ...]) -> None:
    group = zarr.open_group(str(path), mode="w")
    group.create_array("0", data=np.random.default_rng(0).normal(0.5, 0.05, shape).astype(np.float32))
    group.attrs["ome"] = {"version": "0.5", "multiscales": [{
        "axes": [{"name": a, "type": "space"} for a in axes],
        "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * len(axes)}]}]}]}


@pytest.mark.parametrize("axes", [["y", "x"], ["t", "z", "y", "x"]])
def test_ome_axes_that_contradict_the_array(tmp_path, capsys, axes):
    """Two (or four) OME axes over a 3-D array used to be restored with axes guessed."""
    store = tmp_path / "img.zarr"
    _ome_zarr(store, axes, (4, 32, 32))
    before = snapshot(store)
    line = one_error(capsys, ["run", str(store), "-o", str(tmp_path / "out"), *NLM], str(store), "--axes",
                     f"name {len(axes)} dimensions", "has 3")
    assert "internal error" not in line
    assert not (tmp_path / "out").exists() and snapshot(store) == before


def test_axes_flag_settles_the_contradiction(tmp_path):
    """--axes says what the dimensions are: the item is then read with them, without a word."""
    from restoration.io import discover

    _ome_zarr(tmp_path / "img.zarr", ["y", "x"], (4, 32, 32))
    (item,) = discover([str(tmp_path / "img.zarr")], axes="zyx")
    assert item.axes == "zyx" and "_axes_contradiction" not in item.attrs


@pytest.mark.parametrize("flags, needles", [
    (["--method", "posterior", "--samples", "10000000"], ["--samples 10000000", "--allow-slow", "days"]),
    (["--ensemble", "--method", "posterior", "--steps", "100000000"], ["--steps 100000000", "--allow-slow"]),
    (["--samples", "0"], ["--samples", ">= 1"]),
    (["--samples", "-3"], ["--samples", ">= 1"]),
    (["--steps", "0"], ["--steps", ">= 1"]),
])
def test_absurd_cost_is_refused_with_its_predicted_time(tmp_path, capsys, flags, needles):
    """A sample count in the millions used to start and run for days; the cost warning looked
    at the image size only. Zero and negative counts are refused like any bad value."""
    np.save(tmp_path / "a.npy", noisy())
    one_error(capsys, ["run", str(tmp_path / "a.npy"), "-o", str(tmp_path / "out"), *flags], *needles)
    assert not (tmp_path / "out").exists()


def test_allow_slow_lets_an_expensive_run_pass_the_preflight(tmp_path):
    from restoration import pipeline
    from restoration.options import RunOptions

    np.save(tmp_path / "a.npy", noisy())
    options = RunOptions(inputs=(str(tmp_path / "a.npy"),), outdir=str(tmp_path / "out"),
                         denoiser_options={"method": "posterior", "samples": 10**7})
    with pytest.raises(InputError, match="allow-slow"):
        pipeline.preflight(options)
    checked = pipeline.preflight(options.replace(allow_slow=True))
    assert pipeline.predicted_seconds(checked["run"], checked["entries"]) > 12 * 3600
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_dark_frame_that_is_not_finite(tmp_path, capsys, bad):
    """A dark frame holding NaN (a flagged hot pixel) used to be averaged around silently."""
    dark = (100 + np.random.default_rng(3).normal(0, 3, (4, 32, 32))).astype(np.float32)
    dark[1, 5, 7] = bad
    np.save(tmp_path / "dark.npy", dark)
    np.save(tmp_path / "a.npy", (noisy() * 1000 + 100).astype(np.float32))
    before = snapshot(tmp_path)
    one_error(capsys, ["run", str(tmp_path / "a.npy"), "-o", str(tmp_path / "out"), "--dark", str(tmp_path / "dark.npy"),
                       "--gain", "2", *NLM], str(tmp_path / "dark.npy"), "--dark", "1 NaN or infinite")
    one_error(capsys, ["characterize", str(tmp_path / "a.npy"), "--dark", str(tmp_path / "dark.npy")],
              str(tmp_path / "dark.npy"))
    assert snapshot(tmp_path) == before


class Foreign:
    """Not a restoration class: a pickle of it is refused by the weights-only loader."""


@pytest.mark.parametrize("kind", ["pickle", "garbage", "model-file", "other-dict"])
@pytest.mark.parametrize("command", ["train", "adapt"])
def test_resume_from_a_state_that_is_not_ours(tmp_path, capsys, kind, command):
    """`train --resume` with a foreign state file used to end 'internal error: UnpicklingError'."""
    import torch

    model = tmp_path / "m.pt"
    state = tmp_path / "m.pt.state"
    if kind == "pickle":
        torch.save({"net": Foreign()}, state)
    elif kind == "garbage":
        state.write_bytes(garbage(seed=5))
    elif kind == "model-file":  # a model file renamed as a state
        from restoration.diffusion.files import model_file

        state.write_bytes(Path(model_file(None)).read_bytes())
    else:
        torch.save({"weights": torch.zeros(3)}, state)
    np.save(tmp_path / "a.npy", noisy(64))
    before = snapshot(tmp_path)
    args = (["train", str(tmp_path / "a.npy"), "-o", str(model), "--steps", "10", "--widths", "8,16", "--blocks", "1,1"]
            if command == "train" else ["adapt", str(tmp_path / "a.npy"), "-o", str(model), "--steps", "10"])
    one_error(capsys, [*args, "--resume", "--no-flow"], str(state), "not a resume state", "without --resume")
    assert snapshot(tmp_path) == before
