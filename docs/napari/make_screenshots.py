"""Screenshots of the napari plugin in use, for the README.

Opens napari on an X server of its own (Xvfb, stopped on the way out, error or not), loads the
``camera_gaussian`` sample through the plugin's sample data, opens the Restoration dock widget and:

* ``napari-characterize.png``: after Characterize (the noise table, in the data's units);
* ``napari-preview.png``: zoomed in, after Preview visible (only the rows on screen restored);
* ``napari-restored.png``: after Restore with the shipped model, noisy and restored side by side
  (napari's grid mode).

Each PNG is the whole window (``viewer.screenshot(canvas_only=False)``), reduced to 256 colours to
stay small (3/4 size). About a minute on two CPU cores (the shipped model restores 512x512 twice).

    MALLOC_ARENA_MAX=1 python docs/napari/make_screenshots.py [OUTDIR]   # writes docs/napari/*.png

Needs the napari extra and Xvfb (``.ci/install-qt-libs.sh`` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from processes import ProcessGroups  # noqa: E402  (the tests' process groups)

HERE = Path(__file__).resolve().parent
SIZE = (1400, 900)


def start_display(groups: ProcessGroups) -> str:
    """An Xvfb display (``:N``) in a process group of ``groups``."""
    read, write = os.pipe()
    groups.start([shutil.which("Xvfb") or "Xvfb", "-displayfd", str(write), "-screen", "0",
                  f"{SIZE[0]}x{SIZE[1]}x24", "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        return ":" + f.readline().strip()


def wait(widget, app, timeout: float = 300) -> None:
    """Process Qt events until the widget's job is done."""
    start = time.time()
    while widget.worker is not None:
        app.processEvents()
        if time.time() - start > timeout:
            raise TimeoutError("the widget's job did not finish")
        time.sleep(0.01)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)


def save(viewer, app, path: Path) -> None:
    """The whole window at 3/4 size as a 256-colour PNG (a few hundred KiB at most)."""
    from PIL import Image

    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    image = Image.fromarray(shot[..., :3])
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.Resampling.LANCZOS)
    image.quantize(256).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


def shoot(outdir: Path) -> None:
    """Drive the widget and write the three screenshots into ``outdir``."""
    import napari
    import npe2
    from qtpy.QtWidgets import QApplication

    npe2.PluginManager.instance().register(npe2.PluginManifest.from_file(REPO / "restoration" / "napari" / "napari.yaml"))
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    viewer.window._qt_window.resize(*SIZE)
    viewer.window._qt_window.move(0, 0)
    viewer.open_sample("restoration", "camera_gaussian")
    _, widget = viewer.window.add_plugin_dock_widget("restoration", "Restoration")
    widget.characterize()
    wait(widget, app)
    save(viewer, app, outdir / "napari-characterize.png")

    viewer.camera.center = (300, 250)
    viewer.camera.zoom = 3.0
    for _ in range(10):
        app.processEvents()
    viewer.window._qt_viewer.canvas.on_draw(None)
    widget.preview()
    wait(widget, app)
    save(viewer, app, outdir / "napari-preview.png")

    viewer.layers.remove("camera_gaussian preview")
    widget.layer_box.setCurrentText("camera_gaussian")
    widget.restore()
    wait(widget, app)
    viewer.canvas.grid.enabled = True
    for layer in viewer.layers:
        layer.visible = layer.name in ("camera_gaussian", "camera_gaussian restored")
    viewer.reset_view()
    save(viewer, app, outdir / "napari-restored.png")
    viewer.close()


def main() -> int:
    """Write the screenshots into ``sys.argv[1]`` (default: this folder)."""
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    outdir.mkdir(parents=True, exist_ok=True)
    groups = ProcessGroups()
    try:
        os.environ.update(DISPLAY=start_display(groups), QT_QPA_PLATFORM="xcb")
        shoot(outdir)
    finally:
        groups.stop()
    # Qt would exit with status 1 on finding its display gone at interpreter exit: leave now.
    sys.stdout.flush()
    os._exit(0)

if __name__ == "__main__":
    raise SystemExit(main())
