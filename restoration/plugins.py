"""Plugin loading: built-ins and entry points of group ``restoration``, validated and isolated.

A plugin that fails to import (an exception or ``sys.exit``; Ctrl-C still stops the host) or
returns garbage is listed with its error and never takes the host down, unless
``RESTORATION_PLUGINS_STRICT=1``. ``RESTORATION_DISABLE_PLUGINS=a,b`` skips entry points by name.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from contextlib import redirect_stderr
from dataclasses import dataclass, field
from importlib import import_module
from importlib.metadata import entry_points, version

import pluggy

from . import hookspecs
from .errors import InputError
from .types import Denoiser, NoiseModel, Transform

GROUP = "restoration"
BUILTIN_MODULES = ("restoration.noise", "restoration.transforms", "restoration.denoisers")
NAME_RE = re.compile(r"^[a-z0-9-]+$")
KINDS = {  # hook name -> (kind label, base class)
    "restoration_noise_models": ("noise", NoiseModel),
    "restoration_transforms": ("transform", Transform),
    "restoration_denoisers": ("denoiser", Denoiser),
}


class PluginError(RuntimeError):
    """A plugin failed to load and ``RESTORATION_PLUGINS_STRICT=1`` is set."""


@dataclass
class Source:
    plugin: str          # entry point name, or "builtin"
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} ({self.plugin})"


@dataclass
class Registry:
    noise_models: dict[str, NoiseModel] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    denoisers: dict[str, Denoiser] = field(default_factory=dict)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)  # (kind, name) -> source
    failures: list[tuple[str, str]] = field(default_factory=list)        # (plugin, error)

    def table(self, kind: str) -> dict:
        return {"noise": self.noise_models, "transform": self.transforms, "denoiser": self.denoisers}[kind]

    def get(self, kind: str, name: str):
        """The registered ``kind`` named ``name``, or an :class:`InputError` listing the valid names."""
        table = self.table(kind)
        if name not in table:
            raise InputError(f"unknown {kind} {name!r} (valid: {', '.join(sorted(table))})")
        return table[name]


_lock = threading.Lock()
_registry: Registry | None = None


def _strict() -> bool:
    return os.environ.get("RESTORATION_PLUGINS_STRICT", "") not in ("", "0", "false", "no")


def _fail(reg: Registry, plugin: str, error: str) -> None:
    if _strict():
        raise PluginError(f"plugin {plugin}: {error}")
    reg.failures.append((plugin, error))


def _collect(reg: Registry, plugin_name: str, module, source: Source) -> None:
    for hook, (kind, base) in KINDS.items():
        impl = getattr(module, hook, None)
        if impl is None:
            continue
        try:
            items = impl()
        except (Exception, SystemExit) as exc:  # a broken plugin must not take the host down
            _fail(reg, plugin_name, f"{hook}() raised {type(exc).__name__}: {exc}")
            continue
        if not isinstance(items, (list, tuple)):
            _fail(reg, plugin_name, f"{hook}() returned {type(items).__name__}, not a list")
            continue
        table = reg.table(kind)
        for item in items:
            if not isinstance(item, base):
                _fail(reg, plugin_name, f"{hook}() returned {item!r}, not a {base.__name__} instance")
                continue
            name = getattr(item, "name", None)
            if not isinstance(name, str) or not NAME_RE.match(name):
                _fail(reg, plugin_name, f"{kind} name {name!r} is not lowercase [a-z0-9-]")
                continue
            if name in table:
                _fail(reg, plugin_name, f"{kind} {name!r} from {source} is already registered by {reg.sources[(kind, name)]}")
                continue
            table[name] = item
            reg.sources[(kind, name)] = source


def load_plugins() -> Registry:
    """Load built-ins and every enabled entry point into a fresh :class:`Registry`."""
    reg = Registry()
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    pkg_version = _dist_version("restoration")
    for modname in BUILTIN_MODULES:
        module = import_module(modname)
        pm.register(module, name=modname)
        _collect(reg, modname, module, Source("builtin", "restoration", pkg_version))
    disabled = {s.strip() for s in os.environ.get("RESTORATION_DISABLE_PLUGINS", "").split(",") if s.strip()}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in disabled:
            continue
        dist = ep.dist.name if ep.dist else "unknown"
        printed = io.StringIO()
        try:
            with redirect_stderr(printed):  # a plugin's usage text must not reach the host's stderr
                module = ep.load()
            pm.register(module, name=ep.name)
        except SystemExit as exc:  # e.g. its own argparse at import: the plugin fails, not the host
            said = printed.getvalue().strip().splitlines()
            _fail(reg, ep.name, f"failed to load {ep.value!r}: it called sys.exit({exc.code!r})"
                                + (f" after printing {said[-1]!r}" if said else ""))
            continue
        except Exception as exc:
            _fail(reg, ep.name, f"failed to load {ep.value!r}: {type(exc).__name__}: {exc}")
            continue
        sys.stderr.write(printed.getvalue())  # a working plugin's own messages still show
        _collect(reg, ep.name, module, Source(ep.name, dist, ep.dist.version if ep.dist else "?"))
    return reg


def _dist_version(name: str) -> str:
    try:
        return version(name)
    except Exception:
        return "0+unknown"


def registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _registry
    with _lock:
        if _registry is None:
            _registry = load_plugins()
        return _registry


def reset() -> None:
    """Forget the loaded plugins (tests, or after installing one at run time)."""
    global _registry
    with _lock:
        _registry = None
