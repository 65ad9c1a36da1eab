"""restoration.pipeline.restore_locally: the stages without Prefect give what the flow gives."""

from __future__ import annotations

import numpy as np

from restoration import pipeline
from restoration.options import RunOptions
from restoration.store import item_array, open_store
from restoration_flows.cli import main


def test_local_stages_equal_the_flow_and_fail_items_alone(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "in").mkdir()
    np.save(tmp_path / "in" / "a.npy", (0.5 + rng.normal(0, 0.1, (40, 40))).astype(np.float32))
    (tmp_path / "in" / "b.npy").write_bytes(b"not an array")
    summary = pipeline.restore_locally(RunOptions(inputs=(str(tmp_path / "in"),), outdir=str(tmp_path / "local"),
                                                  denoiser="nlm", seed=3))
    assert summary["ok"] == 1 and summary["failed"] == 1
    (bad,) = [r for r in summary["quality_table"] if r["status"] != "ok"]
    assert bad["name"] == "b" and "b.npy" in bad["error"]
    assert main(["run", str(tmp_path / "in"), "-o", str(tmp_path / "flow"), "--denoiser", "nlm", "--seed", "3"]) == 2
    local, flow = (item_array(open_store(tmp_path / d, mode="r"), "a")[...] for d in ("local", "flow"))
    assert np.array_equal(local, flow)
