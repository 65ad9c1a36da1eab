"""Hostile models, training data, training options and plugins (issue 13).

A user's mistake exits 2 with one stderr line naming the file or option, never a traceback;
nothing non-finite or partial is ever written as a model or marked complete; a denoiser's
non-finite result fails that item only; a plugin cannot take the host down, even by ``sys.exit``.
Real files, real entry points and the real CLI throughout (subprocesses where a process-wide
effect is the point: memory, ``sys.exit``, unpickling).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import zarr
from packaging.requirements import Requirement
from packaging.version import Version

from hostile import NAN_DENOISER, complete, err_lines
from restoration.diffusion.checkpoint import FORMAT, load_model_file
from restoration.diffusion.model import DiffusionModel
from restoration.diffusion.unet import UNetConfig
from restoration.store import item_array
from restoration_flows.cli import main

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# A tiny network and training run: a few steps take well under a second.
TINY_NET = ["--widths", "8,16", "--blocks", "1,1", "--synthetic", "0", "--threads", "1"]
TINY_RUN = ["--steps", "3", "--patch", "16", "--batch", "2", *TINY_NET]


def stderr_lines(text: str) -> list[str]:
    """The non-empty lines of a subprocess's stderr."""
    return [line for line in text.splitlines() if line.strip()]


def write_checkpoint(path: Path, state: dict, config: dict) -> Path:
    """A model file as an older version (or anyone) could write it: no check on what it holds."""
    torch.save({"format": FORMAT, "config": json.dumps(config), "provenance": "{}",
                "state_dict": state}, path)
    return path


def tiny_weights() -> tuple[dict, dict]:
    """State dict and config of an untrained 2-level U-Net of widths 8 and 16 (49 k parameters)."""
    model = DiffusionModel(UNetConfig(widths=(8, 16), blocks=(1, 1)))
    return model.net.state_dict(), model.to_config()


def image(path: Path, size: int = 48, seed: int = 0) -> Path:
    """A smooth ``size`` x ``size`` float32 pattern with Gaussian noise of std 0.05, saved as .npy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    np.save(path, (0.5 + 0.3 * np.sin(yy / 5) * np.cos(xx / 7) + rng.normal(0, 0.05, yy.shape)).astype(np.float32))
    return path


# ---------------------------------------------------------------------------------------------
# 1. Non-finite training data, a diverging loss, non-finite weights

def test_train_refuses_nonfinite_data_up_front(tmp_path, capsys):
    data = np.load(image(tmp_path / "holes.npy"))
    data[10:12, 5:9] = np.nan
    np.save(tmp_path / "holes.npy", data)
    out = tmp_path / "m.pt"
    capsys.readouterr()
    code = main(["train", str(tmp_path / "holes.npy"), "-o", str(out), *TINY_RUN])  # through the flow
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "holes.npy" in lines[0] and "NaN" in lines[0] and "Traceback" not in lines[0]
    assert not out.exists() and not Path(f"{out}.state").exists()


def test_diverging_training_stops_and_writes_nothing_nonfinite(tmp_path, capsys):
    out = tmp_path / "m.pt"
    capsys.readouterr()
    code = main(["train", "skimage:text", "-o", str(out), *TINY_RUN, "--steps", "20", "--lr", "1e30",
                 "--checkpoint-every", "1", "--no-flow"])
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "--lr" in lines[0] and "diverged" in lines[0]
    for path in (out, Path(f"{out}.state")):   # whatever was checkpointed before it diverged is finite
        if path.exists():
            saved = torch.load(path, weights_only=True)
            tensors = saved["state_dict"] if "state_dict" in saved else saved["net"]
            assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_model_with_nonfinite_weights_is_refused(tmp_path, capsys):
    state, config = tiny_weights()
    state["inp.weight"][0, 0, 0, 0] = float("nan")
    bad = write_checkpoint(tmp_path / "nan.pt", state, config)
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["run", str(image(tmp_path / "x.npy")), "-o", str(out), "--model", str(bad)])
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "nan.pt" in lines[0] and "not finite" in lines[0] and "inp.weight" in lines[0]
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# 2. A plugin denoiser returning NaN (hostile.NAN_DENOISER)

def test_denoiser_returning_nan_fails_that_item_only(tmp_path, plugin_site, capsys):
    plugin_site("nan_denoiser", NAN_DENOISER)
    narrow, wide = image(tmp_path / "narrow.npy", 32), image(tmp_path / "wide.npy", 48)
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["run", str(narrow), str(wide), "-o", str(out), "--denoiser", "nan-when-wide"])
    failures = [line for line in err_lines(capsys) if "failed" in line]
    assert code == 2
    assert len(failures) == 1 and "wide" in failures[0] and "NaN" in failures[0], failures
    quality = pd.read_csv(out / "quality.csv", keep_default_na=False).set_index("name")
    assert quality.loc["narrow", "status"] == "ok" and quality.loc["wide", "status"] == "failed"
    assert "nan-when-wide" in quality.loc["wide", "error"] and "NaN" in quality.loc["wide", "error"]
    assert complete(out, "narrow") and not complete(out, "wide")
    assert np.isfinite(item_array(zarr.open_group(str(out / "restored.zarr"), mode="r"), "narrow")[:]).all()


# ---------------------------------------------------------------------------------------------
# 3. A small file whose config asks for a huge network

def test_config_is_checked_against_the_weights_before_the_network_is_built(tmp_path):
    """The config asks for ~2 GB of weights (widths 2048, 4096) next to a tiny state dict: refused
    in one line, and the process never grows past what importing torch costs."""
    state, config = tiny_weights()
    config["unet"]["widths"] = [2048, 4096]
    bad = write_checkpoint(tmp_path / "huge.pt", state, config)
    assert bad.stat().st_size < 300_000
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as err_out:
        proc = subprocess.Popen([str(BIN / "restoration"), "run", str(image(tmp_path / "x.npy")), "-o",
                                 str(tmp_path / "out"), "--model", str(bad)], stderr=err_out)
        # The process's own high-water mark after exec (VmHWM): ru_maxrss of a child also counts
        # the pytest image it was forked from, gigabytes late in the suite.
        peak = 0
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak = max(peak, int(next(ln for ln in status.splitlines() if ln.startswith("VmHWM:")).split()[1]))
            except (OSError, StopIteration):
                pass
            time.sleep(0.01)
    err = err_file.read_text()
    lines = stderr_lines(err)
    assert proc.returncode == 2 and len(lines) == 1, err
    assert "huge.pt" in lines[0] and "do not match its config" in lines[0]
    assert 0 < peak < 1_000_000, f"peak {peak} KiB"
    with pytest.raises(ValueError, match="levels and .* blocks"):   # blocks beyond the file: refused early
        DiffusionModel.from_state({"unet": {**config["unet"], "widths": [8, 16], "blocks": [10**7, 1]}}, state)


# ---------------------------------------------------------------------------------------------
# 4. A plugin that calls sys.exit (its own argparse) on import

EXITS_ON_IMPORT = """
    import argparse

    # A plugin that parses "its" command line at import: the host's argv makes it exit 2.
    argparse.ArgumentParser(prog="exits-on-import").parse_args()
"""


def _cli(args: list[str], site: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    env.pop("RESTORATION_PLUGINS_STRICT", None)
    return subprocess.run([str(BIN / "restoration"), *args], capture_output=True, text=True, env=env, timeout=120)


def test_plugin_calling_sys_exit_is_reported_not_fatal(tmp_path, plugin_site):
    site = plugin_site("exits_on_import", EXITS_ON_IMPORT)
    listed = _cli(["plugins"], site)
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    failed = listed.stdout.split("failed plugins:", 1)[1]
    assert "exits_on_import" in failed and "sys.exit(2)" in failed and "unrecognized arguments" in failed
    characterized = _cli(["characterize", str(image(tmp_path / "x.npy")), "--format", "csv"], site)
    assert characterized.returncode == 0 and characterized.stderr == "", characterized.stderr
    assert characterized.stdout.startswith("name,")


def test_ctrl_c_while_a_plugin_loads_still_stops_the_host(plugin_site):
    site = plugin_site("interrupted", "raise KeyboardInterrupt\n")
    r = _cli(["plugins"], site)
    assert r.returncode == 130 and stderr_lines(r.stderr) == ["interrupted: nothing was written; the same command starts again"], r.stderr


# ---------------------------------------------------------------------------------------------
# 5. Unsafe --init files and options that cannot train: refused before training starts

def test_pickle_as_init_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "UNPICKLED"
    # A protocol-0 pickle that calls exec(...) when loaded without weights_only.
    (tmp_path / "evil.pt").write_bytes(b"cbuiltins\nexec\n(V" + f"open({str(marker)!r}, 'w').close()".encode()
                                       + b"\ntR.")
    out = tmp_path / "m.pt"
    r = subprocess.run([sys.executable, "-m", "restoration_flows.cli", "train", "skimage:text", "-o", str(out),
                        "--init", str(tmp_path / "evil.pt"), *TINY_RUN], capture_output=True, text=True, timeout=120)
    lines = stderr_lines(r.stderr)
    assert r.returncode == 2 and len(lines) == 1 and "evil.pt" in lines[0], r.stderr
    assert not marker.exists() and not out.exists()


def test_the_payload_runs_when_unpickled(tmp_path):
    """The payload is live (so the previous test's missing marker proves nothing was unpickled)."""
    import pickle

    marker = tmp_path / "UNPICKLED"
    pickle.loads(b"cbuiltins\nexec\n(V" + f"open({str(marker)!r}, 'w').close()".encode() + b"\ntR.")
    assert marker.exists()


@pytest.mark.parametrize("option, value", [("--patch", "4"), ("--patch", "17"), ("--steps", "0"), ("--batch", "0"),
                                           ("--checkpoint-every", "0"), ("--lr", "nan"), ("--channels", "2"),
                                           ("--threads", "0")])
def test_options_that_cannot_train_are_refused(tmp_path, capsys, option, value):
    out = tmp_path / "m.pt"
    capsys.readouterr()
    code = main(["train", "skimage:text", "-o", str(out), *TINY_RUN, option, value])   # the last one wins
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert option in lines[0] and "Traceback" not in lines[0]
    assert not out.exists()


def test_zero_steps_with_init_writes_the_base(tmp_path):
    base_file = write_checkpoint(tmp_path / "base.pt", *tiny_weights())
    out = tmp_path / "copy.pt"
    assert main(["train", "skimage:text", "-o", str(out), "--init", str(base_file), "--steps", "0", "--patch", "16",
                 "--synthetic", "0", "--no-flow"]) == 0
    base, _, _ = load_model_file(base_file)
    copy, _, _ = load_model_file(out)
    assert all(torch.equal(base[k], copy[k]) for k in base)


# ---------------------------------------------------------------------------------------------
# 6. torch versions whose weights_only could be bypassed (CVE-2025-32434)

def test_torch_floor_excludes_the_weights_only_bypass():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_req = next(Requirement(d) for d in deps if Requirement(d).name == "torch")
    assert not torch_req.specifier.contains("2.5.1") and not torch_req.specifier.contains("2.4.0")
    assert torch_req.specifier.contains("2.6.0") and not torch_req.specifier.contains("2.14.0")
    assert torch_req.specifier.contains(Version(version("torch")).base_version)   # the installed one
