"""dtype, size and pixel-budget checks."""

import numpy as np
import pytest

from restoration.io import SUPPORTED_DTYPES, max_pixels
from restoration.io.checks import dtype_problem, pixel_problem, shape_problem


@pytest.mark.parametrize("dtype", SUPPORTED_DTYPES)
def test_supported_dtypes_pass(dtype):
    assert dtype_problem(dtype) is None
    assert dtype_problem(dtype.newbyteorder(">")) is None


@pytest.mark.parametrize("dtype, msg", [
    ("complex128", "unsupported dtype complex128; convert to a real type"),
    ("complex64", "unsupported dtype complex64; convert to a real type"),
    ("bool", "unsupported dtype bool; convert to uint8"),
    ("int64", "unsupported dtype int64"),
    ("O", "Python objects"),
    ([("a", "f4")], "structured"),
])
def test_unsupported_dtypes(dtype, msg):
    assert msg in dtype_problem(np.dtype(dtype))


def test_shape_problems():
    assert shape_problem((4, 5), "yx") is None
    assert "zero-size" in shape_problem((0, 5), "yx")
    assert "too small" in shape_problem((2, 5), "yx")
    assert "along x" in shape_problem((5, 2, 3), "yxc")
    assert shape_problem((1, 3, 3), "zyx") is None  # one plane is fine


def test_max_pixels_setting(monkeypatch):
    monkeypatch.delenv("RESTORATION_MAX_PIXELS", raising=False)
    assert max_pixels() == 2**30
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "1000")
    assert max_pixels() == 1000
    assert pixel_problem(1000) is None
    assert "decompression bomb" in pixel_problem(1001)
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "lots")
    with pytest.raises(ValueError, match="RESTORATION_MAX_PIXELS"):
        max_pixels()
