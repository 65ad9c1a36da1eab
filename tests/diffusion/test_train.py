"""The trainer: data sources, seeded determinism, bit-identical resume, the train-denoiser flow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restoration.diffusion.checkpoint import load_model_file
from restoration.diffusion.train import TrainConfig, train


def _images(folder):
    rng = np.random.default_rng(0)
    folder.mkdir()
    yy, xx = np.mgrid[0:48, 0:48]
    for i in range(3):
        np.save(folder / f"img{i}.npy", (np.sin(yy / (3 + i)) * np.cos(xx / 5) + rng.normal(0, 0.01, yy.shape)).astype(np.float32))
    return folder


def _cfg(tmp_path, src, out, steps, **kw):
    return TrainConfig(sources=[str(src)], output=str(tmp_path / out), steps=steps, patch=16, batch=4, widths=(8, 16),
                       blocks=(1, 1), warmup=5, synthetic=1, checkpoint_every=5, seed=3, threads=1, **kw)


def test_resume_is_bit_identical(tmp_path):
    src = _images(tmp_path / "imgs")
    straight = train(_cfg(tmp_path, src, "a.pt", 20))
    assert straight["steps"] == 20 and "imgs/img0.npy" in " ".join(straight["training_data"])
    train(_cfg(tmp_path, src, "b.pt", 20, stop_at=10))     # stops at 10 ...
    train(_cfg(tmp_path, src, "b.pt", 20), resume=True)    # ... and resumes to 20
    a, _, _ = load_model_file(tmp_path / "a.pt")
    b, _, prov = load_model_file(tmp_path / "b.pt")
    assert prov["steps"] == 20
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log = (tmp_path / "b.pt.log.csv").read_text().splitlines()
    assert log[0] == "step,loss,lr,seconds" and len(log) > 2


def test_fine_tuning_starts_from_the_base_and_records_it(tmp_path):
    src = _images(tmp_path / "imgs")
    train(_cfg(tmp_path, src, "base.pt", 10))
    base, _, base_prov = load_model_file(tmp_path / "base.pt")
    tuned = train(_cfg(tmp_path, src, "tuned.pt", 0, init=str(tmp_path / "base.pt")))   # no step: the base itself
    weights, _, _ = load_model_file(tmp_path / "tuned.pt")
    assert all(torch.equal(base[k], weights[k]) for k in base)
    assert tuned["base"]["steps"] == 10 and tuned["base"]["seed"] == base_prov["seed"]
    assert tuned["train_config"]["init"] == str(tmp_path / "base.pt")


def test_held_out_images_are_refused(tmp_path):
    with pytest.raises(ValueError, match="held-out"):
        train(TrainConfig(sources=["skimage:camera"], output=str(tmp_path / "x.pt"), steps=1))


def test_cli_train_runs_the_flow(tmp_path):
    from restoration_flows.cli import main

    src = _images(tmp_path / "imgs")
    out = tmp_path / "m.pt"
    assert main(["train", str(src), "-o", str(out), "--steps", "6", "--patch", "16", "--batch", "2",
                 "--widths", "8,16", "--blocks", "1,1", "--synthetic", "0", "--threads", "1"]) == 0
    _, config, prov = load_model_file(out)
    assert config["unet"]["widths"] == [8, 16] and prov["steps"] == 6
    # and the new model restores through `restoration run`
    noisy = np.random.default_rng(1).normal(0.5, 0.1, (32, 32)).astype(np.float32)
    np.save(tmp_path / "n.npy", noisy)
    assert main(["run", str(tmp_path / "n.npy"), "-o", str(tmp_path / "o"), "--model", str(out)]) == 0
