"""Built-in intensity transforms, registered through the same hook as third-party ones."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .anscombe import AnscombeTransform
from .log import LogTransform
from .scaling import IdentityTransform, MinMaxTransform, PercentileTransform, ZScoreTransform

# The class names of the first version of this package, kept importable.
Percentile, MinMax, ZScore, Identity = PercentileTransform, MinMaxTransform, ZScoreTransform, IdentityTransform
Log, Anscombe = LogTransform, AnscombeTransform

__all__ = ["AnscombeTransform", "IdentityTransform", "LogTransform", "MinMaxTransform",
           "PercentileTransform", "ZScoreTransform"]


@hookimpl
def restoration_transforms():
    """The built-in intensity transforms: percentile, minmax, zscore, none (identity), log, anscombe."""
    return [PercentileTransform(), MinMaxTransform(), ZScoreTransform(), IdentityTransform(),
            LogTransform(), AnscombeTransform()]
