"""Copying items into the run's working zarr store."""

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from restoration.io import discover, fingerprint, ingest
from restoration.io.ingest import chunk_shape


@pytest.fixture
def work(tmp_path):
    return zarr.open_group(str(tmp_path / "work.zarr"), mode="w")


def _inputs(d, ramp):
    d.mkdir()
    np.save(d / "n_f32.npy", ramp((3, 20, 30), "float32"))
    np.save(d / "n_be.npy", ramp((20, 30), "float64").astype(">f8"))
    np.save(d / "n_i16.npy", ramp((20, 30), "int16"))
    tifffile.imwrite(d / "t_u16.tif", ramp((4, 20, 30), "uint16"), photometric="minisblack")
    tifffile.imwrite(d / "t_rgb.tif", ramp((20, 30, 3), "uint8"), photometric="rgb",
                     compression="zlib", resolution=(2.0, 2.0), resolutionunit="INCH")
    Image.fromarray(ramp((20, 30, 3), "uint8")).save(d / "p_rgb.png")
    Image.fromarray(ramp((20, 30), "uint16")).save(d / "p_u16.png")
    g = zarr.open_group(str(d / "z.zarr"), mode="w")
    g.create_group("grp").create_array("vol", data=ramp((2, 3, 20, 30), "float32"),
                                       chunks=(1, 1, 7, 9), dimension_names=("t", "c", "y", "x"))
    return d


def test_ingest_preserves_everything(tmp_path, ramp, work, file_snapshot):
    d = _inputs(tmp_path / "in", ramp)
    before = {p.name: file_snapshot(p) for p in d.iterdir()}
    items = discover([str(d)])
    assert len(items) == 8
    for item in items:
        out = ingest(item, work, chunk_bytes=1024)
        src = np.asarray(item.open()[...])
        assert out.shape == item.shape and out.dtype == item.dtype and out.dtype.isnative
        np.testing.assert_array_equal(out[...], src)
        assert tuple(out.metadata.dimension_names) == tuple(item.axes)
        attrs = out.attrs.asdict()
        assert attrs["fingerprint"] == fingerprint(item)
        assert attrs["source"] == item.source and attrs["array_path"] == item.array_path
        assert attrs["format"] == item.format and attrs["axes"] == item.axes
        assert attrs["dtype"] == item.dtype.name and attrs["shape"] == list(item.shape)
        assert attrs["attrs"] == item.attrs
    assert {p.name: file_snapshot(p) for p in d.iterdir()} == before
    reopened = zarr.open_group(work.store, mode="r")
    assert sorted(reopened.array_keys()) == sorted(i.name for i in items)
    assert reopened["t_rgb"].attrs["attrs"]["resolution"] == {"x": 2.0, "y": 2.0, "unit": "inch"}
    assert reopened["grp.vol"].attrs["array_path"] == "grp/vol"


def test_ingest_overwrites_by_default(tmp_path, ramp, work):
    np.save(tmp_path / "a.npy", ramp((20, 30), "float32"))
    (item,) = discover([str(tmp_path / "a.npy")])
    ingest(item, work)
    np.save(tmp_path / "a.npy", ramp((20, 30), "float32", seed=1))
    out = ingest(item, work)
    np.testing.assert_array_equal(out[...], ramp((20, 30), "float32", seed=1))
    with pytest.raises(Exception):
        ingest(item, work, overwrite=False)


@pytest.mark.parametrize("shape, axes, itemsize, chunk_bytes, expected", [
    ((8, 128, 128), "zyx", 4, 1 << 22, (1, 128, 128)),
    ((2, 3, 4, 64, 64), "tczyx", 4, 1 << 22, (1, 3, 1, 64, 64)),
    ((256, 256, 3), "yxc", 1, 1 << 22, (256, 256, 3)),
    ((4096, 4096), "yx", 4, 1 << 22, (1024, 1024)),
    ((5000, 300), "yx", 4, 1 << 20, (873, 300)),
    ((300, 5000), "yx", 4, 1 << 20, (300, 873)),
    ((3, 2048, 2048), "cyx", 4, 1 << 22, (3, 576, 576)),
])
def test_chunk_shape(shape, axes, itemsize, chunk_bytes, expected):
    chunks = chunk_shape(shape, axes, itemsize, chunk_bytes)
    assert chunks == expected
    nbytes = int(np.prod(chunks)) * itemsize
    assert nbytes <= chunk_bytes


def test_ingest_chunks_follow_axes(tmp_path, ramp, work):
    np.save(tmp_path / "s.npy", ramp((3, 40, 50, 3), "uint8"))
    (item,) = discover([str(tmp_path / "s.npy")])
    out = ingest(item, work, chunk_bytes=2000)
    assert out.chunks[0] == 1 and out.chunks[-1] == 3
    assert out.chunks[1] * out.chunks[2] * 3 <= 2000
    np.testing.assert_array_equal(out[...], ramp((3, 40, 50, 3), "uint8"))
