"""OUTDIR and inputs on object storage, against a real S3 API on loopback (moto's server): the
output equals the one on local disk bit for bit, on a 2-worker Dask cluster too; one run at a
time (a lease object); a run killed with SIGKILL resumes bit-identically; setup mistakes get one
line and exit 2 before any work."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import numpy as np
import pytest
import zarr

from restoration.store import item_array, item_provenance, open_store
from restoration_flows.cli import main

BIN = Path(sys.executable).parent


def _image(path: Path, seed: int = 3, shape=(96, 96)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    noisy = (0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 9.0) + rng.normal(0, 0.1, shape)).astype(np.float32)
    np.save(path, noisy)
    return noisy


def _same_output(a: str, b: str, name: str) -> None:
    """Level 0, the pyramid and the OME metadata of item ``name`` in OUTDIRs ``a`` and ``b`` are equal."""
    sa, sb = open_store(a, mode="r"), open_store(b, mode="r")
    assert item_provenance(sb, name)["complete"] is True
    for level in sa[name].array_keys():
        assert np.array_equal(sa[name][level][:], sb[name][level][:]), level
    assert sa[name].attrs["ome"] == sb[name].attrs["ome"]


@pytest.fixture(scope="module")
def cluster(s3_server):
    """Two Dask worker processes; started after the S3 server so that they inherit its environment."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_output_on_s3_equals_local_disk_also_from_s3_on_a_dask_cluster(tmp_path, bucket, cluster, monkeypatch):
    monkeypatch.setenv("RESTORATION_PYRAMID_SIDE", "32")  # levels 1 and 2 compared too
    noisy = _image(tmp_path / "img.npy")
    digest = hashlib.sha256((tmp_path / "img.npy").read_bytes()).hexdigest()
    common = ["--denoiser", "nlm"]
    assert main(["run", str(tmp_path / "img.npy"), "-o", str(tmp_path / "local"), *common]) == 0
    assert main(["run", str(tmp_path / "img.npy"), "-o", f"{bucket}/run", *common]) == 0
    _same_output(str(tmp_path / "local"), f"{bucket}/run", "img")
    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    names = {p.rsplit("/", 1)[-1] for p in fs.ls(f"{bucket}/run")}
    # the tables, the report and run.json in the bucket; the lease released; the work store dropped
    assert names == {"restored.zarr", "noise.csv", "quality.csv", "report.html", "run.json"}
    assert b"<html" in fs.cat_file(f"{bucket}/run/report.html")
    assert "testing-secret" not in fs.cat_file(f"{bucket}/run/run.json").decode()
    assert "testing-secret" not in str(item_provenance(open_store(f"{bucket}/run", mode="r"), "img"))

    # From the bucket, on a 2-worker cluster writing the bucket: the same output.
    zarr.create_array(store=f"{bucket}/in/img.zarr", data=noisy, chunks=(48, 48))
    assert main(["run", f"{bucket}/in/img.zarr", "-o", f"{bucket}/dask", "--dask-address", cluster.scheduler_address,
                 *common]) == 0
    assert any("denoise" in p for p in cluster.scheduler.task_prefixes)
    np.testing.assert_array_equal(item_array(open_store(f"{bucket}/dask", mode="r"), "img")[:],
                                  item_array(open_store(str(tmp_path / "local"), mode="r"), "img")[:])
    assert hashlib.sha256((tmp_path / "img.npy").read_bytes()).hexdigest() == digest  # input untouched
    np.testing.assert_array_equal(zarr.open_array(f"{bucket}/in/img.zarr", mode="r")[:], noisy)


def test_one_run_at_a_time_and_sigkill_resumes_bit_identically(tmp_path, bucket, tiny_model, spawn, s3_server):
    rng = np.random.default_rng(11)
    # Large enough that the run is still going when two regions are done (the tiny model restores a
    # 16-plane 64x64 stack in about a second on a quiet machine).
    yy, xx = np.mgrid[0:128, 0:128]
    clean = np.stack([0.5 + 0.3 * np.sin((yy + 3 * z) / 8.0) for z in range(48)]).astype(np.float32)
    np.save(tmp_path / "vol.npy", clean + rng.normal(0, 0.08, clean.shape).astype(np.float32))
    opts = {"model": str(tiny_model), "method": "posterior", "steps": 8}
    # A lease long enough that a starved heartbeat on a loaded machine does not let the rival in.
    env = {**os.environ, **s3_server["env"], "RESTORATION_PYRAMID_SIDE": "32", "RESTORATION_LEASE_SECONDS": "10"}
    out = f"{bucket}/out"
    args = [str(BIN / "restoration"), "run", str(tmp_path / "vol.npy"), "-o", out,
            *[a for k, v in opts.items() for a in (f"--{k}", str(v))]]
    # The reference, on local disk, alongside.
    ref = spawn.start(args[:4] + [str(tmp_path / "ref")] + args[5:], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      text=True, env=env)
    # Two runs on one OUTDIR at once: one holds the lease, the other is refused in one line.
    runs = [spawn.start(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    fs = fsspec.filesystem("s3")
    progress = f"{bucket}/out/.work/progress/vol"

    def done() -> int:
        fs.invalidate_cache()
        return len([p for p in fs.ls(progress) if p.endswith(".done")]) if fs.exists(progress) else 0

    deadline = time.time() + 480  # a shared machine: three runs of torch at once
    while done() < 2 or all(r.poll() is None for r in runs):
        assert time.time() < deadline, f"{done()} regions done, exit codes {[r.poll() for r in runs]}"
        assert any(r.poll() is None for r in runs), [r.stderr.read() for r in runs]  # both ended: say why
        time.sleep(0.1)
    rival = next(r for r in runs if r.poll() is not None)
    victim = next(r for r in runs if r is not rival)
    err = rival.stderr.read()
    assert rival.returncode == 2 and "locked by another restoration run" in err and len(err.strip().splitlines()) == 1, err
    assert victim.poll() is None, "finished before it could be killed: " + victim.stderr.read()
    spawn.kill(victim)  # a killed machine: its lease is left to expire
    victim.wait(30)
    assert 2 <= done() < 48
    assert item_provenance(open_store(out, mode="r"), "vol")["complete"] is False
    time.sleep(10.5)  # RESTORATION_LEASE_SECONDS

    again = spawn.start(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert again.wait(300) == 0, again.stderr.read()
    assert ref.wait(300) == 0, ref.stderr.read()
    _same_output(str(tmp_path / "ref"), out, "vol")


def test_setup_mistakes_exit_2_with_one_line_before_any_work(tmp_path, bucket, capsys, monkeypatch):
    _image(tmp_path / "img.npy", shape=(16, 16))
    cases = [("s3://no-such-bucket-here/run", {}, "does not exist"),
             (f"{bucket}/run", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot reach"),
             (f"{bucket}/run", {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "no credentials"),
             ("s3://key:secret@bucket/run", {}, "credentials in the URL")]
    for outdir, env, message in cases:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.delenv(k) if v is None else m.setenv(k, v)
            start = time.time()
            assert main(["run", str(tmp_path / "img.npy"), "-o", outdir, "--denoiser", "nlm"]) == 2
            err = capsys.readouterr().err.strip()
            assert message in err and len(err.splitlines()) == 1 and time.time() - start < 30, err
            assert "secret" not in err
    fsspec.filesystem("s3").invalidate_cache()
    assert fsspec.filesystem("s3").ls(bucket) == []  # nothing written


def test_no_write_permission_is_one_line_before_any_work(tmp_path, spawn):
    """A user who may read the bucket but not write to it (moto enforcing IAM policies once the
    4 setup calls are done): the run to it is refused in one line, before any work, and the
    secret key is printed nowhere."""
    import boto3
    from servers import start_moto_server

    url = start_moto_server(spawn, tmp_path / "moto.log", INITIAL_NO_AUTH_ACTION_COUNT="4")
    admin = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "admin-key",
             "aws_secret_access_key": "admin-secret"}
    boto3.client("s3", **admin).create_bucket(Bucket="readonly")
    iam = boto3.client("iam", **admin)
    iam.create_user(UserName="reader")
    read_only = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:List*", "s3:Get*"], "Resource": "*"}]}
    iam.put_user_policy(UserName="reader", PolicyName="read-only", PolicyDocument=json.dumps(read_only))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    _image(tmp_path / "img.npy", shape=(16, 16))
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    r = subprocess.run([str(BIN / "restoration"), "run", str(tmp_path / "img.npy"), "-o", "s3://readonly/run",
                        "--denoiser", "nlm"], env=env, capture_output=True, text=True, timeout=120)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, r.stderr
    assert "s3://readonly/run" in err[0] and "no permission to write" in err[0], err
    assert key["SecretAccessKey"] not in r.stdout + r.stderr
    reader = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                          aws_secret_access_key=key["SecretAccessKey"])
    assert reader.list_objects_v2(Bucket="readonly")["KeyCount"] == 0  # nothing written, the reading allowed
    # A user who may not even list it is told that instead.
    env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "nobody-key", "nobody-secret"
    r = subprocess.run([str(BIN / "restoration"), "run", "s3://readonly/in.npy", "-o", str(tmp_path / "out"),
                        "--denoiser", "nlm"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "s3://readonly/in.npy" in r.stderr and "access denied" in r.stderr.lower(), r.stderr
