"""Screenshots of the Prefect UI for two real ``restore-dataset`` flow runs, for the README.

Starts a Prefect server on loopback (a free port, a temporary PREFECT_HOME, as the tests'
``prefect_server`` fixture does), runs ``restoration run`` against it twice with the fast NLM
denoiser:

* ``restoration run data/noisy -o <tmp>/demo --reference data/clean --denoiser nlm``: the six
  sample items, all restored (the run ``restore-demo-<time>``);
* a folder with ``camera_gaussian.npy`` and ``corrupt.npy`` (a valid header, every value NaN)
  into ``<tmp>/with-failure``: one item restored, one Failed task run ``failed-corrupt`` (the
  run ``restore-with-failure-<time>``, Failed),

then renders the UI in headless Chromium driven over the DevTools Protocol (like
docs/report/make_screenshots.py): the runs list, the successful run's page (task-run graph and
the Task Runs tab), its Artifacts tab, the restoration-report, quality-report and noise-profile
artifacts, its Logs tab at the per-item lines, and the failed run's page and failed task run.
The server, the runs and Chromium each run in a process group of their own, stopped on the way
out, error or not. About two minutes on two CPU cores.

    python docs/ui/make_screenshots.py [OUTDIR]      # writes docs/ui/*.png

Chromium: ``chromium`` on PATH (``.ci/install-chromium.sh`` installs Debian's).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
from processes import ProcessGroups  # noqa: E402  (the tests' process groups: stop() ends each whole group)
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SIZE = (1600, 1000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(home: Path, url: str) -> dict:
    """tests/flows/conftest.py's server environment, plus the API URL the UI calls (by default
    it would call port 4200)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="2", PREFECT_RUNNER_POLL_FREQUENCY="1",
               PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false", PREFECT_SERVER_UI_API_URL=url,
               PREFECT_API_URL=url)
    return env


def start_server(procs: ProcessGroups, home: Path) -> tuple[str, dict]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = server_env(home, url)
    log = open(home / "server.log", "w")
    proc = procs.start([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                       env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.time() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return url, env
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"prefect server did not start: {(home / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)


def restore(procs: ProcessGroups, env: dict, args: list[str], expect: int) -> None:
    """``restoration run ARGS`` against the server; its exit status must be ``expect``."""
    proc = procs.start([str(BIN / "restoration"), "run", *args, "--denoiser", "nlm"], env=env, cwd=REPO,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = proc.communicate(timeout=600)
    print(out.rstrip())
    if proc.returncode != expect:
        raise RuntimeError(f"restoration run {' '.join(args)}: exit {proc.returncode}, expected {expect}")


def failing_inputs(root: Path) -> tuple[Path, Path]:
    """A folder with one good item and one that fails after discovery (all NaN), and references."""
    import numpy as np

    indir, refdir = root / "with-failure-in", root / "with-failure-ref"
    indir.mkdir()
    refdir.mkdir()
    shutil.copy(REPO / "data/noisy/camera_gaussian.npy", indir)
    shutil.copy(REPO / "data/clean/camera_gaussian.npy", refdir)
    np.save(indir / "corrupt.npy", np.full((64, 64), np.nan, np.float32))
    np.save(refdir / "corrupt.npy", np.zeros((64, 64), np.float32))
    return indir, refdir


def find_runs(url: str) -> dict:
    """The two flow runs, their task runs and artifacts, read from the API."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}), get_client(sync_client=True) as client:
        runs = {r.name.rsplit("-", 2)[0]: r for r in client.read_flow_runs()}
        ok, bad = runs["restore-demo"], runs["restore-with-failure"]
        assert ok.state.is_completed() and bad.state.is_failed(), (ok.state, bad.state)
        only = {"flow_run_filter": FlowRunFilter(id=FlowRunFilterId(any_=[bad.id]))}
        failed = next(t for t in client.read_task_runs(**only) if t.name == "failed-corrupt")
        assert failed.state.is_failed(), failed.state
        only = {"flow_run_filter": FlowRunFilter(id=FlowRunFilterId(any_=[ok.id]))}
        artifacts = {a.key: a.id for a in client.read_artifacts(**only) if a.key}
    return {"ok": ok, "bad": bad, "failed_task": failed, "artifacts": artifacts}


class Page:
    """Headless Chromium over the DevTools Protocol (as docs/report/make_screenshots.py)."""

    def __init__(self, procs: ProcessGroups, chromium: str, profile: Path):
        from websockets.sync.client import connect

        procs.start([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                     "--force-device-scale-factor=1", "--remote-debugging-port=0",
                     f"--window-size={SIZE[0]},{SIZE[1]}", f"--user-data-dir={profile}", "about:blank"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.time() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.time() > deadline:
                raise RuntimeError("chromium did not start")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
            url = next(t for t in json.load(r) if t["type"] == "page")["webSocketDebuggerUrl"]
        self.ws, self.n = connect(url, max_size=None), 0
        self.resize(*SIZE)

    def send(self, method: str, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def resize(self, width: int, height: int) -> None:
        """The viewport (the window's size in new headless mode includes no-longer-drawn chrome)."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def js(self, expression: str):
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait(self, condition: str, what: str, timeout: float = 60, settle: float = 1.5) -> None:
        """Until the JavaScript ``condition`` holds, then ``settle`` seconds for transitions and
        the graph's drawing."""
        deadline = time.time() + timeout
        while not self.js(f"(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"):
            if time.time() > deadline:
                text = (self.js("document.body && document.body.innerText") or "")[:500]
                raise RuntimeError(f"{what}: not shown after {timeout:g} s; the page reads: {text!r}")
            time.sleep(0.5)
        time.sleep(settle)

    def open(self, url: str, shows: str) -> None:
        """Go to ``url`` and wait until the page's text contains ``shows``."""
        self.send("Page.navigate", url=url)
        self.wait(f"document.body.innerText.includes({json.dumps(shows)})", f"{url} showing {shows!r}")

    def tab(self, label: str, shows: str) -> None:
        """Select the flow run page's tab ``label`` (the UI drops a ``?tab=`` given on load)."""
        self.wait(f"[...document.querySelectorAll('li.p-tab')].some(e => e.innerText.trim() == {json.dumps(label)})",
                  f"tab {label}", settle=0)
        self.js(f"[...document.querySelectorAll('li.p-tab')].find(e => e.innerText.trim() == {json.dumps(label)})"
                ".click()")
        self.wait(f"document.querySelector('li.p-tab__active')?.innerText.trim() == "
                  f"{json.dumps(label)} && document.body.innerText.includes({json.dumps(shows)})", f"tab {label}")

    @staticmethod
    def innermost(text: str) -> str:
        """JavaScript for the innermost (last in document order) element whose text has ``text``."""
        return (f"[...document.querySelectorAll('body *')]"
                f".filter(e => e.innerText && e.innerText.includes({json.dumps(text)})).pop()")

    def scroll_to(self, text: str, above: int = 0) -> None:
        """Scroll the element showing ``text`` to ``above`` pixels below the top of the view (the
        UI scrolls its content in a box of its own, not the window)."""
        self.js(f"""(() => {{
            const e = {self.innermost(text)};
            e.scrollIntoView({{block: 'start'}});
            let box = e.parentElement;
            while (box && !(box.scrollHeight > box.clientHeight + 1
                            && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
            (box || document.scrollingElement).scrollTop -= {above};
        }})()""")
        time.sleep(1.5)

    def shot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))
        print(f"{path} ({path.stat().st_size // 1024} KB)")

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass


def screenshots(page: Page, ui: str, runs: dict, out: Path) -> None:
    ok, bad = runs["ok"], runs["bad"]

    page.open(f"{ui}/runs", shows=bad.name)
    page.wait(f"document.body.innerText.includes({json.dumps(ok.name)})", "both runs listed")
    page.shot(out / "ui-runs.png")

    page.open(f"{ui}/runs/flow-run/{ok.id}", shows=ok.name)
    page.tab("Task Runs", shows="quality-report-summary-demo")
    page.wait("document.querySelector('canvas')", "the task-run graph", settle=3)
    page.shot(out / "ui-flow-run.png")

    page.tab("Artifacts", shows="restoration-report")
    page.scroll_to("Flow run", above=80)
    page.shot(out / "ui-artifacts-tab.png")

    page.tab("Logs", shows="camera_gaussian: noise gaussian sigma=")
    # Taller, from the tabs down: the first item's lines and camera_gaussian's noise line.
    page.resize(SIZE[0], 1300)
    page.scroll_to("Job Variables", above=8)
    line = "camera_gaussian: noise gaussian sigma="
    if page.js(f"{page.innermost(line)}.getBoundingClientRect().bottom > innerHeight - 40"):
        page.scroll_to(line, above=1300 - 160)
    page.shot(out / "ui-logs.png")
    page.resize(*SIZE)

    for key, shows in (("restoration-report", "Restoration of 6 item(s)"), ("quality-report", "psnr (dB)"),
                       ("noise-profile", "sigma (input units)")):
        page.open(f"{ui}/artifacts/artifact/{runs['artifacts'][key]}", shows=shows)
        # A table wider than the page scrolls sideways: widen the view to show every column.
        extra = page.js("Math.max(0, ...[...document.querySelectorAll('table')].map(t => "
                        "t.scrollWidth - t.parentElement.clientWidth))") or 0
        if extra:
            page.resize(SIZE[0] + extra + 40, SIZE[1] - 150)
            time.sleep(1.5)
        page.shot(out / f"ui-artifact-{key}.png")
        page.resize(*SIZE)

    page.open(f"{ui}/runs/flow-run/{bad.id}", shows=bad.name)
    page.tab("Task Runs", shows="failed-corrupt")
    page.wait("document.querySelector('canvas')", "the task-run graph", settle=3)
    page.shot(out / "ui-failed-run.png")

    page.open(f"{ui}/runs/task-run/{runs['failed_task'].id}", shows="failed-corrupt")
    page.wait("document.body.innerText.includes('Failed')", "the failed task run's state")
    page.shot(out / "ui-failed-task-run.png")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("make_screenshots.py: no chromium on PATH (.ci/install-chromium.sh installs it)")
    # SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C, through the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    root = Path(tempfile.mkdtemp(prefix="ui-"))
    procs = ProcessGroups()
    page = None
    try:
        home = root / "prefect-home"
        home.mkdir()
        url, env = start_server(procs, home)
        print(f"prefect server: {url} (home {home})")
        restore(procs, env, ["data/noisy", "-o", str(root / "demo"), "--reference", "data/clean"], expect=0)
        indir, refdir = failing_inputs(root)
        restore(procs, env, [str(indir), "-o", str(root / "with-failure"), "--reference", str(refdir)], expect=2)
        runs = find_runs(url)
        profile = root / "chromium"
        profile.mkdir()
        page = Page(procs, chromium, profile)
        screenshots(page, url.removesuffix("/api"), runs, out)
    finally:
        if page:
            page.close()
        procs.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
