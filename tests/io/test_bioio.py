"""Vendor files through the optional bioio extra: an OME-TIFF written by bioio's own writer read
through the bioio reader (forced: discovery gives OME-TIFF to tifffile), and the one-line errors
without the extra or without the format's plugin."""

import sys

import numpy as np
import pytest

from restoration.errors import InputError
from restoration.io import discover, fingerprint, ingest
from restoration.io.formats import format_named, format_of

pytest.importorskip("bioio")
pytest.importorskip("bioio_ome_tiff")


def _write(path, data, dim_order, **kwargs):
    from bioio import PhysicalPixelSizes
    from bioio.writers import OmeTiffWriter

    OmeTiffWriter.save(data, str(path), dim_order=dim_order,
                       physical_pixel_sizes=kwargs.pop("sizes", PhysicalPixelSizes(None, 0.65, 0.65)),
                       **kwargs)
    return path


def test_vendor_suffixes_go_to_bioio_and_ome_tiff_stays_with_tifffile():
    assert format_of("scan.CZI").name == "bioio" and format_of("a.nd2").name == "bioio"
    assert format_of("cells.ome.tif").name == "tiff"


def test_bioio_reader_agrees_with_the_tiff_reader(tmp_path, ramp):
    data = ramp((2, 40, 48), "uint16")
    path = _write(tmp_path / "cells.ome.tif", data, "CYX", channel_names=["DAPI", "GFP"])
    (item,) = format_named("bioio").probe(str(path), "cells")
    assert (item.name, item.format, item.shape, item.dtype, item.axes) == (
        "cells", "bioio", (2, 40, 48), np.dtype("uint16"), "cyx")
    assert item.attrs == {"scale": [1.0, 0.65, 0.65], "units": [None, "micrometer", "micrometer"],
                          "channel_names": ["DAPI", "GFP"]}
    opened = item.open()
    assert opened.shape == data.shape and not isinstance(opened, np.ndarray)  # read lazily
    np.testing.assert_array_equal(opened[1, 5:9], data[1, 5:9])
    (by_tifffile,) = discover([str(path)])
    assert by_tifffile.format == "tiff" and by_tifffile.axes == item.axes
    assert {k: by_tifffile.attrs[k] for k in item.attrs} == item.attrs
    assert fingerprint(item) == fingerprint(by_tifffile)
    import zarr

    work = zarr.open_group(str(tmp_path / "work.zarr"), mode="w")
    copied = ingest(item, work)
    np.testing.assert_array_equal(copied[...], data)
    assert copied.attrs["attrs"]["scale"] == [1.0, 0.65, 0.65]


def test_several_scenes_are_items_of_their_own(tmp_path, ramp):
    from bioio import PhysicalPixelSizes

    a, b = ramp((3, 32, 32), "uint16"), ramp((32, 40), "float32")
    path = _write(tmp_path / "ms.ome.tif", [a, b], ["ZYX", "YX"],
                  sizes=[PhysicalPixelSizes(2.0, 0.5, 0.5), PhysicalPixelSizes(None, 0.1, 0.1)])
    first, second = format_named("bioio").probe(str(path), "ms")
    assert [(i.name, i.array_path, i.axes, i.shape) for i in (first, second)] == [
        ("ms.0", "0", "zyx", (3, 32, 32)), ("ms.1", "1", "yx", (32, 40))]
    assert first.attrs["scale"] == [2.0, 0.5, 0.5] and second.attrs["scale"] == [0.1, 0.1]
    np.testing.assert_array_equal(second.open()[...], b)
    np.testing.assert_array_equal(first.open()[...], a)


def test_without_the_extra_a_vendor_file_names_it(tmp_path, monkeypatch):
    (tmp_path / "scan.czi").write_bytes(b"not really a czi file")
    monkeypatch.setitem(sys.modules, "bioio", None)  # bioio absent, as without the extra
    with pytest.raises(InputError) as err:
        discover([str(tmp_path / "scan.czi")])
    message = str(err.value)
    assert "scan.czi" in message and "needs the bioio extra" in message
    assert "pip install 'restoration[bioio]' bioio-czi" in message and "\n" not in message


def test_without_the_plugin_a_vendor_file_names_it(tmp_path, ramp):
    (tmp_path / "scan.czi").write_bytes(b"not really a czi file")
    np.save(tmp_path / "ok.npy", ramp((6, 7), "float32"))
    with pytest.raises(InputError) as err:
        discover([str(tmp_path / "scan.czi")])
    message = str(err.value)
    assert "scan.czi" in message and "bioio-czi" in message and "\n" not in message
    failed = []
    items = discover([str(tmp_path)], on_error=lambda name, exc: failed.append(name))
    assert [i.name for i in items] == ["ok"] and failed == ["scan"]  # fails alone in a directory
