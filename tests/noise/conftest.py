"""Small test images for the noise-model tests (crops of scikit-image's camera, and synthetic)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data


@pytest.fixture(scope="session")
def camera() -> np.ndarray:
    """128x128 crop of camera, float64 in [0.05, 0.95] (smooth sky, coat, a tripod: varied)."""
    return 0.05 + 0.9 * data.camera()[100:228, 100:228] / 255.0


@pytest.fixture(scope="session")
def ramp() -> np.ndarray:
    """A smooth horizontal ramp 0.05 .. 1 (no texture): estimators' statistical floor."""
    return np.tile(np.linspace(0.05, 1.0, 192), (192, 1))
