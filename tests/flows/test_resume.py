"""A run killed with SIGKILL and started again finishes bit-identical to an uninterrupted run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zarr

from restoration.store import item_array, item_provenance

BIN = Path(sys.executable).parent


def _stack(path: Path) -> None:
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:96, 0:96]
    clean = np.stack([0.5 + 0.3 * np.sin((yy + 3 * z) / 8.0) for z in range(12)]).astype(np.float32)
    np.save(path, clean + rng.normal(0, 0.08, clean.shape).astype(np.float32))


def test_sigkill_then_resume_is_bit_identical(tmp_path, tiny_model, spawn):
    def _run(args):
        return spawn.start([str(BIN / "restoration"), "run", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, "RESTORATION_PYRAMID_SIDE": "64"})

    _stack(tmp_path / "vol.npy")
    common = [str(tmp_path / "vol.npy"), "--model", str(tiny_model), "--method", "posterior", "--steps", "6"]
    ref_out, out = tmp_path / "ref", tmp_path / "out"
    ref = _run(common + ["-o", str(ref_out)])
    assert ref.wait(300) == 0, ref.stderr.read()

    victim = _run(common + ["-o", str(out)])
    progress = out / ".work" / "progress" / "vol"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if len(list(progress.glob("*.done"))) >= 3:
                break
        except OSError:
            pass
        assert victim.poll() is None, "finished before it could be killed: " + victim.stderr.read()
        time.sleep(0.05)
    spawn.kill(victim)  # the run and the temporary Prefect API it started: a killed machine
    victim.wait(30)
    done_before = list(progress.glob("*.done"))
    assert 3 <= len(done_before) < 12
    assert item_provenance(zarr.open_group(str(out / "restored.zarr"), mode="r"), "vol")["complete"] is False  # partial output is never complete

    again = _run(common + ["-o", str(out)])
    assert again.wait(300) == 0, again.stderr.read()
    a = zarr.open_group(str(ref_out / "restored.zarr"), mode="r")
    b = zarr.open_group(str(out / "restored.zarr"), mode="r")
    assert item_provenance(b, "vol")["complete"] is True
    assert np.array_equal(item_array(a, "vol")[:], item_array(b, "vol")[:])
    for level in ("0", "1"):  # the pyramid and the OME metadata too (RESTORATION_PYRAMID_SIDE=64)
        assert np.array_equal(a["vol"][level][:], b["vol"][level][:])
    assert a["vol"].attrs["ome"] == b["vol"].attrs["ome"]
