"""Send to pipeline: the widget's options as a restore-dataset run on a real Prefect server, its
page and report linked; then the reader opens the output, equal to the public API."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from servers import start_prefect_server

import restoration


@pytest.fixture
def prefect_server(tmp_path_factory, spawn):
    """A real Prefect server on loopback for this test (tests/servers.py), stopped after it."""
    return start_prefect_server(tmp_path_factory.mktemp("prefect-home"), spawn)


def test_send_to_a_prefect_server_then_read_the_output(viewer, prefect_server, tiny_model, tmp_path, monkeypatch):
    from qtpy.QtWidgets import QApplication

    v, w = viewer
    for key, value in prefect_server["env"].items():
        if key.startswith("PREFECT_"):
            monkeypatch.setenv(key, value)                         # the child process inherits them
    v.open_sample("restoration", "stack")
    assert w.source.text().endswith("data/noisy/stack.zarr")     # the selected layer's file, filled in
    assert w.outdir.text().endswith("data/noisy/stack-restored")
    # A chosen folder instead (a small one: the run is timed by the machine's load).
    (tmp_path / "in").mkdir()
    noisy = np.asarray(v.layers["stack"].data[:2, 32:96, 32:96])
    np.save(tmp_path / "in" / "small.npy", noisy)
    w.source.setText(str(tmp_path / "in"))
    w.outdir.setText(str(tmp_path / "out"))
    w.model.setText(str(tiny_model))
    w.samples.setValue(2)
    w.send()
    start = time.perf_counter()
    while w.pipeline.running():
        QApplication.processEvents()
        time.sleep(0.02)
        assert time.perf_counter() - start < 240, w.status.text()
    QApplication.processEvents()
    assert w.pipeline.process.exitCode() == 0, w.status.text()
    url, report = w.pipeline.url, w.pipeline.report
    assert url.startswith(prefect_server["url"].removesuffix("/api")) and f'href="{url}"' in w.links.text()
    assert report == str(tmp_path / "out" / "report.html") and Path(report).is_file()
    assert Path(report).as_uri() in w.links.text()
    run_id = url.rstrip("/").rsplit("/", 1)[-1]
    with urllib.request.urlopen(f"{prefect_server['url']}/flow_runs/{run_id}", timeout=10) as r:
        run = json.load(r)
    assert run["state_type"] == "COMPLETED" and run["name"].startswith("restore-out-")

    layers = v.open(str(tmp_path / "out" / "restored.zarr"), plugin="restoration")
    assert [layer.name for layer in layers] == ["small", "small std"]
    restored, std_layer = layers
    mean, std = restoration.denoise(noisy, model=str(tiny_model), samples=2, return_std=True)
    # The reader gives the store's values exactly; the pipeline (another process) and the API
    # agree to float rounding with the diffusion model.
    from restoration.store import item_array, open_store, std_array

    store = open_store(tmp_path / "out", mode="r")
    assert np.array_equal(np.asarray(restored.data), item_array(store, "small")[...])
    assert np.array_equal(np.asarray(std_layer.data), std_array(store, "small")[...]) and not std_layer.visible
    assert np.array_equal(np.asarray(restored.metadata["std"]), np.asarray(std_layer.data))
    np.testing.assert_allclose(np.asarray(restored.data), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(std_layer.data), std, rtol=1e-4, atol=1e-6)
    prov = restored.metadata["restoration"]
    assert prov["complete"] and prov["options"]["samples"] == 2 and prov["noise"][0]["noise"] == "gaussian"
    assert tuple(restored.axis_labels) == ("z", "y", "x")
