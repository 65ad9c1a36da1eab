"""Built-in noise models, registered through the same hook as third-party ones.

To add a noise type: write a module here with a :class:`restoration.NoiseModel` subclass and add an
instance to the list below (or ship it in a plugin distribution; see plugins/).
"""

from __future__ import annotations

from ..hookspecs import hookimpl
from .gaussian import GaussianNoise
from .poisson import PoissonGaussianNoise, PoissonNoise
from .saltpepper import SaltPepperNoise
from .select import NoiseFit, characterize_array, clean_estimate, select_noise
from .speckle import SpeckleNoise

__all__ = ["GaussianNoise", "NoiseFit", "PoissonGaussianNoise", "PoissonNoise", "SaltPepperNoise",
           "SpeckleNoise", "characterize_array", "clean_estimate", "select_noise"]


@hookimpl
def restoration_noise_models():
    """The built-in noise models: gaussian, poisson, poisson-gaussian, speckle, salt-and-pepper."""
    # Order matters only for exact ties in selection (simplest and most common first).
    return [GaussianNoise(), PoissonNoise(), PoissonGaussianNoise(), SpeckleNoise(), SaltPepperNoise()]
