"""restored.zarr holds one OME-Zarr 0.5 image group per item: validated with ome-zarr-models, read
back with ome-zarr's reader (what napari-ome-zarr uses), the pyramid computed chunk by chunk."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import zarr

from restoration.store import items, ome_zarr

SIDE = 300  # with a pyramid floor of 256: levels 300 and 150


def _mean2(a: np.ndarray) -> np.ndarray:
    """2x2 block means over the last two axes (even sizes)."""
    return a.reshape(*a.shape[:-2], a.shape[-2] // 2, 2, a.shape[-1] // 2, 2).astype(np.float64).mean(axis=(-3, -1))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One `restoration run` (in-process CLI, the real flow): a 300 x 300 zarr image with a pixel
    size of 0.5 micrometer, a 96 x 80 RGB .npy and a two-channel OME-TIFF (0.65 micrometer pixels,
    named channels), restored with nlm; the pyramid floor at 256."""
    import tifffile

    from restoration_flows.cli import main

    tmp = tmp_path_factory.mktemp("ome")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    clean = (0.5 + 0.3 * np.sin(yy / 9.0) * np.cos(xx / 13.0)).astype(np.float32)
    noisy = clean + rng.normal(0, 0.1, clean.shape).astype(np.float32)
    arr = zarr.create_array(str(tmp / "cells.zarr"), shape=noisy.shape, chunks=(128, 128), dtype=np.float32,
                            dimension_names=["y", "x"])
    arr[:] = noisy
    arr.attrs.update({"scale": [0.5, 0.5], "units": ["micrometer", "micrometer"]})
    ry, rx = np.mgrid[0:96, 0:80]
    rgb = np.stack([0.5 + 0.3 * np.sin(ry / (5.0 + c)) for c in range(3)], axis=-1)
    rgb = (rgb + rng.normal(0, 0.05, rgb.shape)).astype(np.float32)
    np.save(tmp / "rgb.npy", rgb)
    two = np.stack([0.3 + 0.2 * np.cos(ry / 7.0), 0.6 - 0.2 * np.sin(rx / 5.0)]) + rng.normal(0, 0.05, (2, 96, 80))
    tifffile.imwrite(tmp / "two.ome.tif", two.astype(np.float32), ome=True,
                     metadata={"axes": "CYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65,
                               "Channel": {"Name": ["DAPI", "GFP"]}})
    out = tmp / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RESTORATION_PYRAMID_SIDE", "256")
        assert main(["run", str(tmp / "cells.zarr"), str(tmp / "rgb.npy"), str(tmp / "two.ome.tif"), "-o", str(out),
                     "--denoiser", "nlm", "--sigma", "0.1"]) == 0
    return {"out": out, "store": out / "restored.zarr", "noisy": noisy, "rgb": rgb}


def test_every_item_validates_as_ome_zarr_05(run):
    from ome_zarr_models.common.omero import Omero
    from ome_zarr_models.v05.image import Image

    for name, levels in (("cells", 2), ("rgb", 1), ("two", 1)):
        group = zarr.open_group(str(run["store"] / name), mode="r")
        image = Image.from_zarr(group)  # raises on any violation (axes order, dimension_names, scales)
        ms = image.ome_attributes.multiscales[0]
        assert [d.path for d in ms.datasets] == [str(k) for k in range(levels)]
        Omero.model_validate(group.attrs["ome"]["omero"])
        assert group.attrs["ome"]["version"] == "0.5"
        assert "restoration" not in group.attrs["ome"]


def test_ome_zarr_reader_sees_axes_scales_pyramid_and_data(run):
    import restoration
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    node = next(iter(Reader(parse_url(str(run["store"] / "cells")))()))
    assert [d.shape for d in node.data] == [(300, 300), (150, 150)]
    assert node.metadata["axes"] == [{"name": "y", "type": "space", "unit": "micrometer"},
                                     {"name": "x", "type": "space", "unit": "micrometer"}]
    scales = [[t for t in ts if t["type"] == "scale"][0]["scale"] for ts in node.metadata["coordinateTransformations"]]
    assert scales == [[0.5, 0.5], [1.0, 1.0]]
    shift = [t for t in node.metadata["coordinateTransformations"][1] if t["type"] == "translation"][0]
    assert shift["translation"] == [0.25, 0.25]  # a 2x2 mean sits between the pixels it averages
    level0, level1 = (np.asarray(d) for d in node.data)
    api = restoration.denoise(run["noisy"], sigma=0.1, denoiser="nlm")
    assert np.array_equal(level0, api)  # the Python API's result, unchanged
    np.testing.assert_allclose(level1, _mean2(level0), rtol=0, atol=1e-6)
    (start, end), = node.metadata["contrast_limits"]
    assert np.percentile(level1, 0.1) == pytest.approx(start) and np.percentile(level1, 99.9) == pytest.approx(end)

    rgb = next(iter(Reader(parse_url(str(run["store"] / "rgb")))()))
    assert [a["name"] for a in rgb.metadata["axes"]] == ["c", "y", "x"] and rgb.data[0].shape == (3, 96, 80)
    assert rgb.metadata["axes"][0]["type"] == "channel" and len(rgb.metadata["contrast_limits"]) == 3
    api = restoration.denoise(run["rgb"], sigma=0.1, denoiser="nlm")
    assert np.array_equal(np.moveaxis(np.asarray(rgb.data[0]), 0, -1), api)
    assert rgb.metadata["channel_names"] == ["red", "green", "blue"]

    two = next(iter(Reader(parse_url(str(run["store"] / "two")))()))  # the OME-TIFF's sizes and names
    assert [a.get("unit") for a in two.metadata["axes"]] == [None, "micrometer", "micrometer"]
    assert two.metadata["coordinateTransformations"][0][0]["scale"] == pytest.approx([1.0, 0.65, 0.65])
    assert two.metadata["channel_names"] == ["DAPI", "GFP"] and two.data[0].shape == (2, 96, 80)


def test_provenance_dimension_names_and_the_item_order_accessor(run):
    store = zarr.open_group(str(run["store"]), mode="r")
    for name in ("cells", "rgb"):
        prov = items.item_provenance(store, name)
        assert prov["complete"] is True and prov["denoiser"] == "nlm" and prov["fingerprint"].startswith("sha256:")
        group = store[name]
        assert group.attrs["restoration"] == prov  # the group's attributes, beside "ome"
        names = [a["name"] for a in group.attrs["ome"]["multiscales"][0]["axes"]]
        for key in group.array_keys():
            assert list(group[key].metadata.dimension_names) == names
    rgb = items.item_array(store, "rgb")  # the item's own order (yxc), stored c, y, x
    assert rgb.shape == (96, 80, 3) and store["rgb"]["0"].shape == (3, 96, 80)
    np.testing.assert_array_equal(rgb[5, :, 1], store["rgb"]["0"][1, 5, :])
    assert items.item_array(store, "cells", level=1).shape == (150, 150)
    assert items.item_provenance(store, "cells")["input_attrs"]["scale"] == [0.5, 0.5]


def test_samples_write_an_ome_zarr_std_map(tmp_path, tiny_model, monkeypatch):
    from ome_zarr_models.v05.image import Image
    from restoration_flows.cli import main

    noisy = (0.5 + np.random.default_rng(6).normal(0, 0.1, (64, 64))).astype(np.float32)
    np.save(tmp_path / "s.npy", noisy)
    out = tmp_path / "out"
    monkeypatch.setenv("RESTORATION_PYRAMID_SIDE", "32")
    assert main(["run", str(tmp_path / "s.npy"), "-o", str(out), "--model", str(tiny_model), "--samples", "2",
                 "--method", "posterior", "--steps", "2"]) == 0
    store = zarr.open_group(str(out / "restored.zarr"), mode="r")
    for name in ("s", "s_std"):
        image = Image.from_zarr(store[name])
        assert [d.path for d in image.ome_attributes.multiscales[0].datasets] == ["0", "1"]
    assert items.has_std(store, "s") and items.std_array(store, "s").shape == (64, 64)
    assert items.item_provenance(store, "s_std")["of"] == "s"
    assert float(np.mean(items.std_array(store, "s")[:])) > 0


def _fill(view, data: np.ndarray) -> None:
    view[...] = data


@pytest.mark.parametrize("axes, shape", [("yxc", (37, 21, 2)), ("zyx", (3, 40, 33)), ("xy", (19, 24)),
                                         ("zcyx", (2, 3, 17, 18)), ("tzyxc", (2, 2, 9, 10, 2))])
def test_levels_are_stored_in_ome_order_and_read_back_in_the_items(tmp_path, axes, shape):
    store = zarr.open_group(str(tmp_path / "r.zarr"), mode="w", zarr_format=3)
    data = np.random.default_rng(1).random(shape).astype(np.float32)
    view = items.create_item_array(store, "a", shape, np.float32, axes, tile=8)
    _fill(view, data)
    attrs = {"scale": [2.0 if a == "z" else 0.25 for a in axes], "units": ["um" if a in "zyx" else None for a in axes]}
    items.finish_item(store, "a", {"axes": axes}, attrs)
    stored = ome_zarr.ome_axes(axes)
    raw = store["a"]["0"][:]
    np.testing.assert_array_equal(raw, np.transpose(data, [axes.index(a) for a in stored]))
    np.testing.assert_array_equal(items.item_array(store, "a")[:], data)
    np.testing.assert_array_equal(np.asarray(items.item_array(store, "a")), data)
    ms = store["a"].attrs["ome"]["multiscales"][0]
    assert [a["name"] for a in ms["axes"]] == list(stored)
    assert all(a.get("unit") == "micrometer" for a in ms["axes"] if a["type"] == "space")
    scale0 = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale0 == [2.0 if a == "z" else 1.0 if a == "c" else 0.25 for a in stored]  # no scale on channels
    from ome_zarr_models.v05.image import Image

    Image.from_zarr(store["a"])
    # the view reads and writes any basic selection in the item's order
    key = tuple(slice(1, None) if a in "yx" else 0 for a in axes)
    np.testing.assert_array_equal(items.item_array(store, "a")[key], data[key])


def test_pyramid_levels_odd_sizes_integers_and_a_rerun(tmp_path):
    store = zarr.open_group(str(tmp_path / "r.zarr"), mode="w", zarr_format=3)
    data = np.random.default_rng(2).integers(0, 65535, (3, 45, 70), dtype=np.uint16)
    _fill(items.create_item_array(store, "i", data.shape, np.uint16, "zyx", tile=16), data)
    ome = ome_zarr.finish_image(store, "i", {}, side=12, tile=16)
    assert [store["i"][d["path"]].shape for d in ome["multiscales"][0]["datasets"]] == [(3, 45, 70), (3, 23, 35),
                                                                                          (3, 12, 18), (3, 6, 9)]
    level1 = store["i"]["1"][:]
    padded = np.pad(data.astype(np.float64), [(0, 0), (0, 1), (0, 0)], mode="edge")
    np.testing.assert_array_equal(level1, np.rint(_mean2(padded)).astype(np.uint16))
    assert level1.dtype == np.uint16 and store["i"]["3"].dtype == np.uint16
    assert ome["omero"]["channels"][0]["window"]["min"] == 0 and ome["omero"]["channels"][0]["window"]["max"] == 65535
    assert ome["omero"]["rdefs"]["defaultZ"] == 1
    # a rerun (a run resumed after a crash before completion) rewrites the same; a higher floor drops levels
    again = ome_zarr.finish_image(store, "i", {}, side=12, tile=16)
    assert again == ome and np.array_equal(store["i"]["1"][:], level1)
    ome_zarr.finish_image(store, "i", {}, side=30, tile=16)
    assert sorted(store["i"].array_keys()) == ["0", "1", "2"]


def test_pixel_sizes_and_units_are_read_defensively():
    axes, scale, shift = ome_zarr.spatial_metadata("yxc", {"scale": [0.5, "x", 1.0], "units": ["\u00b5m", "pixel", "um"]})
    assert axes == [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", "unit": "micrometer"},
                    {"name": "x", "type": "space"}]
    assert scale == [1.0, 0.5, 1.0] and shift == [0.0, 0.0, 0.0]
    for attrs in ({}, None, {"scale": [0.5]}, {"scale": [-1, float("nan")], "units": "micrometer"}, {"units": [3, None]}):
        axes, scale, shift = ome_zarr.spatial_metadata("yx", attrs)
        assert scale == [1.0, 1.0] and all("unit" not in a for a in axes)
    t = ome_zarr.spatial_metadata("tyx", {"scale": [2, 1, 1], "units": ["ms", "nanometer", "nm"],
                                          "translation": [0, 10, 20]})
    assert t[0][0] == {"name": "t", "type": "time", "unit": "millisecond"} and t[1] == [2.0, 1.0, 1.0]
    assert t[2] == [0.0, 10.0, 20.0]


def test_an_output_from_before_ome_zarr_still_reads(tmp_path):
    """One plain array per item (the layout before): accessors and provenance still work."""
    store = zarr.open_group(str(tmp_path / "r.zarr"), mode="w", zarr_format=3)
    arr = store.create_array("old", shape=(8, 6, 3), dtype=np.float32, dimension_names=list("yxc"))
    arr.attrs["restoration"] = {"complete": False, "axes": "yxc"}
    assert items.item_array(store, "old").shape == (8, 6, 3)
    items.finish_item(store, "old", {"format": "npy", "axes": "yxc"}, {})  # begun before, resumed now
    assert items.item_provenance(store, "old")["complete"] is True and "ome" not in store["old"].attrs
    assert items.item_provenance(store, "missing") is None


def test_pyramid_is_computed_chunk_by_chunk(tmp_path):
    """A 4096 x 4096 float32 plane (64 MiB) with 256-pixel chunks: building its levels (2048, 1024,
    512) and rendering windows holds a few chunks, far below the plane's size."""
    side, tile = 4096, 256
    store = zarr.open_group(str(tmp_path / "big.zarr"), mode="w", zarr_format=3)
    view = items.create_item_array(store, "big", (side, side), np.float32, "yx", tile=tile)
    yy, xx = np.mgrid[0:tile, 0:tile].astype(np.float32)
    for y in range(0, side, tile * 4):
        view[y:y + tile * 4, :] = np.tile(np.sin(yy / 17.0) * np.cos(xx / 23.0), (4, side // tile)) + y / side
    tracemalloc.start()
    t = time.time()
    try:
        ome = ome_zarr.finish_image(store, "big", {"scale": [0.2, 0.2]}, side=512, tile=tile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [d["path"] for d in ome["multiscales"][0]["datasets"]] == ["0", "1", "2", "3"]
    assert store["big"]["3"].shape == (512, 512)
    plane = side * side * 4
    assert peak < plane / 5, f"peak {peak / 2**20:.1f} MiB for a {plane / 2**20:.0f} MiB plane"
    np.testing.assert_allclose(store["big"]["1"][:512, :512], _mean2(view[:1024, :1024]), atol=1e-6)
    assert time.time() - t < 120
