"""Input expansion and item naming (CONTRACT "Items and names")."""

import os

import numpy as np
import pytest
import tifffile
import zarr
from PIL import Image

from restoration.errors import InputError
from restoration.io import discover


@pytest.fixture
def folder(tmp_path, ramp):
    """A directory with every kind of entry, supported or not."""
    d = tmp_path / "in"
    d.mkdir()
    np.save(d / "b_npy.npy", ramp((6, 7), "float32"))
    tifffile.imwrite(d / "c_tif.TIF", ramp((6, 7), "uint16"))
    Image.fromarray(ramp((6, 7), "uint8")).save(d / "a_png.png")
    zarr.open_group(str(d / "d.zarr"), mode="w").create_array("vol", data=ramp((2, 6, 7), "int16"))
    (d / "notes.txt").write_text("skip me")
    (d / ".hidden.npy").write_bytes(b"skip me too")
    (d / "plain_subdir").mkdir()
    np.save(d / "plain_subdir" / "deep.npy", ramp((6, 7), "float32"))
    return d


def test_directory_lists_supported_entries_sorted(folder):
    items = discover([str(folder)])
    assert [i.name for i in items] == ["a_png", "b_npy", "c_tif", "vol"]
    assert [i.format for i in items] == ["png", "npy", "tiff", "zarr"]
    assert items[1].source == os.path.join(str(folder), "b_npy.npy")


def test_glob(folder):
    assert [i.name for i in discover([str(folder / "*.npy")])] == ["b_npy"]
    assert [i.name for i in discover([str(folder / "*")])] == ["a_png", "b_npy", "c_tif", "vol"]
    with pytest.raises(InputError, match="matches nothing") as err:
        discover([str(folder / "*.jpg")])
    assert str(folder / "*.jpg") in str(err.value)
    with pytest.raises(InputError, match="no supported file") as err:
        discover([str(folder / "*.txt")])
    assert "*.txt" in str(err.value)


def test_inputs_keep_their_order_and_repeats_collapse(folder):
    names = [i.name for i in discover([str(folder / "c_tif.TIF"), str(folder),
                                       str(folder / "b_npy.npy")])]
    assert names == ["c_tif", "a_png", "b_npy", "vol"]
    assert [i.name for i in discover(str(folder / "b_npy.npy"))] == ["b_npy"]


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("x")
    with pytest.raises(InputError, match="no supported entries") as err:
        discover([str(tmp_path / "empty")])
    assert "empty" in str(err.value)


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(InputError, match="no such file") as err:
        discover([str(tmp_path / "nope.npy")])
    assert "nope.npy" in str(err.value)
    (tmp_path / "table.csv").write_text("a,b")
    with pytest.raises(InputError, match="unsupported file type '.csv'") as err:
        discover([str(tmp_path / "table.csv")])
    assert "table.csv" in str(err.value)
    with pytest.raises(InputError, match="no inputs"):
        discover([])


def test_duplicate_names_name_both_sources(tmp_path, ramp):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    np.save(tmp_path / "a" / "x.npy", ramp((6, 7), "float32"))
    tifffile.imwrite(tmp_path / "b" / "x.tif", ramp((6, 7), "uint8"))
    with pytest.raises(InputError, match="'x'") as err:
        discover([str(tmp_path / "a"), str(tmp_path / "b")])
    assert "a/x.npy" in str(err.value) and "b/x.tif" in str(err.value)


def test_duplicate_between_file_and_zarr_member(tmp_path, ramp):
    np.save(tmp_path / "a.b.npy", ramp((6, 7), "float32"))
    g = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    g.create_group("a").create_array("b", data=ramp((6, 7), "float32"))
    with pytest.raises(InputError) as err:
        discover([str(tmp_path / "a.b.npy"), str(tmp_path / "s.zarr")])
    assert "a.b.npy" in str(err.value) and "s.zarr/a/b" in str(err.value)


def test_std_suffix_is_reserved(tmp_path, ramp):
    np.save(tmp_path / "img_std.npy", ramp((6, 7), "float32"))
    with pytest.raises(InputError, match="_std") as err:
        discover([str(tmp_path / "img_std.npy")])
    assert "img_std.npy" in str(err.value)
    g = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    g.create_array("vol_std", data=ramp((6, 7), "float32"))
    with pytest.raises(InputError, match="reserved") as err:
        discover([str(tmp_path / "s.zarr")])
    assert "s.zarr/vol_std" in str(err.value)


def test_axes_override(tmp_path, ramp):
    np.save(tmp_path / "v.npy", ramp((3, 6, 7), "float32"))
    np.save(tmp_path / "rgbish.npy", ramp((6, 7, 3), "float32"))
    assert discover([str(tmp_path / "v.npy")], axes="cyx")[0].axes == "cyx"
    assert discover([str(tmp_path / "rgbish.npy")], axes="zyx")[0].axes == "zyx"
    for bad, msg in [("yx", "2 letters"), ("zyq", "unknown letter"), ("zzx", "repeat")]:
        with pytest.raises(InputError, match=msg) as err:
            discover([str(tmp_path / "v.npy")], axes=bad)
        assert "v.npy" in str(err.value)
    # a (6, 7, 2) array is inferred zyx, 2 wide: too small, unless axes say otherwise
    np.save(tmp_path / "thin.npy", ramp((6, 7, 2), "float32"))
    with pytest.raises(InputError, match="too small"):
        discover([str(tmp_path / "thin.npy")])
    assert discover([str(tmp_path / "thin.npy")], axes="yxc")[0].axes == "yxc"
