"""Axis inference: each rule of the contract ("Axes")."""

import pytest

from restoration.io import infer_axes
from restoration.io.axes import check_axes, letters_from_names


@pytest.mark.parametrize("shape, fmt, rgb, expected", [
    ((10, 12), "png", False, "yx"),
    ((10, 12), "zarr", False, "yx"),
    ((10, 12, 3), "png", False, "yxc"),
    ((10, 12, 4), "jpeg", False, "yxc"),
    ((10, 12, 3), "npy", False, "yxc"),
    ((10, 12, 4), "npy", False, "yxc"),
    ((10, 12, 3), "tiff", True, "yxc"),
    ((10, 12, 3), "tiff", False, "zyx"),   # a 3-plane grayscale stack
    ((10, 12, 3), "zarr", False, "zyx"),
    ((10, 12, 5), "npy", False, "zyx"),
    ((10, 12, 2), "npy", False, "zyx"),
    ((5, 10, 12), "npy", False, "zyx"),
    ((5, 10, 12, 3), "npy", False, "zyxc"),
    ((5, 10, 12, 4), "tiff", False, "zyxc"),
    ((5, 10, 12, 5), "npy", False, "tzyx"),
    ((2, 3, 4, 10, 12), "zarr", False, "tczyx"),
])
def test_inference_rules(shape, fmt, rgb, expected):
    assert infer_axes(shape, format=fmt, photometric_rgb=rgb) == expected


def test_dimension_names_are_honoured():
    assert infer_axes((3, 10, 12), format="zarr", dimension_names=["c", "y", "x"]) == "cyx"
    assert infer_axes((10, 12, 3), format="zarr", dimension_names=("y", "x", "channel")) == "yxc"
    assert infer_axes((4, 10, 12), format="zarr", dimension_names=["time", "y", "x"]) == "tyx"


def test_ome_axes_win_over_dimension_names():
    ome = [{"name": "t", "type": "time"}, {"name": "y", "type": "space"}, {"name": "x"}]
    axes = infer_axes((4, 10, 12), format="zarr", ome_axes=ome, dimension_names=["z", "y", "x"])
    assert axes == "tyx"


@pytest.mark.parametrize("names", [["dim_0", "y", "x"], ["y", "y", "x"], ["z", "y"], None,
                                   [None, "y", "x"], ["z", "c", "t"]])
def test_unknown_or_bad_names_fall_back_to_inference(names):
    assert infer_axes((5, 10, 12), format="zarr", dimension_names=names) == "zyx"


def test_letters_from_names_maps_vocabulary():
    assert letters_from_names(["T", "C", "Z", "Y", "X"], 5) == "tczyx"
    assert letters_from_names(["y", "x", "S"], 3) == "yxc"


@pytest.mark.parametrize("shape", [(12,), (1, 2, 3, 4, 5, 6), ()])
def test_unsupported_ndim(shape):
    with pytest.raises(ValueError, match="not supported"):
        infer_axes(shape, format="npy")


def test_check_axes():
    assert check_axes("ZYX", 3) == "zyx"
    for bad, msg in [("zyq", "unknown letter"), ("yyx", "repeat"), ("zy", "must include"),
                     ("zyx", "give 3 letters")]:
        with pytest.raises(ValueError, match=msg):
            check_axes(bad, 3 if msg != "give 3 letters" else 2)
