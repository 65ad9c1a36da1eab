"""``restoration export --format bioimageio``: the shipped model as a BioImage Model Zoo package,
validated by bioimageio.spec and run by bioimageio.core's own model test."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bioimageio.core")  # the `bioimageio` extra
pytest.importorskip("bioimageio.spec")

import torch  # noqa: E402

from restoration.diffusion.files import DEFAULT_MODEL  # noqa: E402
from restoration.export.bioimageio import _normalize, architecture_source, export_bioimageio  # noqa: E402
from restoration.export.network import FixedSigmaDenoiser  # noqa: E402
from restoration_flows.cli import main  # noqa: E402

BIN = Path(sys.executable).parent
SIGMA = 0.08


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return export_bioimageio(DEFAULT_MODEL, tmp_path_factory.mktemp("bioimageio") / "default.zip", sigma=SIGMA)


def _member(package: Path, name: str) -> bytes:
    with zipfile.ZipFile(package) as z:
        return z.read(name)


def test_package_is_a_valid_model_description(package):
    from bioimageio.spec import load_description
    from bioimageio.spec.model import v0_5

    descr = load_description(package)
    assert isinstance(descr, v0_5.ModelDescr), descr.validation_summary.format()
    assert descr.validation_summary.status in ("passed", "valid-format")
    with zipfile.ZipFile(package) as z:
        assert {"rdf.yaml", "weights.pt", "weights_torchscript.pt", "restoration_denoiser.py", "test_input.npy",
                "test_output.npy", "cover.png", "README.md", "provenance.json"} <= set(z.namelist())
    assert {str(c.doi) for c in descr.cite} >= {"10.48550/arXiv.2006.11239"}
    assert str(descr.license) == "BSD-3-Clause" and descr.authors
    (step,) = [p for p in descr.inputs[0].preprocessing if p.id == "scale_range"]
    assert (step.kwargs.min_percentile, step.kwargs.max_percentile) == (0.1, 99.9)
    assert [a.halo for a in descr.outputs[0].axes if a.type == "space"] == [72, 72]  # receptive radius 70
    assert descr.weights.pytorch_state_dict.architecture.kwargs["sigma"] == SIGMA
    assert "# Validation" in _member(package, "README.md").decode()


def test_bioimageio_core_reproduces_the_test_outputs(package):
    from bioimageio.core import test_model

    summary = test_model(package)
    assert summary.status == "passed", summary.format()
    tested = {d.loc[1] for d in summary.details if len(d.loc) > 1 and d.loc[0] == "weights"}
    assert tested == {"pytorch_state_dict", "torchscript"}


def test_test_output_is_the_projects_mmse_estimate(package):
    from restoration.diffusion.model import load_model

    x = np.load(io.BytesIO(_member(package, "test_input.npy")))
    y = np.load(io.BytesIO(_member(package, "test_output.npy")))
    model = load_model(DEFAULT_MODEL)
    z = torch.from_numpy(_normalize(x)) * 2 - 1
    with torch.no_grad():
        x0, _ = model.predict(z, torch.tensor([2 * SIGMA]))
    np.testing.assert_allclose(y, (x0.numpy() + 1) / 2, atol=1e-5)
    # The test input carries the exported noise level (after normalization), not an arbitrary one.
    assert abs(np.std(_normalize(x) - (x0.numpy() + 1) / 2) / SIGMA - 1) < 0.15


def test_v_prediction_matches_the_model():
    from restoration.diffusion.model import DiffusionModel
    from restoration.diffusion.unet import UNetConfig

    torch.manual_seed(0)
    model = DiffusionModel(UNetConfig(widths=(8, 16), blocks=(1, 1), emb_dim=16, prediction="v"))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.1)
    net = FixedSigmaDenoiser(0.2, model.config.to_dict())
    net.net.load_state_dict(model.net.state_dict())
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        x0, _ = model.predict(2 * x - 1, torch.tensor([0.4]))
        torch.testing.assert_close(net(x), (x0 + 1) / 2)


def test_architecture_file_needs_torch_only():
    tree = ast.parse(architecture_source())
    imported = {n.module if isinstance(n, ast.ImportFrom) else a.name for n in tree.body
                if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert imported <= {"__future__", "math", "dataclasses", "torch", "torch.nn"}, imported


def test_torchscript_records_no_device(package):
    traced = torch.jit.load(io.BytesIO(_member(package, "weights_torchscript.pt")))
    code = "\n".join(m.code for m in traced.modules() if m._c._has_method("forward"))
    assert "torch.device(" not in code and "prim.device" in code


def test_cli_writes_a_package(tmp_path):
    out = tmp_path / "pkg" / "denoiser.zip"
    proc = subprocess.run([str(BIN / "restoration"), "export", str(DEFAULT_MODEL), "--format", "bioimageio",
                           "-o", str(out), "--sigma", "0.05", "--author", "A Tester"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and "wrote" in proc.stdout
    rdf = _member(out, "rdf.yaml").decode()
    assert "sigma: 0.05" in rdf and "A Tester" in rdf


@pytest.mark.parametrize("case, needle", [("missing", "model file not found"),
                                          ("not-a-model", "not a readable model file"),
                                          ("not-zip", ".zip"), ("sigma", "sigma must be")])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, case, needle):
    model, out, extra = DEFAULT_MODEL, tmp_path / "out.zip", []
    if case == "missing":
        model = tmp_path / "absent.pt"
    elif case == "not-a-model":
        model = tmp_path / "notes.pt"
        model.write_text("not a checkpoint")
    elif case == "not-zip":
        out = tmp_path / "out.yaml"
    else:
        extra = ["--sigma", "-0.1"]
    proc = subprocess.run([str(BIN / "restoration"), "export", str(model), "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()


def test_without_the_extra_the_command_names_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)  # what find_spec reports for a missing package
    assert main(["export", str(DEFAULT_MODEL), "-o", str(tmp_path / "out.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "restoration[bioimageio]" in err[0]
