"""Property-based round trips of the readers: whatever a user saves as ``.npy``, TIFF or zarr is
what discover + open + ingest give back, bit for bit (values, dtype, shape)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import tifffile
import zarr
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from restoration.io import discover, fingerprint, infer_axes, ingest, read_array
from restoration.io.checks import shape_problem

DTYPES = ["uint8", "uint16", "int16", "float32", "float64"]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def data_arrays(draw, min_side: int = 1):
    """Random 2-D..4-D arrays of the supported dtypes with random content (NaN, inf, -0.0 and
    extreme values included for floats)."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(2, 4))
    shape = tuple(draw(st.lists(st.integers(min_side, 7), min_size=ndim, max_size=ndim)))
    fill = st.nothing() if dtype.kind == "f" else None  # floats: every element drawn (NaN included)
    return draw(arrays(dtype, shape, fill=fill, elements={"allow_subnormal": True} if dtype.kind == "f" else None))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape, dtype and bytes (NaN payloads and the sign of zero included)."""
    a, b = np.asarray(a), np.asarray(b)
    return (a.shape == b.shape and a.dtype.newbyteorder("=") == b.dtype.newbyteorder("=")
            and np.ascontiguousarray(a, a.dtype.newbyteorder("<")).tobytes()
            == np.ascontiguousarray(b, b.dtype.newbyteorder("<")).tobytes())


def _check_round_trip(path: Path, data: np.ndarray, fmt: str) -> None:
    items = discover([str(path)])
    assert len(items) == 1
    item = items[0]
    assert item.format == fmt and item.shape == data.shape
    assert item.dtype == data.dtype.newbyteorder("=") and item.dtype.isnative
    assert len(item.axes) == data.ndim
    opened = item.open()
    assert tuple(opened.shape) == data.shape
    assert _same(np.asarray(opened[...]), data)
    loaded, axes = read_array(str(path))
    assert _same(loaded, data) and loaded.dtype.isnative and axes == item.axes
    with tempfile.TemporaryDirectory() as work:
        group = zarr.open_group(str(Path(work) / "work.zarr"), mode="w", zarr_format=3)
        out = ingest(item, group, chunk_bytes=64)  # many small chunks and blocks
        assert out.shape == data.shape and out.dtype == item.dtype
        assert _same(out[...], data)
        assert out.attrs["fingerprint"] == fingerprint(item)
        assert tuple(out.metadata.dimension_names) == tuple(item.axes)


def _valid(shape: tuple[int, ...], fmt: str) -> bool:
    return shape_problem(shape, infer_axes(shape, format=fmt)) is None


@SETTINGS
@given(data=data_arrays(), big_endian=st.booleans(), fortran=st.booleans())
def test_npy_round_trip(data, big_endian, fortran):
    assume(_valid(data.shape, "npy"))
    if big_endian:
        data = data.astype(data.dtype.newbyteorder(">"))
    if fortran:
        data = np.asfortranarray(data)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.npy"
        np.save(path, data)
        before = path.read_bytes()
        _check_round_trip(path, data, "npy")
        assert path.read_bytes() == before


@SETTINGS
@given(data=data_arrays(min_side=3), compression=st.sampled_from([None, "zlib"]))
def test_tiff_round_trip(data, compression):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.tif"
        tifffile.imwrite(path, data, photometric="minisblack", compression=compression)
        before = path.read_bytes()
        _check_round_trip(path, data, "tiff")
        assert path.read_bytes() == before


@SETTINGS
@given(data=data_arrays(), chunk=st.integers(1, 5), in_group=st.booleans())
def test_zarr_round_trip(data, chunk, in_group):
    assume(_valid(data.shape, "zarr"))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.zarr"
        chunks = tuple(min(chunk, n) for n in data.shape)
        if in_group:  # an array inside a group: named by its path with / -> .
            group = zarr.open_group(str(path), mode="w", zarr_format=3)
            group.create_group("sub").create_array("arr", data=data, chunks=chunks)
        else:
            zarr.create_array(str(path), data=data, chunks=chunks, zarr_format=3)
        (item,) = discover([str(path)])
        assert item.name == ("sub.arr" if in_group else "a")
        if in_group:
            assert item.array_path == "sub/arr"
            _check_round_trip_item(item, data)
        else:
            _check_round_trip(path, data, "zarr")


def _check_round_trip_item(item, data: np.ndarray) -> None:
    assert item.shape == data.shape and item.dtype == data.dtype
    assert _same(item.open()[...], data)
    with tempfile.TemporaryDirectory() as work:
        group = zarr.open_group(str(Path(work) / "work.zarr"), mode="w", zarr_format=3)
        out = ingest(item, group, chunk_bytes=64)
        assert _same(out[...], data) and out.attrs["fingerprint"] == fingerprint(item)


@SETTINGS
@given(data=data_arrays(min_side=3))
def test_fingerprint_depends_on_values_not_format(data):
    """One array saved three ways has one fingerprint."""
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        np.save(d / "a.npy", data.astype(data.dtype.newbyteorder(">")))
        tifffile.imwrite(d / "b.tif", data, photometric="minisblack", compression="zlib")
        zarr.create_array(str(d / "c.zarr"), data=data, chunks=(2,) * data.ndim, zarr_format=3)
        prints = {fingerprint(discover([str(d / n)])[0]) for n in ("a.npy", "b.tif", "c.zarr")}
        assert len(prints) == 1
