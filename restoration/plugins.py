"""Plugin loading: built-ins and entry points of group ``restoration``, validated and isolated.

One pluggy :class:`~pluggy.PluginManager` holds every plugin (the built-in modules and each entry
point's module or object) and calls their ``@hookimpl`` functions through pluggy, so markers,
``specname=``, ``tryfirst``/``trylast`` and tracing work as pluggy documents. Each plugin's share
of a hook is called on its own (a subset hook caller), in pluggy's order: the built-ins first (they
are registered last, and pluggy calls the last registered first), then entry points by name, with
``tryfirst``/``trylast`` impls moved as pluggy moves them. So one plugin that raises, calls
``sys.exit`` or returns garbage fails alone (Ctrl-C still stops the host) and is listed with its
error, unless ``RESTORATION_PLUGINS_STRICT=1``. ``RESTORATION_DISABLE_PLUGINS=a,b`` skips entry
points by name; ``RESTORATION_TRACE_PLUGINS=1`` prints pluggy's trace of the hook calls to stderr.

A function named like a hook but without ``@hookimpl`` is not a hook implementation: it is never
called and its plugin is listed as failed (it was written for a loader that called functions by
name; decorating it with ``@restoration.hookimpl`` fixes it).
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
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
    """Where a registered noise model, transform or denoiser comes from: the plugin (entry point name,
    or ``"builtin"``) and its distribution's name and version.
    """
    plugin: str          # entry point name, or "builtin"
    distribution: str
    version: str

    def __str__(self) -> str:
        return f"{self.distribution} {self.version} ({self.plugin})"


@dataclass
class Registry:
    """Everything the hooks registered, by kind and name, with where each came from.

    ``failures`` lists the plugins that did not load, as ``(plugin, error)``; ``sources`` maps
    ``(kind, name)`` to a :class:`Source`.
    """
    noise_models: dict[str, NoiseModel] = field(default_factory=dict)
    transforms: dict[str, Transform] = field(default_factory=dict)
    denoisers: dict[str, Denoiser] = field(default_factory=dict)
    sources: dict[tuple[str, str], Source] = field(default_factory=dict)  # (kind, name) -> source
    failures: list[tuple[str, str]] = field(default_factory=list)        # (plugin, error)
    #: The plugin manager the hooks were called through (plugins stay registered on it).
    manager: pluggy.PluginManager | None = None

    def table(self, kind: str) -> dict:
        """The name -> instance dict of ``kind``: ``"noise"``, ``"transform"`` or ``"denoiser"``."""
        return {"noise": self.noise_models, "transform": self.transforms, "denoiser": self.denoisers}[kind]

    def get(self, kind: str, name: str):
        """The registered ``kind`` named ``name``, or an :class:`InputError` listing the valid names."""
        table = self.table(kind)
        if name not in table:
            raise InputError(f"unknown {kind} {name!r} (valid: {', '.join(sorted(table))})")
        return table[name]


_lock = threading.Lock()
_registry: Registry | None = None


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false", "no")


def _fail(reg: Registry, plugin: str, error: str) -> None:
    if _flag("RESTORATION_PLUGINS_STRICT"):
        raise PluginError(f"plugin {plugin}: {error}")
    reg.failures.append((plugin, error))


def _guarded(call: Callable[[], object]) -> tuple[object, str | None]:
    """``(call(), None)``, or ``(None, reason)`` when it raised or called ``sys.exit``.

    What the plugin printed to stderr is held back while it runs: usage text of an argparse that
    exits must not reach the host's stderr (its last line goes into the reason instead), while a
    working plugin's own messages are passed on.
    """
    printed = io.StringIO()
    try:
        with redirect_stderr(printed):
            result = call()
    except SystemExit as exc:  # e.g. its own argparse: the plugin fails, not the host
        said = printed.getvalue().strip().splitlines()
        return None, f"it called sys.exit({exc.code!r})" + (f" after printing {said[-1]!r}" if said else "")
    except Exception as exc:   # a broken plugin must not take the host down
        return None, f"{type(exc).__name__}: {exc}"
    sys.stderr.write(printed.getvalue())
    return result, None


def _register(reg: Registry, pm: pluggy.PluginManager, plugin: object, name: str) -> bool:
    """Register ``plugin`` under ``name``; a plugin pluggy refuses is listed as failed.

    Beyond pluggy's own checks at registration (arguments a spec does not have), a hookimpl for a
    hook that does not exist (a misspelt name) and a hook-named function without ``@hookimpl``
    fail the plugin.
    """
    if isinstance(plugin, type):
        _fail(reg, name, f"the entry point names the class {plugin.__name__}: point it at a module or "
                         f"an instance (e.g. `plugin = {plugin.__name__}()`)")
        return False
    try:
        pm.register(plugin, name=name)
        pm.check_pending()   # earlier plugins passed it, so an error here is this plugin's
    except (pluggy.PluginValidationError, ValueError) as exc:
        if pm.is_registered(plugin):
            pm.unregister(plugin)
        _fail(reg, name, "; ".join(line.strip() for line in str(exc).splitlines()))   # one line
        return False
    unmarked = [hook for hook in KINDS
                if callable(getattr(plugin, hook, None)) and pm.parse_hookimpl_opts(plugin, hook) is None]
    if unmarked:
        _fail(reg, name, f"{', '.join(unmarked)} lacks @restoration.hookimpl, so it is not a hook "
                         "implementation and is not called (decorate it: `from restoration import hookimpl`)")
    return True


def _call_order(pm: pluggy.PluginManager, hook: str) -> list[object]:
    """The plugins implementing ``hook``, in the order pluggy calls their impls."""
    order: list[object] = []
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        if not any(p is impl.plugin for p in order):
            order.append(impl.plugin)
    return order


def _collect(reg: Registry, pm: pluggy.PluginManager, sources: dict[str, Source]) -> None:
    """Call every hook plugin by plugin (each through a subset hook caller) and validate the items."""
    for hook, (kind, base) in KINDS.items():
        table = reg.table(kind)
        plugins = _call_order(pm, hook)
        for plugin in plugins:
            name = pm.get_name(plugin)
            source = sources[name]
            caller = pm.subset_hook_caller(hook, [p for p in plugins if p is not plugin])
            results, error = _guarded(caller)
            if error:
                _fail(reg, name, f"{hook}() raised {error}")
                continue
            returning = [i for i in caller.get_hookimpls() if i.plugin is plugin and not (i.wrapper or i.hookwrapper)]
            if len(results) < len(returning):   # pluggy drops None results
                _fail(reg, name, f"{hook}() returned None, not a list")
            for items in results:
                if not isinstance(items, (list, tuple)):
                    _fail(reg, name, f"{hook}() returned {type(items).__name__}, not a list")
                    continue
                for item in items:
                    _add(reg, name, kind, base, table, item, source, hook)


def _add(reg: Registry, plugin: str, kind: str, base: type, table: dict, item: object, source: Source,
         hook: str) -> None:
    if not isinstance(item, base):
        _fail(reg, plugin, f"{hook}() returned {item!r}, not a {base.__name__} instance")
        return
    name = getattr(item, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        _fail(reg, plugin, f"{kind} name {name!r} is not lowercase [a-z0-9-]")
        return
    if name in table:   # the one pluggy called first keeps the name
        _fail(reg, plugin, f"{kind} {name!r} from {source} is already registered by {reg.sources[(kind, name)]}")
        return
    table[name] = item
    reg.sources[(kind, name)] = source


def load_plugins(extra: Iterable[object] = ()) -> Registry:
    """Load built-ins and every enabled entry point into a fresh :class:`Registry`.

    Parameters
    ----------
    extra : iterable of plugin objects
        Modules or instances with ``@hookimpl`` methods registered in-process as well (like
        ``pytest.main(plugins=...)``), each under its ``__name__`` or its class name; called after
        the built-ins, before the entry points.
    """
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry(manager=pm)
    if _flag("RESTORATION_TRACE_PLUGINS"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    sources: dict[str, Source] = {}
    disabled = {s.strip() for s in os.environ.get("RESTORATION_DISABLE_PLUGINS", "").split(",") if s.strip()}
    # pluggy calls the last registered first: entry points in reverse name order, then built-ins.
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name, reverse=True):
        if ep.name in disabled:
            continue
        plugin, error = _guarded(ep.load)
        if error:
            _fail(reg, ep.name, f"failed to load {ep.value!r}: {error}")
            continue
        if _register(reg, pm, plugin, ep.name):
            sources[ep.name] = Source(ep.name, ep.dist.name if ep.dist else "unknown",
                                      ep.dist.version if ep.dist else "?")
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if _register(reg, pm, plugin, name):
            sources[name] = Source(name, "in-process", "-")
    builtin = Source("builtin", "restoration", _dist_version("restoration"))
    for modname in reversed(BUILTIN_MODULES):
        if _register(reg, pm, import_module(modname), modname):
            sources[modname] = builtin
    _collect(reg, pm, sources)
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
