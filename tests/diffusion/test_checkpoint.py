import pickle

import pytest
import torch

from restoration.diffusion.checkpoint import CheckpointError, load_model_file
from restoration.diffusion.model import DiffusionModel, load_model
from restoration.diffusion.unet import UNetConfig


def test_round_trip(tiny_model):
    model = load_model(tiny_model)
    state, config, prov = load_model_file(tiny_model)
    assert config["unet"]["widths"] == [8, 16]
    assert prov["steps"] == 300 and prov["seed"] == 0 and "skimage:brick" in prov["training_data"]
    assert "camera" in prov["held_out"]
    for k, v in model.net.state_dict().items():
        assert torch.equal(v, state[k])
    assert model.model_id.startswith("tiny.pt@sha256:")


def test_foreign_and_corrupt_files(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(CheckpointError, match="not a restoration diffusion model"):
        load_model_file(foreign)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x80\x04garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable model file"):
        load_model_file(corrupt)
    with pytest.raises(CheckpointError, match="not found"):
        load_model_file(tmp_path / "missing.pt")


def test_pickled_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"format": "restoration-diffusion/1", "x": Evil()}))
    with pytest.raises(CheckpointError):
        load_model_file(evil)


def test_mismatched_weights(tmp_path, tiny_model):
    from restoration.diffusion.checkpoint import save_model

    state, config, prov = load_model_file(tiny_model)
    config["unet"]["widths"] = [16, 32]
    bad = tmp_path / "bad.pt"
    save_model(bad, state, config, prov)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(bad)


def test_v_prediction_conversion_is_consistent():
    torch.manual_seed(0)
    model = DiffusionModel(UNetConfig(widths=(8, 16), blocks=(1, 1), prediction="v"))
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.05)
    z = torch.randn(2, 1, 16, 16)
    sigma = torch.tensor([0.3, 0.05])
    x0, eps = model.predict(z, sigma)
    # whatever the network says, x0 + sigma * eps must give back z
    assert torch.allclose(x0 + sigma.reshape(-1, 1, 1, 1) * eps, z, atol=1e-5)
