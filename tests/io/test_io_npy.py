""".npy inputs: round trips, memory mapping, header checks."""

import numpy as np
import pytest

from restoration.errors import InputError
from restoration.io import SUPPORTED_DTYPES, discover, read_array


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES, ids=lambda d: d.name)
def test_round_trip_every_dtype(tmp_path, ramp, dtype):
    data = ramp((6, 7), dtype)
    path = tmp_path / "img.npy"
    np.save(path, data)
    (item,) = discover([str(path)])
    assert (item.name, item.format, item.shape, item.dtype, item.axes) == (
        "img", "npy", (6, 7), dtype, "yx")
    assert item.source == str(path) and item.array_path is None
    opened = item.open()
    assert isinstance(opened, np.memmap)
    np.testing.assert_array_equal(opened, data)
    loaded, axes = read_array(str(path))
    assert loaded.dtype == dtype and axes == "yx" and not isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(loaded, data)


def test_rgb_and_stack_axes(tmp_path, ramp):
    np.save(tmp_path / "rgb.npy", ramp((8, 9, 3), "uint8"))
    np.save(tmp_path / "stack.npy", ramp((5, 8, 9), "float32"))
    np.save(tmp_path / "zc.npy", ramp((2, 8, 9, 3), "float32"))
    np.save(tmp_path / "ts.npy", ramp((2, 3, 8, 9), "float32"))
    axes = {i.name: i.axes for i in discover([str(tmp_path)])}
    assert axes == {"rgb": "yxc", "stack": "zyx", "zc": "zyxc", "ts": "tzyx"}


def test_big_endian_and_fortran(tmp_path, ramp):
    data = ramp((6, 7), "float32")
    np.save(tmp_path / "be.npy", data.astype(">f4"))
    np.save(tmp_path / "fo.npy", np.asfortranarray(data))
    be, fo = discover([str(tmp_path / "be.npy"), str(tmp_path / "fo.npy")])
    assert be.dtype == np.dtype("float32") and be.dtype.isnative
    np.testing.assert_array_equal(be.open(), data)
    np.testing.assert_array_equal(fo.open(), data)
    assert read_array(str(tmp_path / "be.npy"))[0].dtype.isnative


@pytest.mark.parametrize("data, msg", [
    (np.zeros((4, 4), bool), "unsupported dtype bool; convert to uint8"),
    (np.zeros((4, 4), complex), "unsupported dtype complex128; convert to a real type"),
    (np.zeros((4, 4), np.int64), "unsupported dtype int64"),
    (np.zeros((0, 4), np.float32), "zero-size"),
    (np.zeros((2, 4), np.float32), "too small"),
    (np.zeros((4, 2, 3), np.uint8), "too small"),
    (np.zeros(10, np.float32), "1-D"),
])
def test_bad_contents(tmp_path, data, msg):
    path = tmp_path / "bad.npy"
    np.save(path, data)
    with pytest.raises(InputError, match=msg) as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_object_array_is_never_unpickled(tmp_path):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None, 3], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects") as err:
        discover([str(path)])
    assert str(err.value).startswith(str(path))


def test_truncated(tmp_path, ramp):
    path = tmp_path / "cut.npy"
    np.save(path, ramp((20, 20), "float32"))
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(InputError, match="truncated") as err:
        discover([str(path)])
    assert str(path) in str(err.value)


@pytest.mark.parametrize("payload", [b"", b"not an npy file at all", b"\x93NUMPY\x01\x00\xff\xff{"])
def test_corrupt_header(tmp_path, payload):
    path = tmp_path / "junk.npy"
    path.write_bytes(payload)
    with pytest.raises(InputError, match="not a valid .npy") as err:
        discover([str(path)])
    assert str(path) in str(err.value)
