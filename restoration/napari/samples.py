"""napari sample data: the bundled noisy images (``data/noisy``) with their clean references
(``data/clean``), read from the source checkout.

``data/`` is not part of the installed package (4.4 MB that every install would carry): the
samples are found next to the package in a source checkout (``make setup`` installs it editable),
and a wheel install says so in one line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

DATA = Path(__file__).resolve().parents[2] / "data"
FILES = {"camera_gaussian": "camera_gaussian.npy", "coins_poisson": "coins_poisson.tif",
         "astronaut_rgb": "astronaut_rgb.png", "coffee_speckle": "coffee_speckle.tif",
         "camera_saltpepper": "camera_saltpepper.png", "stack": "stack.zarr"}


def sample_layers(name: str, data_dir: Path = DATA) -> list[tuple]:
    """The layer data tuples of sample ``name``: its clean reference (hidden), then the noisy image
    (added last: the selected layer).

    Raises
    ------
    InputError
        When the sample files are not there (a wheel install: the samples live in the source
        checkout's ``data/``).
    """
    import numpy as np

    from ..io import discover
    from ..store.ome_metadata import is_rgb
    from .layers import geometry

    layers = []
    for kind, visible in (("clean", False), ("noisy", True)):
        path = data_dir / kind / FILES[name]
        if not path.exists():
            raise InputError(f"sample data {path} not found: the samples ship with the source checkout "
                             "(git clone, then make setup), not with the installed package")
        (item,) = discover([str(path)])
        rgb = is_rgb(item.format, item.attrs, item.axes, item.shape)
        meta = {"name": name if kind == "noisy" else f"{name} (clean)", "visible": visible,
                **geometry(item.axes, item.attrs, rgb), "rgb": rgb, "metadata": {"restoration_sample": str(path)}}
        layers.append((np.asarray(item.open()[...]), meta, "image"))
    return layers


def camera_gaussian() -> list[tuple]:
    """``camera`` with Gaussian noise (sigma 25/255, float in [0, 1], 512x512) and its reference."""
    return sample_layers("camera_gaussian")


def coins_poisson() -> list[tuple]:
    """``coins`` with Poisson noise (uint16 counts, gain 126) and its reference."""
    return sample_layers("coins_poisson")


def astronaut_rgb() -> list[tuple]:
    """``astronaut`` in RGB with Gaussian noise (sigma 15 of 255, uint8) and its reference."""
    return sample_layers("astronaut_rgb")


def coffee_speckle() -> list[tuple]:
    """``coffee`` in grey with speckle noise (sigma 0.2) and its reference."""
    return sample_layers("coffee_speckle")


def camera_saltpepper() -> list[tuple]:
    """A ``camera`` crop with 5 % salt-and-pepper impulses (uint8) and its reference."""
    return sample_layers("camera_saltpepper")


def stack() -> list[tuple]:
    """A z-stack (8x128x128, 2x0.5x0.5 micrometre voxels) with Gaussian noise and its reference."""
    return sample_layers("stack")
