"""The plugin hooks (CONTRACT). Each returns a list of instances; pluggy collects them.

A plugin distribution declares ``[project.entry-points.restoration] NAME = "module"`` and the
module holds ``@restoration.hookimpl`` functions named after these specs.
"""

from __future__ import annotations

import pluggy

from .types import Denoiser, NoiseModel, Transform

hookspec = pluggy.HookspecMarker("restoration")
hookimpl = pluggy.HookimplMarker("restoration")


@hookspec
def restoration_noise_models() -> list[NoiseModel]:
    """Noise types this plugin adds (selectable with ``--noise NAME`` and by ``--noise auto``)."""


@hookspec
def restoration_transforms() -> list[Transform]:
    """Intensity transforms this plugin adds (``--transform NAME``)."""


@hookspec
def restoration_denoisers() -> list[Denoiser]:
    """Denoisers this plugin adds (``--denoiser NAME``)."""
