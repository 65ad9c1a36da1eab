"""Screenshots of report.html from a real run on the sample data (``data/``), for the README.

Restores ``data/noisy/stack.zarr`` (a z-stack with a 0.5 µm pixel size) and
``data/noisy/camera_gaussian.npy`` against their references in ``data/clean/`` with the default
denoiser and options, without Prefect (about a minute on a CPU), then renders report.html in headless Chromium driven over the DevTools Protocol:
the stack's first view, the stack after two clicks on "next", an image enlarged by a click, the
summary and the glossary.

    python docs/report/make_screenshots.py [OUTDIR]      # writes docs/report/*.png
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent


def restore(outdir: Path) -> Path:
    from restoration import pipeline
    from restoration.options import RunOptions

    options = RunOptions(inputs=(str(REPO / "data/noisy/stack.zarr"), str(REPO / "data/noisy/camera_gaussian.npy")),
                         outdir=str(outdir), reference=(str(REPO / "data/clean"),), overwrite=True)
    return Path(pipeline.restore_locally(options)["report"])


class Page:
    """Headless Chromium over the DevTools Protocol (the tests drive it the same way)."""

    def __init__(self, profile: Path, size=(1300, 1000)):
        from websockets.sync.client import connect

        self.proc = subprocess.Popen(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--hide-scrollbars", "--force-device-scale-factor=1", "--remote-debugging-port=0",
                                      f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        while not (port_file.exists() and port_file.read_text().strip()):
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            url = next(t for t in json.load(r) if t["type"] == "page")["webSocketDebuggerUrl"]
        self.ws, self.n = connect(url, max_size=None), 0
        self.send("Page.enable")

    def send(self, method: str, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                return msg.get("result", {})
            if msg.get("method") == "Page.loadEventFired":
                self.loaded = True

    def open(self, path: Path) -> None:
        self.loaded = False
        self.send("Page.navigate", url=path.resolve().as_uri())
        while not self.loaded:
            msg = json.loads(self.ws.recv())
            self.loaded = msg.get("method") == "Page.loadEventFired"

    def js(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def click(self, selector: str) -> None:
        x, y = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                       "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); "
                       "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def shot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        print(path)

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait()


def main() -> None:
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "out"
    report = restore(outdir)
    profile = Path(tempfile.mkdtemp())
    page = Page(profile)
    try:
        page.open(report)
        stack = "document.querySelector('div.stack').closest('section')"
        page.js(f"{stack}.scrollIntoView()")
        page.shot(HERE / "report-stack.png")
        page.click("div.stack button.next")
        page.click("div.stack button.next")
        page.js(f"{stack}.querySelector('.stacknav').scrollIntoView()")
        page.shot(HERE / "report-stack-next.png")
        page.click("div.stack .plane:not([hidden]) figure[data-kind=restored] img")
        page.shot(HERE / "report-enlarged.png")
        page.js("document.querySelector('.lightbox').click(); window.scrollTo(0, 0)")
        page.shot(HERE / "report-summary.png")
        page.js("document.getElementById('glossary').scrollIntoView()")
        page.shot(HERE / "report-glossary.png")
    finally:
        page.close()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
