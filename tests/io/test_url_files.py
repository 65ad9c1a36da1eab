"""Input files on object storage (.tif, .npy, .png, .jpg by URL, a prefix or a glob of them),
against a real S3 API on loopback (moto's server): read as from local disk, lazily where the
format allows, restored bit for bit as the local run, and every problem one line and exit 2."""

from __future__ import annotations

import csv
import io

import fsspec
import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from restoration.errors import InputError
from restoration.io import discover
from restoration.io.urlfiles import RangeArray
from restoration.options import RunOptions
from restoration.pipeline import restore_locally
from restoration.store import item_array, item_provenance, open_store
from restoration.watch import record, scan
from restoration_flows.cli import main

NLM = ["--denoiser", "nlm"]


def _noisy(seed: int, shape=(40, 48)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return (0.5 + 0.3 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + rng.normal(0, 0.1, shape)).astype(np.float32)


def _upload(bucket: str, files: dict) -> None:
    fs = fsspec.filesystem("s3")
    for key, path in files.items():
        fs.put_file(str(path), f"{bucket.removeprefix('s3://')}/{key}")


def test_every_format_by_url_reads_as_from_local_disk(tmp_path, bucket):
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 60000, (5, 24, 30)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "plain.tif", stack)
    tifffile.imwrite(tmp_path / "zlib.tiff", stack, compression="zlib")
    tifffile.imwrite(tmp_path / "big.ome.tif", stack.astype(">u2"), byteorder=">", metadata={"axes": "ZYX"})
    np.save(tmp_path / "c.npy", stack.astype(np.float32))
    np.save(tmp_path / "f.npy", np.asfortranarray(stack[0].astype(">f8")))
    Image.fromarray(stack[0].astype(np.uint8)).save(tmp_path / "p.png")
    Image.fromarray(stack[0].astype(np.uint8)).save(tmp_path / "j.jpg")
    names = sorted(p.name for p in tmp_path.iterdir())
    _upload(bucket, {f"in/{n}": tmp_path / n for n in names})
    fsspec.filesystem("s3").pipe_file(f"{bucket.removeprefix('s3://')}/in/notes.txt", b"not an image")
    zarr.create_array(store=f"{bucket}/in/z.zarr", data=stack[0])
    lazy = set()
    for name in names:
        (local,) = discover([str(tmp_path / name)])
        (remote,) = discover([f"{bucket}/in/{name}"])
        assert remote.source == f"{bucket}/in/{name}"
        assert (local.name, local.format, local.shape, local.dtype, local.axes, local.attrs) == (
            remote.name, remote.format, remote.shape, remote.dtype, remote.axes, remote.attrs), name
        a, b = local.open(), remote.open()
        for sel in [(...,), (slice(1, 3),), (-1, slice(2, 9)), (slice(7, 1, -2), 3)]:
            np.testing.assert_array_equal(np.asarray(a[sel]), np.asarray(b[sel]), err_msg=f"{name} {sel}")
        if isinstance(b, RangeArray):
            lazy.add(name)
    assert lazy == {"plain.tif", "big.ome.tif", "c.npy", "f.npy"}  # uncompressed: read by byte range
    # A prefix is read like a directory (sorted, zarr stores counted, other objects skipped), a
    # glob like a local one.
    found = discover([f"{bucket}/in"])
    assert [i.name for i in found] == ["big", "c", "f", "j", "p", "plain", "z", "zlib"]
    assert (found[6].format, found[6].source) == ("zarr", f"{bucket}/in/z.zarr")
    assert [i.name for i in discover([f"{bucket}/in/*.tif*"])] == ["big", "plain", "zlib"]


def test_run_of_files_on_s3_equals_the_local_run_and_resumes(tmp_path, bucket, monkeypatch):
    monkeypatch.setenv("RESTORATION_PYRAMID_SIDE", "16")
    for folder in ("in", "more"):
        (tmp_path / folder).mkdir()
    tifffile.imwrite(tmp_path / "in" / "cells.tif", (_noisy(1) * 1000).astype(np.uint16))
    np.save(tmp_path / "more" / "stack.npy", _noisy(2))
    Image.fromarray((_noisy(3) * 200).clip(0, 255).astype(np.uint8)).save(tmp_path / "more" / "dots.png")
    _upload(bucket, {f"{p.parent.name}/{p.name}": p for p in tmp_path.glob("*/*")})
    local_inputs = [str(tmp_path / "in" / "cells.tif"), str(tmp_path / "more")]
    # The reference, on local disk, with the same stages without Prefect (tests/test_pipeline_local.py).
    assert restore_locally(RunOptions(inputs=tuple(local_inputs), outdir=str(tmp_path / "local"),
                                      denoiser="nlm"))["ok"] == 3
    # One object by URL, and a prefix holding two (read like a local directory).
    inputs = [f"{bucket}/in/cells.tif", f"{bucket}/more"]
    assert main(["run", *inputs, "-o", str(tmp_path / "prefix"), *NLM]) == 0
    local = open_store(str(tmp_path / "local"), mode="r")
    store = open_store(str(tmp_path / "prefix"), mode="r")
    for name in ["cells", "dots", "stack"]:
        assert item_provenance(store, name)["complete"] is True
        assert item_provenance(store, name)["fingerprint"] == item_provenance(local, name)["fingerprint"]
        for level in local[name].array_keys():
            np.testing.assert_array_equal(store[name][level][:], local[name][level][:], err_msg=f"{name} {level}")
    rows = [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(open(tmp_path / "prefix" / "quality.csv"))]
    assert rows == [{k: v for k, v in r.items() if k != "seconds"}
                    for r in csv.DictReader(open(tmp_path / "local" / "quality.csv"))]
    assert "testing-secret" not in (tmp_path / "prefix" / "run.json").read_text()
    assert "testing-secret" not in str(item_provenance(open_store(str(tmp_path / "prefix"), mode="r"), "cells"))
    # Run again: the objects are recognized as the inputs already restored.
    again = restore_locally(RunOptions(inputs=tuple(inputs), outdir=str(tmp_path / "prefix"), denoiser="nlm"))
    assert sorted(again["skipped"]) == ["cells", "dots", "stack"]
    np.testing.assert_array_equal(item_array(open_store(str(tmp_path / "prefix"), mode="r"), "stack")[:],
                                  item_array(local, "stack")[:])


def test_problems_with_files_on_s3_are_one_line_and_exit_2(tmp_path, bucket, capsys, monkeypatch):
    tifffile.imwrite(tmp_path / "whole.tif", (_noisy(3) * 1000).astype(np.uint16))
    data = (tmp_path / "whole.tif").read_bytes()
    fs = fsspec.filesystem("s3")
    key = bucket.removeprefix("s3://")
    fs.pipe_file(f"{key}/bad/cut.tif", data[: len(data) // 2])
    fs.pipe_file(f"{key}/bad/noise.npy", b"\x93NUMPY garbage")
    fs.pipe_file(f"{key}/bad/scan.czi", b"vendor bytes")
    fs.pipe_file(f"{key}/bad/notes.txt", b"text")
    fs.pipe_file(f"{key}/good.tif", data)
    cases = [(f"{bucket}/missing.tif", {}, "no such object"),
             (f"{bucket}/bad/cut.tif", {}, "truncated TIFF file"),
             (f"{bucket}/bad/noise.npy", {}, "not a valid .npy file"),
             (f"{bucket}/bad/scan.czi", {}, "read from a local disk only"),
             (f"{bucket}/bad/notes.txt", {}, "unsupported file type '.txt'"),
             (f"{bucket}/bad/*.npy.gz", {}, "pattern matches nothing"),
             ("s3://no-such-bucket-here/cells.tif", {}, "does not exist"),
             (f"{bucket}/good.tif", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "cannot reach"),
             (f"{bucket}/good.tif", {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, "no credentials")]
    for url, env, message in cases:
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.delenv(k) if v is None else m.setenv(k, v)
            assert main(["run", url, "-o", str(tmp_path / "out"), *NLM]) == 2, url
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"error: {url}: ") and message in err and len(err.splitlines()) == 1, err
        assert "testing-secret" not in err
        assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="truncated"):
        discover([f"{bucket}/bad/cut.tif"])


def test_watched_bucket_restores_a_new_object_once(bucket):
    """A ``.tif`` uploaded into a watched prefix is pending once settled, done once recorded, and
    pending again (to be replaced) when it is uploaded anew with other content."""
    fs = fsspec.filesystem("s3")
    key = bucket.removeprefix("s3://")
    watch, outroot = f"{bucket}/incoming", f"{bucket}/restored"
    buf = io.BytesIO()
    tifffile.imwrite(buf, (_noisy(4) * 1000).astype(np.uint16))
    fs.pipe_file(f"{key}/incoming/cells.tif", buf.getvalue())
    fs.pipe_file(f"{key}/incoming/notes.txt", b"not a dataset")
    params = {"denoiser": "nlm"}
    assert scan(watch, outroot, params, settle=3600)["waiting"] == [f"{watch}/cells.tif"]
    (pending,) = scan(watch, outroot, params, settle=0)["pending"]
    assert (pending["entry"], pending["outdir"], pending["overwrite"]) == (
        f"{watch}/cells.tif", f"{outroot}/cells.tif", False)
    assert pending["stat"][0][:2] == ["cells.tif", len(buf.getvalue())]
    (item,) = discover([pending["entry"]])  # what the scheduled run restores
    assert item.name == "cells"
    assert record(outroot, pending, params, ok=True)
    assert scan(watch, outroot, params, settle=0) == {"pending": [], "waiting": [], "done": [f"{watch}/cells.tif"],
                                                      "failed": []}
    fs.pipe_file(f"{key}/incoming/cells.tif", buf.getvalue() + b"\0")
    (again,) = scan(watch, outroot, params, settle=0)["pending"]
    assert again["overwrite"] is True and again["stat"] != pending["stat"]
