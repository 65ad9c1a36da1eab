"""The trainer: data sources, seeded determinism, bit-identical resume, the train-denoiser flow."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from restoration.diffusion.checkpoint import load_model_file
from restoration.diffusion.train import SAME_DATA, TrainConfig, check_config, fitted_steps, learning_rate, train
from restoration.errors import InputError


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
    # The same data as the base's: its list is recorded once, not once per level of the lineage.
    assert tuned["training_data"] == base_prov["training_data"] and tuned["base"]["training_data"] == SAME_DATA


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


def test_budget_stop_is_resumable_bit_for_bit(tmp_path):
    src = _images(tmp_path / "imgs")
    train(_cfg(tmp_path, src, "a.pt", 20))
    # A budget spent before the first step ends: stops after it, checkpoint and state written.
    stopped = train(_cfg(tmp_path, src, "b.pt", 20, max_seconds=1e-6))
    assert stopped["steps"] == 1 and (tmp_path / "b.pt.state").is_file()
    assert train(_cfg(tmp_path, src, "b.pt", 20), resume=True)["steps"] == 20
    a, _, _ = load_model_file(tmp_path / "a.pt")
    b, _, _ = load_model_file(tmp_path / "b.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fit_steps_sets_the_schedule_at_the_warm_up_end_and_keeps_it(tmp_path):
    src = _images(tmp_path / "imgs")
    cfg = _cfg(tmp_path, src, "f.pt", 100_000, max_seconds=4.0, fit_steps=True)
    prov = train(cfg)
    fitted = prov["train_config"]["steps"]
    assert 5 <= fitted < 100_000 and prov["steps"] <= fitted      # fitted at step 5, the warm-up's end
    assert torch.load(tmp_path / "f.pt.state", weights_only=True)["fitted_steps"] == fitted
    # the learning rate followed the fitted schedule
    step, _, lr, _ = (tmp_path / "f.pt.log.csv").read_text().splitlines()[-1].split(",")
    assert int(step) == prov["steps"] and lr == f"{learning_rate(prov['steps'] - 1, replace(cfg, steps=fitted)):.3e}"
    # resuming keeps the fitted length, whatever --steps says
    assert train(cfg, resume=True)["train_config"]["steps"] == fitted


def test_fitted_steps_and_budget_options():
    assert fitted_steps(500, 100.0, 0.01) == 500 + 9500     # 5 % of the time left is kept
    assert fitted_steps(500, -3.0, 0.01) == 500              # budget already spent: end now
    base = dict(sources=["skimage"], output="x.pt")
    for bad, match in ((dict(max_seconds=0.0), "--max-seconds"), (dict(max_seconds=float("nan")), "--max-seconds"),
                       (dict(fit_steps=True), "--fit-steps needs --max-seconds")):
        with pytest.raises(InputError, match=match):
            check_config(TrainConfig(**base, **bad))
