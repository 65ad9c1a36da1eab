"""restoration: restore noisy images and n-dimensional arrays with diffusion models.

The public API (CONTRACT): ``denoise``, ``characterize`` and, for plugins, ``hookimpl``,
``NoiseModel``, ``Transform``, ``Observation``, ``Denoiser``. Importing this package is cheap: torch,
pandas and zarr load when a function needs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import InputError
from .hookspecs import hookimpl
from .types import Denoiser, NoiseModel, Observation, Transform

try:
    __version__ = version("restoration")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = ["Denoiser", "InputError", "NoiseModel", "Observation", "Transform", "__version__",
           "characterize", "denoise", "hookimpl"]


def __getattr__(name: str):
    if name in ("denoise", "characterize"):
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'restoration' has no attribute {name!r}")
