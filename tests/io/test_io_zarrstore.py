"""zarr inputs: groups, arrays, URLs, metadata, naming, errors."""

import uuid

import numpy as np
import pytest
import zarr

from restoration.errors import InputError
from restoration.io import SUPPORTED_DTYPES, discover, read_array


@pytest.fixture
def memory_url():
    return f"memory://io-test-{uuid.uuid4().hex}"


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES, ids=lambda d: d.name)
def test_root_array_round_trip(tmp_path, ramp, dtype):
    data = ramp((6, 7), dtype)
    path = tmp_path / "arr.zarr"
    zarr.create_array(str(path), data=data)
    (item,) = discover([str(path)])
    assert (item.name, item.format, item.shape, item.dtype, item.axes, item.array_path) == (
        "arr", "zarr", (6, 7), dtype, "yx", None)
    opened = item.open()
    assert isinstance(opened, zarr.Array)
    np.testing.assert_array_equal(opened[...], data)
    np.testing.assert_array_equal(read_array(str(path))[0], data)


def test_group_members_are_items_named_by_path(tmp_path, ramp):
    path = tmp_path / "grp.zarr"
    g = zarr.open_group(str(path), mode="w")
    g.create_array("b", data=ramp((6, 7), "uint8"))
    g.create_group("a").create_array("b", data=ramp((5, 6, 7), "float32"))
    g.create_group("a/c").create_array("d", data=ramp((6, 7), "int16"))
    items = discover([str(path)])
    assert [(i.name, i.array_path, i.axes) for i in items] == [
        ("a.b", "a/b", "zyx"), ("a.c.d", "a/c/d", "yx"), ("b", "b", "yx")]
    assert all(i.source == str(path) for i in items)
    np.testing.assert_array_equal(items[0].open()[...], ramp((5, 6, 7), "float32"))
    with pytest.raises(InputError, match="holds 3 arrays"):
        read_array(str(path))


def test_array_inside_store_given_directly(tmp_path, ramp):
    path = tmp_path / "grp.zarr"
    zarr.open_group(str(path), mode="w").create_array("vol", data=ramp((4, 6, 7), "uint16"))
    (item,) = discover([str(path / "vol")])
    assert item.name == "vol" and item.shape == (4, 6, 7)
    (by_url,) = discover([(path / "vol").as_uri()])
    assert by_url.name == "vol"


def test_dimension_names_and_v2_array_dimensions(tmp_path, ramp):
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("cyx", data=ramp((3, 6, 7), "float32"), dimension_names=("c", "y", "x"))
    g.create_array("named_tyx", data=ramp((3, 6, 7), "float32"),
                   dimension_names=("time", "y", "x"))
    g.create_array("unnamed", data=ramp((3, 6, 7), "float32"), dimension_names=("a", "b", "c"))
    v2 = zarr.open_array(str(tmp_path / "v2.zarr"), mode="w", shape=(6, 7, 3), dtype="u2",
                         zarr_format=2, attributes={"_ARRAY_DIMENSIONS": ["y", "x", "c"]})
    v2[...] = ramp((6, 7, 3), "uint16")
    items = {i.name: i for i in discover([str(tmp_path / "g.zarr"), str(tmp_path / "v2.zarr")])}
    assert items["cyx"].axes == "cyx" and items["named_tyx"].axes == "tyx"
    assert items["unnamed"].axes == "zyx"
    assert items["cyx"].attrs["dimension_names"] == ["c", "y", "x"]
    assert items["v2"].axes == "yxc"
    np.testing.assert_array_equal(items["v2"].open()[...], ramp((6, 7, 3), "uint16"))


def test_ome_axes_and_scale_are_carried(tmp_path, ramp):
    g = zarr.open_group(str(tmp_path / "ome.zarr"), mode="w")
    axes = [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"}]
    g.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 0.5, 0.25]}]}]}]}
    g.create_array("0", data=ramp((2, 6, 7), "uint16"))
    arr = zarr.create_array(str(tmp_path / "own.zarr"), data=ramp((6, 7), "uint8"),
                            attributes={"scale": [0.1, 0.2], "units": "nm"})
    ome, own = discover([str(tmp_path / "ome.zarr"), str(tmp_path / "own.zarr")])
    assert (ome.name, ome.array_path, ome.axes) == ("ome", "0", "cyx")
    assert ome.attrs["axes"] == axes and ome.attrs["scale"] == [1, 0.5, 0.25]
    assert ome.attrs["units"] == [None, "micrometer", "micrometer"]
    assert own.attrs == {"scale": [0.1, 0.2], "units": ["nanometer", "nanometer"]}
    assert arr.shape == own.shape


def test_fsspec_memory_url(memory_url, ramp):
    g = zarr.open_group(memory_url, mode="w")
    g.create_group("x").create_array("y", data=ramp((8, 9), "float64"))
    (item,) = discover([memory_url])
    assert (item.name, item.source, item.array_path) == ("x.y", memory_url, "x/y")
    np.testing.assert_array_equal(item.open()[...], ramp((8, 9), "float64"))


def test_empty_group(tmp_path, memory_url):
    zarr.open_group(str(tmp_path / "empty.zarr"), mode="w").create_group("sub")
    with pytest.raises(InputError, match="no arrays") as err:
        discover([str(tmp_path / "empty.zarr")])
    assert "empty.zarr" in str(err.value)
    with pytest.raises(InputError, match="no zarr array or group") as err:
        discover([memory_url])
    assert memory_url in str(err.value)


def test_dot_zarr_without_metadata_or_missing(tmp_path):
    (tmp_path / "nometa.zarr").mkdir()
    for name in ("nometa.zarr", "missing.zarr"):
        with pytest.raises(InputError) as err:
            discover([str(tmp_path / name)])
        assert name in str(err.value)


def test_corrupt_metadata(tmp_path, ramp):
    store = tmp_path / "bad.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{not json")
    with pytest.raises(InputError, match="corrupt zarr metadata") as err:
        discover([str(store)])
    assert str(store) in str(err.value)
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("ok", data=ramp((6, 7), "uint8"))
    (tmp_path / "g.zarr" / "ok" / "zarr.json").write_text("[1, 2")
    with pytest.raises(InputError, match="corrupt zarr metadata") as err:
        discover([str(tmp_path / "g.zarr")])
    assert "g.zarr" in str(err.value)


@pytest.mark.parametrize("dtype, shape, msg", [
    ("bool", (6, 7), "unsupported dtype bool"), ("complex128", (6, 7), "convert to a real type"),
    ("float32", (0, 7), "zero-size"), ("float32", (6, 1), "too small"),
    ("float32", (7,), "1-D")])
def test_bad_arrays(tmp_path, dtype, shape, msg):
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("bad", shape=shape, dtype=dtype)
    with pytest.raises(InputError, match=msg) as err:
        discover([str(tmp_path / "g.zarr")])
    assert "g.zarr/bad" in str(err.value)
