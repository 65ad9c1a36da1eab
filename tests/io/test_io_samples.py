"""The committed sample data: readable, paired by name, and what make_samples.py makes."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from restoration.io import discover, read_array

DATA = Path(__file__).resolve().parents[2] / "data"
EXPECTED = {  # name: (format, dtype, shape, axes)
    "astronaut_rgb": ("png", "uint8", (256, 256, 3), "yxc"),
    "camera_gaussian": ("npy", "float32", (512, 512), "yx"),
    "camera_saltpepper": ("png", "uint8", (256, 256), "yx"),
    "coffee_speckle": ("tiff", "float32", (200, 300), "yx"),
    "coins_poisson": ("tiff", "uint16", (303, 384), "yx"),
    "stack": ("zarr", "float32", (8, 128, 128), "zyx"),  # an OME-Zarr image: named by its store
}


@pytest.mark.parametrize("kind", ["noisy", "clean"])
def test_samples_discover(kind):
    items = discover([str(DATA / kind)])
    got = {i.name: (i.format, i.dtype.name, i.shape, i.axes) for i in items}
    assert got == EXPECTED
    stack = next(i for i in items if i.name == "stack")
    assert (stack.array_path, stack.attrs["scale"]) == ("volume", [2.0, 0.5, 0.5])
    assert stack.attrs["units"] == ["micrometer"] * 3


def test_samples_are_small():
    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    assert total <= 10 * 2**20


def test_samples_match_the_script():
    spec = importlib.util.spec_from_file_location("make_samples", DATA / "make_samples.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    files = {"camera_gaussian": "camera_gaussian.npy", "coins_poisson": "coins_poisson.tif",
             "astronaut_rgb": "astronaut_rgb.png", "coffee_speckle": "coffee_speckle.tif",
             "camera_saltpepper": "camera_saltpepper.png", "stack": "stack.zarr"}
    for name, file in files.items():
        clean, noisy = getattr(mod, name)(np.random.default_rng(mod.SEEDS[name]))[:2]
        for kind, want in (("clean", clean), ("noisy", noisy)):
            data, _ = read_array(str(DATA / kind / file))
            assert data.dtype == want.dtype, (kind, file)
            np.testing.assert_array_equal(data, want, err_msg=f"{kind}/{file}")
