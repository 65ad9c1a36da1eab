"""Built-in denoisers, registered through the same hook as third-party ones."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .diffusion import DiffusionDenoiser
from .nlm import NLMDenoiser


@hookimpl
def restoration_denoisers():
    """The built-in denoisers: ``diffusion`` (the default) and ``nlm``."""
    return [DiffusionDenoiser(), NLMDenoiser()]
