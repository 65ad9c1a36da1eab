"""The report's views of an item (restoration.report.views): memory bounded on large planes and
long stacks, 1:1 crops at full resolution where the plane has detail."""

import math

import numpy as np
import zarr

from restoration.report import DETAIL_SIDE
from restoration.report import views


def test_report_view_subsamples_large_planes_and_crops_at_full_resolution(tmp_path, monkeypatch):
    monkeypatch.setattr(views, "REPORT_SIDE", 100)
    data = np.arange(3 * 450 * 301, dtype=np.float32).reshape(3, 450, 301)
    data[1, 300:340, 40:90] += np.random.default_rng(0).normal(0, 5000, (40, 50)).astype(np.float32)  # detail
    arr = zarr.create_array(str(tmp_path / "a.zarr"), shape=data.shape, chunks=(1, 128, 128), dtype=np.float32)
    arr[:] = data
    plane, crop = views._report_view(arr, "zyx")
    assert plane.shape == (90, 61)                                   # every 5th pixel of the middle plane
    np.testing.assert_array_equal(plane, data[1, ::5, ::5])
    assert crop.shape == (DETAIL_SIDE, DETAIL_SIDE)
    # The crop is the full-resolution window holding the textured patch, not the centre: found by
    # its bottom-right value (outside the patch, so unique in the ramp).
    (y, x), = np.argwhere(data[1] == crop[-1, -1]) - (DETAIL_SIDE - 1)
    assert (y, x) != ((450 - DETAIL_SIDE) // 2, (301 - DETAIL_SIDE) // 2)
    assert y <= 300 and y + DETAIL_SIDE >= 340 and x <= 40 and x + DETAIL_SIDE >= 90
    np.testing.assert_array_equal(crop, data[1, y:y + DETAIL_SIDE, x:x + DETAIL_SIDE])
    planes, _, full = views.read_planes({"noisy": arr, "restored": arr}, "zyx")   # the same choice
    y, x = planes[len(planes) // 2].crop_origin
    assert full == (450, 301) and y <= 300 and y + DETAIL_SIDE >= 340 and x <= 40 and x + DETAIL_SIDE >= 90


def test_report_view_reads_small_planes_whole():
    data = np.random.default_rng(0).random((40, 30, 3))
    plane, crop = views._report_view(data, "yxc")
    np.testing.assert_array_equal(plane, data)
    assert crop is None


def test_pick_planes_spans_the_stack_and_keeps_the_middle():
    assert views.pick_planes(20) == ([0, 2, 5, 7, 10, 12, 14, 17, 19], 4)
    assert views.pick_planes(5) == ([0, 1, 2, 3, 4], 2)
    picks, current = views.pick_planes(100, 4)
    assert len(picks) == 4 and picks[0] == 0 and picks[-1] == 99 and picks[current] == 50
    assert views.pick_planes(1) == ([0], 0)


def test_read_planes_of_a_stack_labels_and_budget(monkeypatch):
    monkeypatch.setattr(views, "REPORT_SIDE", 600)
    rng = np.random.default_rng(1)
    noisy = rng.random((2, 6, 400, 300)).astype(np.float32)             # t, z: 12 planes
    restored = noisy * 0.5
    planes, current, full = views.read_planes({"noisy": noisy, "restored": restored, "reference": None,
                                               "std": None}, "tzyx")
    assert len(planes) == views.STACK_PLANES
    assert [p.label for p in planes][:3] == ["t = 0, z = 0", "t = 0, z = 1", "t = 0, z = 3"]
    assert planes[current].label == "t = 1, z = 0"                      # plane 6 of 12: the middle
    assert planes[-1].label == "t = 1, z = 5"
    # Nine planes share one plane's budget: side 600 / 3 = 200 -> every 2nd pixel of 400 x 300.
    assert full == (400, 300) and planes[0].noisy.shape == (200, 150)
    np.testing.assert_array_equal(planes[current].noisy, noisy[1, 0, ::2, ::2])
    assert sum(p.noisy.size for p in planes) <= 600 ** 2
    for p in planes:                                                    # 1:1 crops, located
        y, x = p.crop_origin
        t, z = (int(v.split(" = ")[1]) for v in p.label.split(", "))
        np.testing.assert_array_equal(p.crops[0], noisy[t, z, y:y + DETAIL_SIDE, x:x + DETAIL_SIDE])
        np.testing.assert_array_equal(p.crops[1], restored[t, z, y:y + DETAIL_SIDE, x:x + DETAIL_SIDE])
        assert p.crops[2] is None


def test_read_planes_shows_fewer_planes_for_many_channels():
    data = np.zeros((20, 32, 32, 4), dtype=np.float32)
    planes, _, full = views.read_planes({"noisy": data, "restored": data}, "zyxc", channels=4)
    assert len(planes) == views.PANEL_BUDGET // 4 and full is None
    assert planes[0].noisy.shape == (32, 32, 4)
    single, current, _ = views.read_planes({"noisy": data[0], "restored": data[0]}, "yxc")
    assert len(single) == 1 and current == 0 and single[0].label == ""


def test_pixel_size_from_attrs():
    attrs = {"scale": [2.0, 0.5, 0.25], "units": ["micrometer", "micrometer", "micrometer"]}
    assert views.pixel_size(attrs, "zyx") == (0.25, "micrometer")
    assert views.pixel_size({"scale": [0.5, 0.5], "units": [None, None]}, "yx") == (0.5, None)
    assert views.pixel_size({}, "yx") == (None, None)
    assert views.pixel_size({"scale": [1.0, 0.0], "units": ["nm", "nm"]}, "yx") == (None, "nm")
    assert views.pixel_size({"scale": [1.0, math.nan], "units": "nm"}, "yx") == (None, "nm")
    assert views.pixel_size({"scale": [1.0, 2.0, 3.0], "units": ["nm"] * 3}, "yx") == (None, None)  # wrong length


def test_is_rgb():
    from restoration.store.ome_metadata import is_rgb

    assert is_rgb("png", {}, "yxc", (4, 4, 3)) is True
    assert is_rgb("tiff", {"photometric": "minisblack"}, "yxc", (4, 4, 3)) is False
    assert is_rgb("tiff", {"photometric": "rgb"}, "yxc", (4, 4, 3)) is True
    assert is_rgb("zarr", {}, "yxc", (4, 4, 4)) is False
    assert is_rgb("npy", {}, "yxc", (4, 4, 3), {"rgb": False}) is False        # as restored
    assert is_rgb("npy", {}, "yx", (4, 4)) is False


def test_report_of_a_run_on_an_imagej_stack(tmp_path):
    """End to end, without Prefect: an ImageJ z-stack with a 0.5 µm pixel size and its reference,
    restored by ``nlm``; report.html steps through its planes with scale bars and error maps."""
    import re

    import tifffile

    from restoration import pipeline
    from restoration.options import RunOptions
    from restoration.pipeline import ItemResult

    rng = np.random.default_rng(0)
    clean = np.stack([np.outer(np.sin(np.linspace(0, 3 + z, 48)), np.cos(np.linspace(0, 4, 40)))
                      for z in range(5)]).astype(np.float32)
    (tmp_path / "refs").mkdir()
    tifffile.imwrite(tmp_path / "stack.tif", clean + rng.normal(0, 0.1, clean.shape).astype(np.float32), imagej=True,
                     resolution=(2.0, 2.0), metadata={"spacing": 1.5, "unit": "um", "axes": "ZYX"})
    tifffile.imwrite(tmp_path / "refs" / "stack.tif", clean)
    run = pipeline.validate(RunOptions(inputs=(str(tmp_path / "stack.tif"),), outdir=str(tmp_path / "out"),
                                       reference=(str(tmp_path / "refs" / "stack.tif"),), denoiser="nlm"))
    entries, _ = pipeline.prepare(run)
    results = []
    for entry in entries:
        ing = pipeline.ingest(run, entry)
        norm, noise = pipeline.normalize(run, ing), pipeline.characterize(run, ing)
        pipeline.denoise(run, ing, norm, noise)
        results.append(ItemResult(entry, pipeline.assess(run, ing), noise.rows))
    item = views.report_item(tmp_path / "out", results[0])
    assert [p.label for p in item.planes] == [f"z = {z}" for z in range(5)] and item.current == 2
    assert (item.pixel_size, item.unit, item.stack_size, item.full_size) == (0.5, "micrometer", 5, None)
    np.testing.assert_array_equal(item.planes[4].reference, clean[4])
    html = (tmp_path / "out" / pipeline.finish(run, results, {})["report"]).read_text()
    assert re.findall(r'data-label="(z = \d)"( hidden)?', html) == [(f"z = {z}", "" if z == 2 else " hidden")
                                                                   for z in range(5)]
    assert html.count('data-kind="error"') == 5 and html.count('class="scalebar"') == 15   # 40 px x 0.5 µm: 2 µm
    assert "<th>Pixel size (x)</th><td>0.5 µm</td>" in html and "<th>Method</th>" not in html
