"""OME-TIFF and OME-Zarr inputs, written by real writers (tifffile, ome-zarr, ome-zarr-models),
and the one convention for pixel sizes: ``attrs["scale"]``, ``attrs["units"]``,
``attrs["channel_names"]``."""

import numpy as np
import pytest
import tifffile
import zarr

from restoration.errors import InputError
from restoration.io import discover, read_array

UM = "micrometer"


def test_ome_tiff_sizes_units_and_channel_names(tmp_path, ramp):
    data = ramp((2, 3, 16, 17), "uint16")
    tifffile.imwrite(tmp_path / "cells.ome.tif", data, ome=True, metadata={
        "axes": "CZYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65, "PhysicalSizeZ": 200,
        "PhysicalSizeZUnit": "nm", "Channel": {"Name": ["DAPI", "GFP"]}})
    (item,) = discover([str(tmp_path / "cells.ome.tif")])
    assert (item.name, item.format, item.axes, item.shape) == ("cells", "tiff", "czyx", data.shape)
    assert item.attrs["scale"] == [1.0, 200.0, 0.65, 0.65]
    assert item.attrs["units"] == [None, "nanometer", UM, UM]  # the OME default unit is µm
    assert item.attrs["channel_names"] == ["DAPI", "GFP"]
    np.testing.assert_array_equal(read_array(str(tmp_path / "cells.ome.tif"))[0], data)


def test_ome_tiff_without_sizes_and_with_unnamed_channels(tmp_path, ramp):
    tifffile.imwrite(tmp_path / "plain.ome.tiff", ramp((3, 16, 17), "uint8"), ome=True,
                     metadata={"axes": "CYX"})
    (item,) = discover([str(tmp_path / "plain.ome.tiff")])
    assert item.axes == "cyx"
    assert not {"scale", "units", "channel_names"} & set(item.attrs)


def test_tiff_resolution_and_imagej_metadata_become_scale_and_units(tmp_path, ramp):
    tifffile.imwrite(tmp_path / "res.tif", ramp((6, 7), "uint8"), resolution=(4.0, 2.0),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "ij.tif", ramp((3, 2, 6, 7), "float32"), imagej=True,
                     resolution=(5.0, 5.0),
                     metadata={"axes": "ZCYX", "spacing": 2.5, "unit": "um", "finterval": 0.5})
    tifffile.imwrite(tmp_path / "none.tif", ramp((6, 7), "uint8"))
    ij, none, res = discover([str(tmp_path)])  # sorted by name
    assert res.attrs["resolution"] == {"x": 4.0, "y": 2.0, "unit": "centimeter"}  # the raw tags stay
    assert (res.attrs["scale"], res.attrs["units"]) == ([0.5, 0.25], ["centimeter"] * 2)
    assert ij.axes == "zcyx" and ij.attrs["imagej"]["spacing"] == 2.5
    assert ij.attrs["scale"] == [2.5, 1.0, 0.2, 0.2] and ij.attrs["units"] == [UM, None, UM, UM]
    assert "scale" not in none.attrs and "units" not in none.attrs


def _write_ome_zarr(path, data, version, **kwargs):
    import ome_zarr.format
    import ome_zarr.writer

    fmt = {"0.4": ome_zarr.format.FormatV04(), "0.5": ome_zarr.format.FormatV05()}[version]
    ome_zarr.writer.write_image(data, str(path), axes="cyx", fmt=fmt, scale={"c": 1.0, "y": 0.5, "x": 0.25},
                                axes_units={"y": UM, "x": UM}, scale_factors=(2,), **kwargs)


def _channel(label):
    return {"label": label, "color": "FFFFFF", "active": True,
            "window": {"start": 0, "end": 1, "min": 0, "max": 1}}


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_image_is_one_item_its_level_0(tmp_path, ramp, version):
    data = ramp((2, 32, 40), "float32")
    path = tmp_path / "img.ome.zarr"
    _write_ome_zarr(path, data, version, omero={"channels": [_channel("DAPI"), _channel("GFP")]})
    expected_format = 2 if version == "0.4" else 3
    assert zarr.open_group(str(path), mode="r").metadata.zarr_format == expected_format
    (item,) = discover([str(path)])  # level 1 (s1) is not an item of its own
    assert (item.name, item.format, item.array_path, item.shape, item.axes) == (
        "img", "zarr", "s0", (2, 32, 40), "cyx")
    assert item.attrs["scale"] == [1.0, 0.5, 0.25] and item.attrs["units"] == [None, UM, UM]
    assert item.attrs["channel_names"] == ["DAPI", "GFP"]
    np.testing.assert_array_equal(item.open()[...], data)
    assert read_array(str(path))[0].shape == data.shape


def test_ome_zarr_multiscale_transform_is_combined(tmp_path, ramp):
    from ome_zarr_models.v05 import Image
    from ome_zarr_models.v05.axes import Axis
    from pydantic_zarr.v3 import ArraySpec

    data = ramp((16, 18), "uint16")
    levels = [data, data[::2, ::2]]
    image = Image.new(array_specs=[ArraySpec.from_array(a, dimension_names=["y", "x"]) for a in levels],
                      paths=["0", "1"], axes=[Axis(name=a, type="space", unit="nanometer") for a in "yx"],
                      scales=[[2, 3], [4, 6]], translations=[None, None], global_scale=[10, 10])
    group = image.to_zarr(zarr.storage.LocalStore(str(tmp_path / "m.zarr")), path="")
    for i, level in enumerate(levels):
        group[str(i)][...] = level
    (item,) = discover([str(tmp_path / "m.zarr")])
    assert (item.name, item.array_path, item.axes) == ("m", "0", "yx")
    assert item.attrs["scale"] == [20.0, 30.0] and item.attrs["units"] == ["nanometer"] * 2


def test_ome_images_inside_a_group_and_their_labels(tmp_path, ramp):
    import ome_zarr.writer

    root = zarr.open_group(str(tmp_path / "plate.zarr"), mode="w")
    root.create_array("plain", data=ramp((6, 7), "uint8"))
    image = root.create_group("a").create_group("img")
    ome_zarr.writer.write_image(ramp((20, 24), "float32"), image, axes="yx", scale_factors=(2,))
    ome_zarr.writer.write_labels(np.zeros((20, 24), np.uint8), image, name="cells", axes="yx",
                                 scale_factors=(2,))
    items = discover([str(tmp_path / "plate.zarr")])
    assert [(i.name, i.array_path) for i in items] == [("a.img", "a/img/s0"), ("plain", "plain")]


def test_ome_zarr_whose_level_0_is_missing(tmp_path):
    g = zarr.open_group(str(tmp_path / "bad.zarr"), mode="w")
    g.attrs["ome"] = {"version": "0.5", "multiscales": [{"axes": [{"name": "y"}, {"name": "x"}],
                                                          "datasets": [{"path": "0"}]}]}
    with pytest.raises(InputError, match="level 0 '0' is not an array") as err:
        discover([str(tmp_path / "bad.zarr")])
    assert "bad.zarr" in str(err.value)


def test_zarr_array_attributes_in_the_convention(tmp_path, ramp):
    zarr.create_array(str(tmp_path / "cyx.zarr"), data=ramp((2, 6, 7), "uint8"),
                      dimension_names=("c", "y", "x"), attributes={"scale": [1, 0.3, 0.3], "unit": "µm"})
    zarr.create_array(str(tmp_path / "odd.zarr"), data=ramp((6, 7), "uint8"),
                      attributes={"scale": [0.1], "units": ["parsnip", "parsnip"]})
    cyx, odd = discover([str(tmp_path / "cyx.zarr"), str(tmp_path / "odd.zarr")])
    assert cyx.attrs["scale"] == [1.0, 0.3, 0.3] and cyx.attrs["units"] == [None, UM, UM]
    assert "scale" not in odd.attrs and "units" not in odd.attrs  # unusable: left out
