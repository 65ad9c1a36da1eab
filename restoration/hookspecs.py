"""The plugin hooks (CONTRACT). Each returns a list of instances; pluggy collects them.

A plugin distribution declares ``[project.entry-points.restoration] NAME = "module"`` (or
``"module:object"`` for a plugin object, an instance whose methods are the hooks). Only functions
marked ``@restoration.hookimpl`` are hook implementations, named after these specs or pointing at
one with ``@hookimpl(specname="restoration_noise_models")``; a hook-named function without the
marker is not called and its plugin is listed as failed. pluggy's impl options apply:
``tryfirst``/``trylast`` move a plugin in the call order (built-ins are called first, then entry
points by name), and when two plugins return the same name the one called first keeps it.
Hooks take no arguments and must return a list (never None).
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
