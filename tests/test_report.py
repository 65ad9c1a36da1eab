"""Tests of the self-contained HTML report (restoration.report).

The report is checked as text (self-contained, the expected numbers, labels, escaping), as rendered
by a real headless Chromium, whose screenshot must show the embedded thumbnails (validated against
a negative control: the same report with its images removed must fail it), and as a page driven
through the Chrome DevTools Protocol: its DOM after real clicks (stepping through a stack, the
lightbox), the scale bars' rendered widths, the error map, the labels, and no script error or
Content-Security-Policy violation.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from skimage import data, filters
from skimage.feature import match_template
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restoration.report import plots as rp
from restoration.report import ReportItem, ReportPlane, render_report, write_report
from restoration.report import views
from restoration.report.figures import model_overlay
from restoration.report.values import method_label

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
DATA_URI = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
#: Index of the astronaut's noisy thumbnail among the fixture report's thumbnails.
ASTRONAUT = 6


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def items() -> list[ReportItem]:
    """A grey item with a reference and an uncertainty map, an RGB item, and a failed item."""
    rng = np.random.default_rng(1234)
    clean = data.camera()[60:260, 130:386].astype(np.float64) / 255.0          # 200 x 256
    noisy = clean + rng.normal(0.0, 0.1, clean.shape)
    restored = filters.gaussian(noisy, sigma=1.2)
    std = np.abs(filters.gaussian(noisy - restored, sigma=2.0)) + 0.01

    rgb_clean = data.astronaut()[20:200, 120:360].astype(np.float64) / 255.0   # 180 x 240 x 3
    rgb_noisy = rgb_clean + rng.normal(0.0, 0.08, rgb_clean.shape)
    rgb_restored = filters.gaussian(rgb_noisy, sigma=1.0, channel_axis=-1)

    return [
        ReportItem(
            name="camera", status="ok", noisy=noisy, restored=restored, reference=clean, std=std,
            noise={"noise": "gaussian", "sigma": 0.1, "score": 0.8765, "clipped_fraction": 0.0,
                   "missing_fraction": 0.0},
            quality={"psnr": peak_signal_noise_ratio(clean, restored, data_range=1.0),
                     "ssim": structural_similarity(clean, restored, data_range=1.0),
                     "residual_sigma": float(np.std(noisy - restored)), "seconds": 1.234,
                     "denoiser": "diffusion", "method": "mmse"},
            provenance={"source": "data/camera.npy", "seed": 0, "complete": True},
        ),
        ReportItem(
            name="astronaut", status="ok", noisy=rgb_noisy, restored=rgb_restored,
            noise={"noise": "gaussian", "sigma": [0.08, 0.08, 0.08]},
            quality={"residual_sigma": float(np.std(rgb_noisy - rgb_restored)), "seconds": 0.5,
                     "denoiser": "nlm", "method": "mmse"},
        ),
        ReportItem(
            name="bad<b>&item", status="failed",
            error="InputError: data/bad.tif: not a TIFF file <header 0x00>\nTraceback (hidden)",
            quality={"seconds": 0.02},
        ),
    ]


RUN = {"inputs": ["data/*.npy"], "outdir": "out/demo", "noise": "auto", "denoiser": "diffusion",
       "method": "mmse", "steps": 20, "samples": 4, "model": "builtin:unet-0.9m", "seed": 0,
       "version": "0.1.0", "started": "2025-01-01T10:00:00", "finished": "2025-01-01T10:00:02",
       "summary": {"ok": 2, "failed": 1}}


@pytest.fixture(scope="module")
def report(items, tmp_path_factory) -> tuple[Path, str]:
    path = write_report(tmp_path_factory.mktemp("report") / "out" / "report.html", items, RUN)
    return path, path.read_text(encoding="utf-8")


def _thumbnails(html: str) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(m))) for m in DATA_URI.findall(html)]


# --------------------------------------------------------------------------------------------------
# The HTML text
# --------------------------------------------------------------------------------------------------

def test_write_report_is_atomic_and_returns_path(report):
    path, html = report
    assert path.name == "report.html" and path.is_file()
    assert html.startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]   # no temp file left over


def test_report_is_self_contained(report):
    _, html = report
    assert "http://" not in html and "https://" not in html
    for attr, value in re.findall(r'\b(src|href)\s*=\s*"([^"]*)"', html):
        assert value.startswith("data:image/png;base64,") if attr == "src" else value.startswith("#")
    assert not re.search(r"<link|@import|url\((?!#)|<script[^>]*\bsrc", html, re.I)
    # One inline script, and the policy allows that one only (by its hash): nothing else can run.
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1 == len(re.findall(r"<script", html))
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1] and "unsafe-eval" not in csp


def test_report_images_and_numbers(report, items):
    _, html = report
    thumbs = _thumbnails(html)
    # camera: noisy, restored, reference, difference, error, std; astronaut: noisy, restored, difference.
    assert len(thumbs) == 9 == html.count("<img")
    assert all(max(t.size) <= rp.MAX_SIDE for t in thumbs)
    assert thumbs[0].mode == "L" and thumbs[ASTRONAUT].mode == "RGB"  # RGB is shown as colour
    cam, rgb, failed = items
    q = cam.quality
    for text in (f"{q['psnr']:.2f} dB", f"{q['ssim']:.4f}", f"{q['residual_sigma']:.4g}",
                 "1.23 s", "0.8765", f"{rgb.quality['residual_sigma']:.4g}"):
        assert text in html, text
    assert re.search(r"<b>2</b>ok", html) and re.search(r"<b>1</b>failed", html)
    assert "1.75 s" in html                                          # total seconds
    assert "builtin:unet-0.9m" in html and "<details>" in html       # run parameters
    assert "data/camera.npy" in html                                 # provenance
    assert html.count("<polyline") == 2                              # model density, both items
    assert "model N(0, σ²), σ = 0.08<" in html                       # equal channels shown once


def test_failed_item_shows_error_and_no_images(report):
    _, html = report
    section = html[html.index('id="item-2"'):]
    assert "<img" not in section and "<svg" not in section
    assert "InputError: data/bad.tif: not a TIFF file &lt;header 0x00&gt;" in section
    assert "Traceback" not in html                                   # one line only
    assert "bad&lt;b&gt;&amp;item" in html and "bad<b>" not in html  # names are escaped


def test_identical_display_range_for_all_three(items):
    # restored == noisy must give the very same thumbnail; a brighter reference a brighter one.
    cam = items[0]
    same = ReportItem("x", "ok", noisy=cam.noisy, restored=cam.noisy.copy(),
                      reference=cam.noisy + 0.05)
    a, b, c = (np.asarray(t, dtype=float) for t in _thumbnails(render_report([same], {}))[:3])
    assert np.array_equal(a, b)
    assert c.mean() > a.mean() + 5


def test_large_plane_is_reduced_with_full_resolution_crop():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(600, 1000))
    html = render_report([ReportItem("big", "ok", noisy=plane, restored=plane * 0.5)], {})
    thumbs = _thumbnails(html)
    assert thumbs[0].size == (384, 230)                               # aspect kept, longest 384
    assert "1:1 crop" in html and "centre crop" not in html
    assert any(t.size == (rp.DETAIL_SIDE, rp.DETAIL_SIDE) for t in thumbs)



def test_subsampled_plane_shows_full_size_and_given_crops():
    rng = np.random.default_rng(1)
    full = rng.normal(size=(3000, 4000))
    crop = np.full((rp.DETAIL_SIDE, rp.DETAIL_SIDE), 7.0)
    item = ReportItem("huge", "ok", noisy=full[::2, ::2], restored=full[::2, ::2] * 0.5, full_size=(3000, 4000),
                      crops=(crop, crop * 0.5, None))
    html = render_report([item], {})
    assert "4000×3000" in html and "2000×1500" not in html
    crops = [t for t in _thumbnails(html) if t.size == (rp.DETAIL_SIDE, rp.DETAIL_SIDE)]
    assert len(crops) == 2 and html.count("1:1 crop") == 4               # alt text and caption, x2
    assert all(np.ptp(np.asarray(t)) == 0 for t in crops)                 # the given crops, not the planes'


def test_as_plane_shapes():
    assert rp.as_plane(None) is None
    assert rp.as_plane(np.zeros((4, 5, 4))).shape == (4, 5, 3)      # alpha dropped
    assert rp.as_plane(np.zeros((4, 5, 1))).shape == (4, 5)
    assert rp.as_plane(np.zeros((7, 4, 5))).shape == (4, 5)         # a stray stack: middle plane
    assert rp.as_plane(np.zeros((2, 7, 4, 5, 3))).shape == (4, 5, 3)


def test_model_overlays():
    restored = np.full((10, 10), 4.0)
    sig, _, note = model_overlay({"noise": "poisson-gaussian", "gain": 0.5, "sigma": 1.0}, restored)
    assert sig == pytest.approx([np.sqrt(0.5 * 4.0 + 1.0)]) and "approximation" in note
    sig, _, _ = model_overlay({"noise": "poisson", "gain": 2.0}, restored)
    assert sig == pytest.approx([np.sqrt(8.0)])
    sig, _, _ = model_overlay({"noise": "speckle", "sigma": 0.1}, restored)
    assert sig == pytest.approx([0.4])
    sig, _, note = model_overlay({"noise": "salt-and-pepper", "amount": 0.05}, restored)
    assert sig == [] and "0.05" in note
    sig, _, note = model_overlay({"noise": "my-plugin-noise", "sigma": 1.0}, restored)
    assert sig == [] and "my-plugin-noise" in note
    svg = rp.histogram_svg(np.random.default_rng(0).normal(size=1000), [], "")
    assert svg.startswith("<svg") and "<polyline" not in svg


# --------------------------------------------------------------------------------------------------
# Rendered in a real browser
# --------------------------------------------------------------------------------------------------

def _screenshot(html_path: Path, workdir: Path) -> np.ndarray:
    """Render `html_path` in headless Chromium; return the screenshot as an RGB uint8 array."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/install-chromium.sh "
                    f"({REPO / '.ci' / 'install-chromium.sh'}) to install Debian's chromium")
    shot = workdir / "shot.png"
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--user-data-dir={workdir / 'profile'}",
           "--window-size=1400,2000", f"--screenshot={shot}", html_path.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert shot.is_file(), f"chromium wrote no screenshot (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return np.asarray(Image.open(shot).convert("RGB"))


def _best_match(screen: np.ndarray, thumb: Image.Image) -> tuple[float, tuple[int, int]]:
    """Peak normalized cross-correlation of a thumbnail (as grey) anywhere in the screenshot.

    The normalization makes the score independent of brightness and contrast; the location is
    the top-left corner of the best window.
    """
    grey = screen.astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    tmpl = np.asarray(thumb.convert("L"), dtype=np.float32)
    ncc = match_template(grey, tmpl)
    y, x = np.unravel_index(int(np.argmax(ncc)), ncc.shape)
    return float(ncc[y, x]), (int(y), int(x))


def _shown(screen: np.ndarray, thumb: Image.Image) -> tuple[bool, dict]:
    """Whether the screenshot shows `thumb` pixel for pixel, with the figures that decided it.

    Three conditions on the best-matching window: it correlates with the thumbnail (NCC), it
    varies like it (std within 20 %: a flat page or a blurred copy does not), and its values are
    the thumbnail's own (mean absolute difference of a few levels, in colour for RGB). The images
    are shown at natural size with a content-box border, so the browser does not resample them.
    """
    ncc, (y, x) = _best_match(screen, thumb)
    w, h = thumb.size
    expected = np.asarray(thumb.convert("RGB"), dtype=np.float64)
    region = screen[y:y + h, x:x + w].astype(np.float64)
    info = {"ncc": round(ncc, 4), "at": (y, x), "std_ratio": round(float(region.std() / expected.std()), 3),
            "mad": round(float(np.abs(region - expected).mean()), 2)}
    ok = info["ncc"] > 0.95 and 0.8 < info["std_ratio"] < 1.25 and info["mad"] < 6
    return ok, info


@pytest.fixture(scope="module")
def screenshots(report, tmp_path_factory):
    """Screenshots of the report and of a copy with every image removed (negative control)."""
    path, html = report
    shown = _screenshot(path, tmp_path_factory.mktemp("shot"))
    bare = path.with_name("no-images.html")
    bare.write_text(re.sub(r"<img [^>]*>", "", html), encoding="utf-8")
    blank = _screenshot(bare, tmp_path_factory.mktemp("shot-bare"))
    return shown, blank


def test_missing_chromium_fails_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-such-chromium")
    with pytest.raises(pytest.fail.Exception, match=r"run \.ci/install-chromium\.sh"):
        _screenshot(tmp_path / "report.html", tmp_path)


def test_chromium_shows_thumbnails(report, screenshots):
    _, html = report
    shown, blank = screenshots
    thumbs = _thumbnails(html)
    assert shown.shape[:2] == (2000, 1400)
    # Every thumbnail of both items (grey, colour map, RGB) is on screen, each in its own place.
    places = set()
    for idx, thumb in enumerate(thumbs):
        ok, info = _shown(shown, thumb)
        assert ok, f"thumbnail {idx} not shown: {info}"
        places.add(info["at"])
    assert len(places) == len(thumbs)
    # The check can fail: with the images removed nothing on the page passes it.
    for idx, thumb in enumerate(thumbs):
        ok, info = _shown(blank, thumb)
        assert not ok and info["ncc"] < 0.8, f"negative control passed for thumbnail {idx}: {info}"


def test_chromium_shows_rgb_in_colour(report, screenshots):
    _, html = report
    shown, _ = screenshots
    thumb = _thumbnails(html)[ASTRONAUT]
    assert thumb.mode == "RGB"
    _, (y, x) = _best_match(shown, thumb)
    w, h = thumb.size
    region = shown[y:y + h, x:x + w].astype(float)
    expected = np.asarray(thumb, dtype=float)
    # Coloured on screen (skin and hair: red well above blue), channel by channel as embedded.
    assert np.mean(region[..., 0] - region[..., 2]) > 10
    for c in range(3):
        assert np.abs(region[..., c] - expected[..., c]).mean() < 6
        assert np.corrcoef(region[..., c].ravel(), expected[..., c].ravel())[0, 1] > 0.95
