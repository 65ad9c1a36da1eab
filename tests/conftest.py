"""Shared fixtures: a tiny trained diffusion model (seconds to train) and a quiet Prefect setup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# One temporary Prefect home (and so one ephemeral API) per test session, never the user's.
_PREFECT_HOME = Path(os.environ.get("RESTORATION_TEST_PREFECT_HOME", "/tmp/restoration-test-prefect"))
os.environ.setdefault("PREFECT_HOME", str(_PREFECT_HOME))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-level U-Net trained for 300 steps on scikit-image training images."""
    from restoration.diffusion.train import TrainConfig, train

    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    train(TrainConfig(sources=["skimage:brick,grass,moon,text"], output=str(out), steps=300, patch=32, batch=8,
                      widths=(8, 16), blocks=(1, 1), lr=3e-3, warmup=20, synthetic=4, checkpoint_every=300,
                      seed=0, threads=1))
    return out
