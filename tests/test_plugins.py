"""Plugin loading through real entry points (dist-info folders on sys.path), failures isolated."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from restoration import plugins
from restoration.errors import InputError

BROKEN = {
    "raises_on_import": "raise RuntimeError('boom at import')",
    "returns_garbage": textwrap.dedent("""
        from restoration import hookimpl
        @hookimpl
        def restoration_noise_models():
            return ["not a noise model"]
    """),
    "duplicate_name": textwrap.dedent("""
        from restoration import hookimpl, NoiseModel
        class Dup(NoiseModel):
            name = "gaussian"
            params = ("sigma",)
        @hookimpl
        def restoration_noise_models():
            return [Dup()]
    """),
    "good_transform": textwrap.dedent("""
        from restoration import hookimpl, Transform
        class Double(Transform):
            name = "double"
            def fit(self, x): return {}
            def forward(self, x, state): return 2 * x
            def inverse(self, y, state): return y / 2
        @hookimpl
        def restoration_transforms():
            return [Double()]
    """),
}


@pytest.fixture
def plugin_dir(plugin_site):
    """A site directory holding real distributions with `restoration` entry points."""
    for i, (mod, code) in enumerate(BROKEN.items()):
        site = plugin_site(mod, code, f"0.{i}")
    return site


def test_builtins_come_through_the_hooks():
    reg = plugins.load_plugins()
    assert {"gaussian", "poisson", "poisson-gaussian", "salt-and-pepper", "speckle"} <= set(reg.noise_models)
    assert {"percentile", "minmax", "zscore", "none", "log", "anscombe"} <= set(reg.transforms)
    assert {"diffusion", "nlm"} <= set(reg.denoisers)
    assert reg.sources[("noise", "gaussian")].plugin == "builtin"


def test_failures_are_listed_not_fatal(plugin_dir, monkeypatch):
    monkeypatch.delenv("RESTORATION_PLUGINS_STRICT", raising=False)
    reg = plugins.load_plugins()
    errors = dict(reg.failures)
    assert "boom at import" in errors["raises_on_import"]
    assert "not a NoiseModel instance" in errors["returns_garbage"]
    assert "already registered" in errors["duplicate_name"] and "plugin-duplicate_name" in errors["duplicate_name"]
    assert reg.noise_models["gaussian"].__class__.__module__.startswith("restoration.noise")
    assert "double" in reg.transforms and reg.sources[("transform", "double")].distribution == "plugin-good_transform"


def test_strict_makes_failures_fatal(plugin_dir, monkeypatch):
    monkeypatch.setenv("RESTORATION_PLUGINS_STRICT", "1")
    with pytest.raises(plugins.PluginError, match="duplicate_name|raises_on_import|returns_garbage"):
        plugins.load_plugins()


def test_disable_skips_entry_points(plugin_dir, monkeypatch):
    monkeypatch.setenv("RESTORATION_DISABLE_PLUGINS", "raises_on_import, returns_garbage,duplicate_name")
    reg = plugins.load_plugins()
    assert reg.failures == []
    assert "double" in reg.transforms


# A transform class plugins below share (a real one: the contract tests would accept it).
TRANSFORM = """
    from restoration import hookimpl, Transform
    class Named(Transform):
        def __init__(self, name): self.name = name
        def fit(self, x): return {}
        def forward(self, x, state): return x
        def inverse(self, y, state): return y
"""


def _plugin(code: str) -> str:
    return textwrap.dedent(TRANSFORM) + textwrap.dedent(code)


def test_specname_impl_is_called(plugin_site):
    plugin_site("spec_named", _plugin("""
        @hookimpl(specname="restoration_transforms")
        def my_transforms():
            return [Named("spec-named")]
    """))
    reg = plugins.load_plugins()
    assert "spec-named" in reg.transforms and reg.failures == []


def test_plugin_object_and_class(plugin_site):
    code = _plugin("""
        class Plugin:
            def __init__(self, prefix): self.prefix = prefix
            @hookimpl
            def restoration_transforms(self):
                return [Named(self.prefix + "-object")]
        plugin = Plugin("mine")
    """)
    plugin_site("object_plugin", code, target="object_plugin:plugin")
    plugin_site("class_plugin", code.replace("object_plugin", "class_plugin"), target="class_plugin:Plugin")
    reg = plugins.load_plugins()
    assert reg.sources[("transform", "mine-object")].plugin == "object_plugin"
    assert "point it at a module or an instance" in dict(reg.failures)["class_plugin"]


def test_function_without_hookimpl_is_not_called(plugin_site, monkeypatch):
    monkeypatch.delenv("RESTORATION_PLUGINS_STRICT", raising=False)
    plugin_site("legacy", _plugin("""
        def restoration_transforms():          # no marker: written for a loader calling by name
            return [Named("unmarked")]
        @hookimpl
        def restoration_denoisers():
            return []
    """))
    reg = plugins.load_plugins()
    assert "unmarked" not in reg.transforms
    assert "restoration_transforms lacks @restoration.hookimpl" in dict(reg.failures)["legacy"]
    assert reg.manager.get_plugin("legacy") is not None       # its marked hooks still count
    monkeypatch.setenv("RESTORATION_PLUGINS_STRICT", "1")
    with pytest.raises(plugins.PluginError, match="legacy: restoration_transforms lacks"):
        plugins.load_plugins()


@pytest.mark.parametrize("tryfirst", [False, True])
def test_call_order_is_pluggys(plugin_site, tryfirst):
    """Entry points are called by name after the built-ins, unless an impl asks for tryfirst."""
    plugin_site("alpha", _plugin("""
        @hookimpl
        def restoration_transforms():
            return [Named("shared"), Named("alpha-only")]
    """))
    plugin_site("omega", _plugin(f"""
        @hookimpl(tryfirst={tryfirst})
        def restoration_transforms():
            return [Named("shared")]
    """))
    reg = plugins.load_plugins()
    order = list(reg.transforms)
    keeper, loser = ("omega", "alpha") if tryfirst else ("alpha", "omega")
    assert reg.sources[("transform", "shared")].plugin == keeper
    assert "'shared' from plugin-" + loser in dict(reg.failures)[loser]
    if tryfirst:
        assert order[0] == "shared"                       # before the built-ins
    else:
        assert order.index("percentile") < order.index("shared") < order.index("alpha-only")


def test_hook_failures_are_isolated(plugin_site):
    plugin_site("exits_in_hook", """
        import sys
        from restoration import hookimpl
        @hookimpl
        def restoration_transforms():
            print("usage: nope", file=sys.stderr)
            sys.exit(2)
    """)
    plugin_site("returns_none", "from restoration import hookimpl\n@hookimpl\ndef restoration_transforms():\n    pass\n")
    plugin_site("misspelt", "from restoration import hookimpl\n@hookimpl\ndef restoration_noise_model():\n    return []\n")
    plugin_site("wrong_args", "from restoration import hookimpl\n@hookimpl\ndef restoration_transforms(cfg):\n    return []\n")
    plugin_site("fine", _plugin("@hookimpl\ndef restoration_transforms():\n    return [Named('fine')]\n"))
    reg = plugins.load_plugins()
    errors = dict(reg.failures)
    assert errors["exits_in_hook"] == "restoration_transforms() raised it called sys.exit(2) after printing 'usage: nope'"
    assert errors["returns_none"] == "restoration_transforms() returned None, not a list"
    assert "unknown hook 'restoration_noise_model'" in errors["misspelt"]
    assert "{'cfg'} are declared in the hookimpl but can not be found in the hookspec" in errors["wrong_args"]
    assert "\n" not in errors["wrong_args"]                        # one line in `restoration plugins`
    assert "fine" in reg.transforms and "gaussian" in reg.noise_models


def test_hook_calls_go_through_pluggy(plugin_site, monkeypatch, capsys):
    """pluggy's tracing sees every call, so the hooks are not called around it."""
    plugin_site("traced", _plugin("@hookimpl\ndef restoration_transforms():\n    return [Named('traced')]\n"))
    monkeypatch.setenv("RESTORATION_TRACE_PLUGINS", "1")
    reg = plugins.load_plugins()
    err = capsys.readouterr().err
    assert "traced" in reg.transforms
    assert err.count("restoration_transforms") >= 2 and err.count("restoration_noise_models") >= 2


def test_unknown_name_lists_valid_ones():
    with pytest.raises(InputError, match="unknown noise 'nope' .*gaussian.*speckle"):
        plugins.registry().get("noise", "nope")


def test_plugins_command_lists_failures(plugin_dir):
    env_path = str(plugin_dir)
    import os

    env = dict(os.environ, PYTHONPATH=env_path + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("RESTORATION_PLUGINS_STRICT", None)
    r = subprocess.run([str(Path(sys.executable).parent / "restoration"), "plugins"], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "double" in r.stdout and "plugin-good_transform 0.3" in r.stdout
    assert "failed plugins:" in r.stdout and "boom at import" in r.stdout


def test_import_is_light():
    code = "import sys, restoration, restoration.plugins as p; p.registry(); print('torch' in sys.modules, 'prefect' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["False", "False"], r.stdout + r.stderr
