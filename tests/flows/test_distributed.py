"""Denoise work on a real Dask cluster (2 worker processes) equals a local run."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from restoration.store import item_array, item_provenance
from restoration_flows.cli import dask_runner, main


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_dask_cluster_matches_local(tmp_path, cluster, tiny_model):
    rng = np.random.default_rng(4)
    yy, xx = np.mgrid[0:64, 0:64]
    clean = np.stack([0.5 + 0.3 * np.sin((xx + 5 * z) / 6.0) for z in range(6)]).astype(np.float32)
    np.save(tmp_path / "vol.npy", clean + rng.normal(0, 0.1, clean.shape).astype(np.float32))
    common = [str(tmp_path / "vol.npy"), "--model", str(tiny_model), "--method", "posterior", "--steps", "3"]
    assert main(["run", *common, "-o", str(tmp_path / "local")]) == 0
    assert main(["run", *common, "-o", str(tmp_path / "dask"), "--dask-address", cluster.scheduler_address]) == 0
    a = item_array(zarr.open_group(str(tmp_path / "local" / "restored.zarr"), mode="r"), "vol")
    b = item_array(zarr.open_group(str(tmp_path / "dask" / "restored.zarr"), mode="r"), "vol")
    assert item_provenance(zarr.open_group(str(tmp_path / "dask" / "restored.zarr"), mode="r"), "vol")["complete"] is True
    assert np.abs(a[:] - b[:]).max() < 1e-5
    # the batches really ran on the cluster: its scheduler saw the denoise task runs
    prefixes = set(cluster.scheduler.task_prefixes)
    assert any("denoise" in p for p in prefixes), prefixes


def test_one_plane_is_spread_over_the_cluster(tmp_path, cluster, tiny_model, monkeypatch, capfd):
    from restoration.pipeline import stages

    # Tiny stand-ins for the real 2 Mpx floor and 512-row chunks: 256 rows become 8 bands of 32.
    monkeypatch.setattr(stages, "SPREAD_MIN_PIXELS", 1)
    monkeypatch.setenv("RESTORATION_CHUNK", "32")
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:256, 0:96]
    noisy = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 11.0) + rng.normal(0, 0.1, yy.shape)
    np.save(tmp_path / "plane.npy", noisy.astype(np.float32))
    common = [str(tmp_path / "plane.npy"), "--model", str(tiny_model)]
    assert main(["run", *common, "-o", str(tmp_path / "local")]) == 0
    assert "1/1" in capfd.readouterr().err                      # locally: the whole plane at once
    assert main(["run", *common, "-o", str(tmp_path / "dask"), "--dask-address", cluster.scheduler_address]) == 0
    assert "8/8" in capfd.readouterr().err                      # on the cluster: 8 regions
    a = item_array(zarr.open_group(str(tmp_path / "local" / "restored.zarr"), mode="r"), "plane")[:]
    b = item_array(zarr.open_group(str(tmp_path / "dask" / "restored.zarr"), mode="r"), "plane")[:]
    assert np.abs(a - b).max() < 1e-5


def test_local_cluster_workers_share_one_malloc_arena(monkeypatch):
    """--dask-workers spawns workers with MALLOC_ARENA_MAX=1: glibc only reads it at start, and
    without it the network's blocks, allocated in a worker thread, are mmap'd afresh each time.
    Neither their environment nor their configuration stays in the process that started them: a
    flow run that ``serve`` starts later would take itself for a Dask worker (and crash)."""
    import os

    import dask
    from distributed import Client
    from restoration_flows.children import WORKER_MARK

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    before, config = dict(os.environ), dask.config.get("distributed.nanny.pre-spawn-environ")

    def marks():
        return os.environ.get("MALLOC_ARENA_MAX"), os.environ.get(WORKER_MARK)

    runner = dask_runner(None, 1)
    with runner.cluster_class(**runner.cluster_kwargs) as c, Client(c) as client:
        assert set(client.run(marks).values()) == {("1", "1")}
        assert dict(os.environ) == before
        assert dask.config.get("distributed.nanny.pre-spawn-environ") == config
    monkeypatch.setenv("RESTORATION_MALLOC", "system")
    runner = dask_runner(None, 1)
    with runner.cluster_class(**runner.cluster_kwargs) as c, Client(c) as client:
        assert set(client.run(marks).values()) == {(None, "1")}
