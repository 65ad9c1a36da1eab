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
