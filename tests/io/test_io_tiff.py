"""TIFF inputs: round trips, stacks, RGB, metadata, corruption, pixel budget."""

import numpy as np
import pytest
import tifffile

from restoration.errors import InputError
from restoration.io import SUPPORTED_DTYPES, discover, read_array


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES, ids=lambda d: d.name)
def test_round_trip_every_dtype(tmp_path, ramp, dtype):
    data = ramp((6, 7), dtype)
    path = tmp_path / "img.tif"
    tifffile.imwrite(path, data)
    (item,) = discover([str(path)])
    assert (item.name, item.format, item.shape, item.dtype, item.axes) == (
        "img", "tiff", (6, 7), dtype, "yx")
    np.testing.assert_array_equal(item.open(), data)
    loaded, axes = read_array(str(path))
    assert loaded.dtype == dtype and axes == "yx"
    np.testing.assert_array_equal(loaded, data)


def test_multipage_is_a_stack_and_memory_mapped(tmp_path, ramp):
    data = ramp((4, 6, 7), "uint16")
    path = tmp_path / "stack.tiff"
    tifffile.imwrite(path, data, photometric="minisblack")
    (item,) = discover([str(path)])
    assert item.shape == (4, 6, 7) and item.axes == "zyx"
    opened = item.open()
    assert isinstance(opened, np.memmap)
    np.testing.assert_array_equal(opened, data)


def test_rgb_contig_and_planar(tmp_path, ramp):
    rgb = ramp((6, 7, 3), "uint8")
    tifffile.imwrite(tmp_path / "a.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "b.tif", np.moveaxis(rgb, -1, 0), photometric="rgb",
                     planarconfig="separate")
    tifffile.imwrite(tmp_path / "c.tif", ramp((3, 6, 7), "uint8"), photometric="minisblack")
    a, b, c = discover([str(tmp_path)])
    assert (a.axes, a.shape, a.attrs["photometric"]) == ("yxc", (6, 7, 3), "rgb")
    assert (b.axes, b.shape) == ("cyx", (3, 6, 7))
    assert (c.axes, c.shape) == ("zyx", (3, 6, 7))
    np.testing.assert_array_equal(a.open(), rgb)
    np.testing.assert_array_equal(np.moveaxis(np.asarray(b.open()), 0, -1), rgb)


def test_compressed_is_decoded(tmp_path, ramp):
    data = ramp((3, 6, 7), "float32")
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, data, compression="zlib", photometric="minisblack")
    (item,) = discover([str(path)])
    opened = item.open()
    assert not isinstance(opened, np.memmap)
    np.testing.assert_array_equal(opened, data)


def test_resolution_and_imagej_metadata_are_carried(tmp_path, ramp):
    tifffile.imwrite(tmp_path / "res.tif", ramp((6, 7), "uint8"), resolution=(4.0, 2.0),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "ij.tif", ramp((3, 2, 6, 7), "float32"), imagej=True,
                     metadata={"axes": "ZCYX", "spacing": 2.5, "unit": "um"})
    ij, res = discover([str(tmp_path)])  # sorted by name
    assert res.attrs["resolution"] == {"x": 4.0, "y": 2.0, "unit": "centimeter"}
    assert ij.axes == "zcyx" and ij.attrs["imagej"] == {"spacing": 2.5, "unit": "um"}


def test_truncated_payload(tmp_path, ramp):
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, ramp((4, 40, 40), "uint16"), photometric="minisblack")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="TIFF") as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_corrupt_compressed_payload_fails_on_open(tmp_path, ramp):
    path = tmp_path / "bad.tif"
    tifffile.imwrite(path, ramp((40, 40), "uint16"), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[0], tif.pages[0].databytecounts[0]
    raw = bytearray(path.read_bytes())
    raw[offset:offset + count] = bytes(count)  # zeros: not a zlib stream
    path.write_bytes(bytes(raw))
    (item,) = discover([str(path)])
    with pytest.raises(InputError, match="cannot decode TIFF") as err:
        item.open()
    assert str(path) in str(err.value)


@pytest.mark.parametrize("payload", [b"", b"II*\x00garbage", b"hello world"])
def test_not_a_tiff(tmp_path, payload):
    path = tmp_path / "junk.tiff"
    path.write_bytes(payload)
    with pytest.raises(InputError, match="TIFF") as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_unsupported_dtypes(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((4, 4), np.complex64))
    with pytest.raises(InputError, match="complex64; convert to a real type"):
        discover([str(tmp_path / "c.tif")])
    tifffile.imwrite(tmp_path / "i.tif", np.zeros((4, 4), np.int64))
    with pytest.raises(InputError, match="unsupported dtype int64"):
        discover([str(tmp_path / "i.tif")])


def test_pixel_budget_applies_to_compressed_only(tmp_path, ramp, monkeypatch):
    tifffile.imwrite(tmp_path / "plain.tif", ramp((20, 20), "uint8"))
    tifffile.imwrite(tmp_path / "zip.tif", ramp((20, 20), "uint8"), compression="zlib")
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "100")
    assert discover([str(tmp_path / "plain.tif")])[0].shape == (20, 20)  # memory-mapped
    with pytest.raises(InputError, match="decompression bomb") as err:
        discover([str(tmp_path / "zip.tif")])
    assert "zip.tif" in str(err.value)
