"""restoration: restore noisy images and n-dimensional arrays with diffusion models.

The public API: ``denoise``, ``denoise_plane`` (one plane or band of rows, as ``denoise`` restores it), ``characterize``, the run options ``RunOptions`` and, for plugins,
``hookimpl``, ``NoiseModel``, ``Transform``, ``Observation``, ``Denoiser`` and ``Option`` (the rules
each follows are in :mod:`restoration.types`; :mod:`restoration.testing` checks them). Importing
this package is cheap: torch, pandas and zarr load when a function needs them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from .errors import InputError
from .hookspecs import hookimpl
from .options import RunOptions
from .types import Denoiser, NoiseModel, Observation, Option, Transform

if TYPE_CHECKING:  # type checkers and IDEs see them; at run time they load on first use (below)
    from .api import characterize, denoise, denoise_plane

try:
    __version__ = version("restoration")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = ["Denoiser", "InputError", "NoiseModel", "Observation", "Option", "RunOptions", "Transform", "__version__",
           "characterize", "denoise", "denoise_plane", "hookimpl"]


_LAZY = ("characterize", "denoise", "denoise_plane")  # restoration.api imports pandas and scipy: 0.7 s, this package 0.1 s


def __getattr__(name: str):
    if name in _LAZY:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'restoration' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
