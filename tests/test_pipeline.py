"""Pipeline helpers that bound memory on large planes."""

import numpy as np
import zarr

from restoration.report import DETAIL_SIDE
from restoration.report import views


def test_report_view_subsamples_large_planes_and_crops_at_full_resolution(tmp_path, monkeypatch):
    monkeypatch.setattr(views, "REPORT_SIDE", 100)
    data = np.arange(3 * 450 * 301, dtype=np.float32).reshape(3, 450, 301)
    arr = zarr.create_array(str(tmp_path / "a.zarr"), shape=data.shape, chunks=(1, 128, 128), dtype=np.float32)
    arr[:] = data
    plane, crop = views._report_view(arr, "zyx")
    assert plane.shape == (90, 61)                                   # every 5th pixel of the middle plane
    np.testing.assert_array_equal(plane, data[1, ::5, ::5])
    y0, x0 = (450 - DETAIL_SIDE) // 2, (301 - DETAIL_SIDE) // 2
    np.testing.assert_array_equal(crop, data[1, y0:y0 + DETAIL_SIDE, x0:x0 + DETAIL_SIDE])


def test_report_view_reads_small_planes_whole():
    data = np.random.default_rng(0).random((40, 30, 3))
    plane, crop = views._report_view(data, "yxc")
    np.testing.assert_array_equal(plane, data)
    assert crop is None
