"""Time the widget's Restore against ``restoration.denoise`` on the 512x512 ``camera_gaussian``
sample with the shipped model, in a process of its own started with ``MALLOC_ARENA_MAX=1`` (as the
README says to start napari: the network in the worker thread then uses the main heap arena).
Prints one JSON line: the API's wall and CPU seconds (this process, all threads) before and
after, the widget's, and whether the layer equals the API's result. Run by tests/napari/test_plugin.py on its X display."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import napari
import npe2
import numpy as np
from qtpy.QtWidgets import QApplication

import restoration

MANIFEST = Path(__file__).resolve().parents[2] / "restoration" / "napari" / "napari.yaml"


def main() -> int:
    """Run the timing; the JSON line on stdout."""
    npe2.PluginManager.instance().register(npe2.PluginManifest.from_file(MANIFEST))
    viewer = napari.Viewer(show=False)
    app = QApplication.instance()
    viewer.open_sample("restoration", "camera_gaussian")
    _, widget = viewer.window.add_plugin_dock_widget("restoration", "Restoration")
    noisy = viewer.layers["camera_gaussian"].data
    restoration.denoise(noisy[:64, :64])                          # load the model once for both

    def clocks():
        return time.perf_counter(), time.process_time()

    def since(start):
        return [now - then for now, then in zip(clocks(), start)]

    start = clocks()
    expected = restoration.denoise(noisy)
    before = since(start)
    start = clocks()
    widget.restore()
    while widget.worker is not None:
        app.processEvents()
        time.sleep(0.005)
    app.processEvents()
    gui = since(start)
    start = clocks()
    restoration.denoise(noisy)
    after = since(start)
    equal = bool(np.array_equal(viewer.layers["camera_gaussian restored"].data, expected))
    print(json.dumps({"before": before, "after": after, "widget": gui, "equal": equal}), flush=True)
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
