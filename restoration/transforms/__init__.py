"""Built-in intensity transforms, registered through the same hook as third-party ones."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .nonlinear import Anscombe, Log
from .scaling import Identity, MinMax, Percentile, ZScore


@hookimpl
def restoration_transforms():
    return [Percentile(), MinMax(), ZScore(), Identity(), Log(), Anscombe()]
