"""A real napari viewer for the plugin's tests: an X server of its own (Xvfb: napari draws with
OpenGL, which Qt's offscreen platform does not provide), the plugin's manifest registered with
npe2 as its ``napari.manifest`` entry point would register it, and helpers to wait on workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from processes import ProcessGroups

try:
    import napari  # noqa: F401
except ImportError:  # the napari extra is not installed (pip install -e '.[napari]'): nothing here runs
    collect_ignore_glob = ["*.py"]

MANIFEST = Path(__file__).resolve().parents[2] / "restoration" / "napari" / "napari.yaml"


@pytest.fixture(scope="session", autouse=True)
def x_display(tmp_path_factory):
    """An Xvfb display for the session's viewers (set before the QApplication exists).

    Killing the X server under a live QApplication makes Qt exit the process with status 1, and
    the QApplication lives until the interpreter exits; so once Qt has connected, the server is
    left to end by itself: ``-terminate`` makes it exit when its last client (this process) goes,
    even if this process is killed. It carries no mark of this test session (it is not a leftover).
    This process connects at once and stays connected (through libxcb, which Qt's xcb platform
    links): a test's child process that connects and exits first would otherwise end the server
    before this process's QApplication exists, and Qt aborts the process when it cannot connect.
    """
    import ctypes

    from qtpy.QtWidgets import QApplication

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.fail("Xvfb is not installed: run .ci/install-qt-libs.sh (make test does)")
    groups = ProcessGroups()
    read, write = os.pipe()
    log = open(tmp_path_factory.mktemp("xvfb") / "log", "w")
    env = {k: v for k, v in os.environ.items() if k != "RESTORATION_TEST_SESSION"}  # tests/conftest.py's mark
    proc = groups.start([xvfb, "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp",
                         "-terminate"], pass_fds=(write,), stdout=log, stderr=subprocess.STDOUT, env=env)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    log.close()
    xcb = ctypes.CDLL("libxcb.so.1")
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connection_has_error.argtypes = xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(f":{number}".encode(), None) if number else None
    if not number or proc.poll() is not None or xcb.xcb_connection_has_error(connection):
        groups.stop()
        pytest.fail("Xvfb did not start")
    old = {k: os.environ.get(k) for k in ("DISPLAY", "QT_QPA_PLATFORM")}
    os.environ.update(DISPLAY=f":{number}", QT_QPA_PLATFORM="xcb")
    yield f":{number}"
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    if QApplication.instance() is None:  # Qt never connected: nothing will end the server but us
        xcb.xcb_disconnect(connection)
        groups.stop()


@pytest.fixture
def plugin(npe2pm):
    """The plugin registered with a fresh npe2 plugin manager (napari's ``npe2pm`` fixture)."""
    import npe2

    npe2pm.register(npe2.PluginManifest.from_file(MANIFEST))
    return npe2pm


@pytest.fixture
def viewer(make_napari_viewer, plugin):
    """A napari viewer with the plugin's dock widget open: ``(viewer, widget)``."""
    v = make_napari_viewer()
    _, widget = v.window.add_plugin_dock_widget("restoration", "Restoration")
    yield v, widget
    widget.shutdown()
    wait_idle(widget, 30)


@pytest.fixture
def idle():
    """:func:`wait_idle`."""
    return wait_idle


def wait_idle(widget, timeout: float) -> float:
    """Process Qt events until the widget's worker is done; returns the seconds waited."""
    from qtpy.QtWidgets import QApplication

    start = time.perf_counter()
    while widget.worker is not None:
        QApplication.processEvents()
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"worker still running after {timeout} s")
        time.sleep(0.005)
    QApplication.processEvents()
    return time.perf_counter() - start
