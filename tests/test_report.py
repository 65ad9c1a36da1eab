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

import numpy as np
import pytest
from PIL import Image
from skimage import data, filters
from skimage.feature import match_template
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from restoration.report import images, plots, scalebars
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
    assert all(max(t.size) <= images.MAX_SIDE for t in thumbs)
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
    assert any(t.size == (images.DETAIL_SIDE, images.DETAIL_SIDE) for t in thumbs)



def test_subsampled_plane_shows_full_size_and_given_crops():
    rng = np.random.default_rng(1)
    full = rng.normal(size=(3000, 4000))
    crop = np.full((images.DETAIL_SIDE, images.DETAIL_SIDE), 7.0)
    item = ReportItem("huge", "ok", noisy=full[::2, ::2], restored=full[::2, ::2] * 0.5, full_size=(3000, 4000),
                      crops=(crop, crop * 0.5, None))
    html = render_report([item], {})
    assert "4000×3000" in html and "2000×1500" not in html
    crops = [t for t in _thumbnails(html) if t.size == (images.DETAIL_SIDE, images.DETAIL_SIDE)]
    assert len(crops) == 2 and html.count("1:1 crop") == 4               # alt text and caption, x2
    assert all(np.ptp(np.asarray(t)) == 0 for t in crops)                 # the given crops, not the planes'


def test_as_plane_shapes():
    assert images.as_plane(None) is None
    assert images.as_plane(np.zeros((4, 5, 4))).shape == (4, 5, 3)      # alpha dropped
    assert images.as_plane(np.zeros((4, 5, 1))).shape == (4, 5)
    assert images.as_plane(np.zeros((7, 4, 5))).shape == (4, 5)         # a stray stack: middle plane
    assert images.as_plane(np.zeros((2, 7, 4, 5, 3))).shape == (4, 5, 3)


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
    svg = plots.histogram_svg(np.random.default_rng(0).normal(size=1000), [], "")
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


# --------------------------------------------------------------------------------------------------
# Labels, method, glossary
# --------------------------------------------------------------------------------------------------

def test_residual_statistic_is_named_for_what_it_is(report):
    _, html = report
    # quality.csv's residual_sigma is a noise estimate of the restored data, not of noisy − restored.
    assert "Residual σ" not in html and "noisy − restored)" not in html.split("Noise left")[0][-200:]
    assert html.count("Noise left in output (σ est.)") >= 3          # camera, astronaut, glossary
    assert "Noise left (σ est.)" in html                             # summary column
    assert "residual (std" not in html and "noisy − restored (std " in html   # histogram legend
    assert "Removed noise: noisy − restored" in html


def test_method_label_says_what_ran():
    diffusion = {"denoiser": "diffusion"}
    assert method_label(diffusion, {"denoiser": "diffusion", "options": {"method": "mmse", "samples": 4,
                                                                          "steps": 20}}) \
        == "posterior × 4 samples (mean), 20 steps"
    assert method_label(diffusion, {"denoiser": "diffusion", "method": "mmse", "samples": 4}) \
        == "posterior × 4 samples (mean)"                             # older provenance
    assert method_label(diffusion, {"options": {"method": "ddim", "steps": 3, "ensemble": True}}) \
        == "ddim, 3 steps, 8-fold self-ensemble"
    assert method_label({"denoiser": "diffusion", "method": "mmse"}) == "mmse (one-step estimate)"
    assert method_label({"denoiser": "diffusion", "options": "method=posterior samples=3"}) \
        == "posterior × 3 samples (mean)"                             # quality.csv's options column
    assert method_label({"denoiser": "nlm", "method": "mmse"}, {"denoiser": "nlm", "method": "mmse",
                                                                "options": {"h": 0.1}}) == ""


def test_report_shows_method_run_and_none_for_other_denoisers(items):
    cam = items[0]
    posterior = ReportItem("p", "ok", noisy=cam.noisy, restored=cam.restored, quality={"denoiser": "diffusion",
                                                                                        "method": "mmse"},
                           provenance={"denoiser": "diffusion", "options": {"method": "mmse", "samples": 4},
                                       "identity": {"model_id": "default.pt@sha256:dacd7f31"}})
    nlm = ReportItem("n", "ok", noisy=cam.noisy, restored=cam.restored,
                     quality={"denoiser": "nlm", "method": "mmse"}, provenance={"denoiser": "nlm", "method": "mmse"})
    html = render_report([posterior, nlm], {})
    p_sec, n_sec = html.split('id="item-1"')
    assert "denoiser: diffusion (posterior × 4 samples (mean))" in p_sec
    assert "<th>Method</th><td>posterior × 4 samples (mean)</td>" in p_sec and "mmse" not in p_sec.split("Provenance")[0]
    assert "<th>Model</th><td>default.pt@sha256:dacd7f31</td>" in p_sec
    assert "<th>Method</th>" not in n_sec and "denoiser: nlm ·" not in n_sec and "(mmse" not in n_sec


def test_glossary_explains_the_metrics(report):
    _, html = report
    glossary = html[html.index('id="glossary"'):]
    for term in ("PSNR vs reference", "SSIM vs reference", "Noise left in output (σ est.)", "Noisy − restored",
                 "Error: restored − reference", "Noise model, σ", "residual_sigma"):
        assert term in glossary, term


# --------------------------------------------------------------------------------------------------
# Error map, channels, scale bars, crops
# --------------------------------------------------------------------------------------------------

def _figures_of(html: str, kind: str) -> list[Image.Image]:
    """Thumbnails of the figures of one kind (``data-kind``: noisy, restored, error, crop, ...)."""
    found = re.findall(rf'<figure data-kind="{kind}"><div class="pic"><img src="data:image/png;base64,'
                       r'([A-Za-z0-9+/=]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(m))) for m in found]


def test_error_map_is_diverging_and_symmetric():
    ref = np.tile(np.linspace(0.0, 1.0, 64), (48, 1))
    err = np.tile(np.linspace(-0.2, 0.2, 64), (48, 1))                 # too dark left, too bright right
    item = ReportItem("e", "ok", noisy=ref + 0.1, restored=ref + err, reference=ref)
    html = render_report([item], {})
    (emap,) = _figures_of(html, "error")
    rgb = np.asarray(emap.convert("RGB"), dtype=float)
    left, mid, right = rgb[:, :4].mean((0, 1)), rgb[:, 30:34].mean((0, 1)), rgb[:, -4:].mean((0, 1))
    assert left[2] > left[0] + 60 and right[0] > right[2] + 60        # blue below, red above
    assert mid.min() > 200                                            # zero is near white
    sec = html[html.index('data-kind="error"'):]
    lo, hi = re.findall(r'font-size="11"[^>]*>(-?[0-9.e+-]+)</text>', sec[:sec.index("</figure>")])
    assert float(lo) == -float(hi) and 0.18 < float(hi) <= 0.2
    assert "Error: restored − reference" in html
    # Without a reference there is none.
    assert 'data-kind="error"' not in render_report([ReportItem("n", "ok", noisy=ref, restored=ref)], {})


def test_multichannel_data_gets_one_grey_panel_per_channel():
    rng = np.random.default_rng(3)
    four = rng.random((40, 50, 4))
    item = ReportItem("fluo", "ok", noisy=four, restored=four * 0.9, reference=four, rgb=False,
                      channel_names=["DAPI", "GFP", "mCherry", "Cy5"])
    html = render_report([item], {})
    for c, name in enumerate(("DAPI", "GFP", "mCherry", "Cy5")):
        assert f'<h4 class="channel">channel {c} · {name}</h4>' in html
    noisy = _figures_of(html, "noisy")
    assert len(noisy) == 4 and all(t.mode == "L" for t in noisy)      # grey, not a colour composite
    assert len(_figures_of(html, "error")) == 4 and len(_figures_of(html, "difference")) == 4
    assert html.count("Display range per channel") == 1
    # Two channels without a colour flag, and three marked not colour, are channels too.
    two = render_report([ReportItem("two", "ok", noisy=four[..., :2], restored=four[..., :2])], {})
    assert two.count('<h4 class="channel">') == 2 and len(_figures_of(two, "noisy")) == 2
    three = render_report([ReportItem("three", "ok", noisy=four[..., :3], restored=four[..., :3], rgb=False)], {})
    assert three.count('<h4 class="channel">') == 3
    colour = render_report([ReportItem("rgb", "ok", noisy=four[..., :3], restored=four[..., :3], rgb=True)], {})
    assert '<h4 class="channel">' not in colour and _figures_of(colour, "noisy")[0].mode == "RGB"


def test_scale_bar_from_pixel_size():
    assert scalebars.scale_bar(0.5, "micrometer", 256) == pytest.approx((20 / 128, "20 µm"))
    assert scalebars.scale_bar(0.065, "µm", 2048)[1] == "20 µm"
    assert scalebars.scale_bar(2.5, "nm", 400)[1] == "200 nm"
    assert scalebars.scale_bar(0.002, "millimeter", 1000)[1] == "200 µm"
    assert scalebars.scale_bar(0.005, "millimeter", 1000)[1] == "1 mm"
    assert scalebars.scale_bar(1.0, "inch", 100) is None                    # dpi is a print setting
    assert scalebars.scale_bar(1.0, None, 100) is None and scalebars.scale_bar(None, "nm", 100) is None
    assert scalebars.scale_bar(0.0, "nm", 100) is None

    plane = np.random.default_rng(0).random((100, 256))
    html = render_report([ReportItem("s", "ok", noisy=plane, restored=plane, reference=plane,
                                     pixel_size=0.5, unit="micrometer")], {})
    bars = re.findall(r'<span class="scalebar" style="width:([0-9.]+)%"><span>([^<]+)</span>', html)
    assert bars == [("15.6250", "20 µm")] * 3                          # noisy, restored, reference
    assert "<th>Pixel size (x)</th><td>0.5 µm</td>" in html
    assert 'class="scalebar"' not in render_report([ReportItem("s", "ok", noisy=plane, restored=plane)], {})
    inch = render_report([ReportItem("s", "ok", noisy=plane, restored=plane, pixel_size=0.01, unit="inch")], {})
    assert 'class="scalebar"' not in inch and "<th>Pixel size (x)</th><td>0.01 inch</td>" in inch


def test_scale_bar_of_a_subsampled_plane_uses_the_full_width():
    rng = np.random.default_rng(1)
    full = rng.normal(size=(1500, 2000))
    item = ReportItem("huge", "ok", noisy=full[::4, ::4], restored=full[::4, ::4], full_size=(1500, 2000),
                      crops=(full[:192, :192], full[:192, :192], None), pixel_size=0.1, unit="µm")
    html = render_report([item], {})
    bars = re.findall(r'<span class="scalebar" style="width:([0-9.]+)%"><span>([^<]+)</span>', html)
    # 2000 px x 0.1 µm = 200 µm wide: a 20 µm bar (10 %); the 192 px crops are 19.2 µm: 2 µm (10.4 %).
    assert bars[:2] == [("10.0000", "20 µm")] * 2
    assert bars[2:] == [(f"{100 * 2 / 19.2:.4f}", "2 µm")] * 2


def test_detail_window_finds_the_textured_region():
    rng = np.random.default_rng(2)
    plane = np.full((300, 400), 0.5) + rng.normal(0, 0.01, (300, 400))
    plane[200:260, 30:100] += rng.normal(0, 1.0, (60, 70))              # the detail
    y, x = images.detail_window(plane, 96)
    assert y <= 200 and y + 96 >= 260 and x <= 30 and x + 96 >= 100
    assert images.detail_window(np.zeros((300, 400)), 96) == (102, 152)     # flat: the centre
    hot = np.zeros((300, 400))
    hot[5, 5] = 1e6                                                     # one hot pixel does not decide
    hot[150:200, 300:350] = rng.normal(0, 1.0, (50, 50))
    y, x = images.detail_window(hot, 96)
    assert x + 96 >= 350 and x <= 300
    assert images.detail_window(plane, 96) == images.detail_window(plane.copy(), 96)   # deterministic


def test_crop_of_a_large_plane_lands_on_detail():
    rng = np.random.default_rng(4)
    plane = np.zeros((600, 900))
    plane[450:560, 700:850] = rng.normal(0, 1.0, (110, 150))
    html = render_report([ReportItem("big", "ok", noisy=plane, restored=plane)], {})
    crops = _figures_of(html, "crop")
    assert len(crops) == 2 and np.asarray(crops[0]).std() > 20          # not the flat centre
    y, x = (int(v) for v in re.search(r"1:1 crop at x (\d+)–\d+, y (\d+)", html).groups()[::-1])
    assert 450 - images.DETAIL_SIDE < y <= 450 + 110 and 700 - images.DETAIL_SIDE < x <= 850


# --------------------------------------------------------------------------------------------------
# Stacks
# --------------------------------------------------------------------------------------------------

def _stack_item(n: int = 12, reference: bool = True) -> ReportItem:
    """A z-stack whose plane z is offset by z / 10 (so each plane's images differ)."""
    rng = np.random.default_rng(5)
    clean = np.stack([np.tile(np.linspace(0, 1, 64), (48, 1)) + z / 10 for z in range(n)])
    noisy = clean + rng.normal(0, 0.05, clean.shape)
    restored = clean + rng.normal(0, 0.01, clean.shape)
    planes, current, full = views.read_planes({"noisy": noisy, "restored": restored,
                                               "reference": clean if reference else None, "std": None}, "zyx")
    return ReportItem("stack", "ok", planes=planes, current=current, full_size=full, stack_size=n,
                      noise={"noise": "gaussian", "sigma": 0.05}, pixel_size=0.5, unit="micrometer",
                      quality={"denoiser": "diffusion", "psnr": 40.0, "ssim": 0.99, "residual_sigma": 0.01},
                      provenance={"denoiser": "diffusion", "options": {"method": "mmse", "samples": 4}})


def test_stack_shows_labelled_planes_one_at_a_time():
    item = _stack_item()
    html = render_report([item], {})
    planes = re.findall(r'<div class="plane" data-plane="(\d+)" data-label="([^"]+)"( hidden)?>', html)
    assert [label for _, label, _ in planes] == ["z = 0", "z = 1", "z = 3", "z = 4", "z = 6", "z = 7", "z = 8",
                                                 "z = 10", "z = 11"]
    assert [i for i, _, hidden in planes if not hidden] == ["4"]        # z = 6 of 12, the middle
    assert html.count('class="planehist" data-plane=') == 9
    nav = html[html.index('<div class="stacknav"'):]
    assert '<span class="plane-label">z = 6</span>' in nav and "5 / 9 shown · stack of 12 planes" in nav
    assert "<th>Planes</th><td>12 (9 shown)</td>" in html
    # Shared display range: the brighter planes are brighter thumbnails.
    noisy = [np.asarray(t, dtype=float).mean() for t in _figures_of(html, "noisy")]
    assert noisy == sorted(noisy) and noisy[-1] > noisy[0] + 30
    # A single plane of a stack is labelled too.
    one = ReportItem("z1", "ok", planes=[ReportPlane(noisy=item.planes[0].noisy, restored=item.planes[0].restored,
                                                       label="z = 3")], stack_size=40)
    assert 'Plane: <span class="plane-label">z = 3</span> of a stack of 40' in render_report([one], {})


def test_stack_report_size_stays_moderate():
    rng = np.random.default_rng(6)
    noisy = rng.random((30, 400, 400)).astype(np.float32)
    planes, current, full = views.read_planes({"noisy": noisy, "restored": noisy * 0.5, "reference": noisy,
                                               "std": None}, "zyx")
    html = render_report([ReportItem("s", "ok", planes=planes, current=current, full_size=full, stack_size=30)], {})
    # 9 planes x (noisy, restored, reference, difference, error) of pure noise, 1:1 crops: under 12 MB.
    assert len(planes) == 9 and len(html) < 12e6


# --------------------------------------------------------------------------------------------------
# Driven in a real browser (Chrome DevTools Protocol)
# --------------------------------------------------------------------------------------------------

class Browser:
    """Headless Chromium driven over the DevTools Protocol: load a page, evaluate, click."""

    def __init__(self, workdir: Path, size: tuple[int, int] = (1400, 1600)):
        from websockets.sync.client import connect

        if not CHROMIUM.exists():
            pytest.fail(f"{CHROMIUM} is missing: run .ci/install-chromium.sh "
                        f"({REPO / '.ci' / 'install-chromium.sh'}) to install Debian's chromium")
        profile = workdir / "cdp-profile"
        shutil.rmtree(profile, ignore_errors=True)
        self.proc = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--force-device-scale-factor=1", "--remote-debugging-port=0",
             f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                pytest.fail("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30)
        self.n, self.events = 0, []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params):
        self.n += 1
        self.ws.send(json.dumps({"id": self.n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=60))
            if msg.get("id") == self.n:
                assert "error" not in msg, msg
                return msg["result"]
            self.events.append(msg)

    def open(self, path: Path) -> None:
        self.events.clear()
        self.send("Page.navigate", url=path.resolve().as_uri())
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            self.events.append(json.loads(self.ws.recv(timeout=60)))

    def eval(self, expression: str):
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in res, res["exceptionDetails"]
        return res["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the element."""
        box = self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                        "e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
                        "return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)

    def key(self, key: str) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key=key, code=key, windowsVirtualKeyCode=27)

    def problems(self) -> list[str]:
        """Console errors, exceptions and Content-Security-Policy violations seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails")))
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning"):
                out.append(str(p.get("args")))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                out.append(p["entry"].get("text", ""))
        return out

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("cdp"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def live_report(items, tmp_path_factory) -> Path:
    """A report with a z-stack (reference, pixel size, posterior samples), a 2-channel fluorescence
    item, the camera item (reference, std) and a failed one."""
    rng = np.random.default_rng(7)
    two = np.stack([items[0].reference, items[0].reference[::-1]], axis=-1)
    fluo = ReportItem("fluo", "ok", noisy=two + rng.normal(0, 0.1, two.shape), restored=two, rgb=False,
                      channel_names=["DAPI", "GFP"], quality={"denoiser": "nlm"})
    return write_report(tmp_path_factory.mktemp("live") / "report.html",
                        [_stack_item(), fluo, items[0], items[2]], RUN)


def _visible(selector: str) -> str:
    return (f"Array.from(document.querySelectorAll({json.dumps(selector)}))"
            ".filter(e => e.offsetParent !== null)")


def test_browser_stack_navigation(browser, live_report):
    browser.open(live_report)
    stack = "#item-0 div.stack"
    label = f"document.querySelector('{stack} .plane-label').textContent"
    shown = f"{_visible(f'{stack} .plane')}.map(e => e.dataset.label)"
    assert browser.eval(f"getComputedStyle(document.querySelector('{stack} .stacknav')).display") == "flex"
    assert browser.eval(label) == "z = 6" and browser.eval(shown) == ["z = 6"]
    first = browser.eval(f"{_visible(f'{stack} .plane img')}[0].src")
    browser.click(f"{stack} button.next")
    assert browser.eval(label) == "z = 7" and browser.eval(shown) == ["z = 7"]
    assert browser.eval(f"{_visible(f'{stack} .plane img')}[0].src") != first      # other images
    assert browser.eval(f"{_visible(f'{stack} .planehist')}.length") == 1
    assert browser.eval(f"document.querySelector('{stack} .plane-pos').textContent").startswith("6 / 9")
    for _ in range(5):                                                  # stops at the last plane
        browser.click(f"{stack} button.next")
    assert browser.eval(label) == "z = 11"
    assert browser.eval(f"document.querySelector('{stack} button.next').disabled") is True
    browser.click(f"{stack} button.prev")
    assert browser.eval(label) == "z = 10"
    browser.eval(f"(() => {{ const s = document.querySelector('{stack} input.plane-slider'); s.value = 0;"
                 "s.dispatchEvent(new Event('input')); })()")
    assert browser.eval(label) == "z = 0" and browser.eval(shown) == ["z = 0"]
    assert browser.eval(f"document.querySelector('{stack} button.prev').disabled") is True
    assert browser.problems() == []                                      # the script ran under the CSP


def test_browser_error_map_labels_and_scale_bars(browser, live_report):
    browser.open(live_report)
    # The error map of the plane shown, and of the camera item: drawn, with its colour scale.
    errors = browser.eval(f"{_visible('figure[data-kind=error]')}.map(f => [f.querySelector('img').complete,"
                          "f.querySelector('img').naturalWidth, f.querySelector('figcaption').innerText,"
                          "f.querySelector('svg.colorbar').getBoundingClientRect().width])")
    assert len(errors) == 2
    for complete, width, caption, bar in errors:
        assert complete and width > 0 and caption.startswith("Error: restored − reference") and bar == 200
    text = browser.eval("document.body.innerText")
    assert "Noise left in output (σ est.)" in text and "Residual σ" not in text
    assert "posterior × 4 samples (mean)" in text
    assert "channel 0 · DAPI" in text and "channel 1 · GFP" in text
    assert "Glossary" in text
    # Scale bars: 64 px at 0.5 µm is 32 µm wide; a 5 µm bar is 5/32 of the image as rendered.
    bars = browser.eval(f"{_visible('#item-0 .scalebar')}.map(b => [b.getBoundingClientRect().width,"
                        "b.parentElement.querySelector('img').getBoundingClientRect().width, b.innerText])")
    assert len(bars) == 3
    for bar, img, label in bars:
        assert label == "5 µm" and bar / img == pytest.approx(5 / 32, abs=0.01)
    assert browser.problems() == []


def test_browser_click_enlarges(browser, live_report):
    browser.open(live_report)
    box = "document.querySelector('.lightbox')"
    assert browser.eval(f"{box}.hidden") is True
    small = browser.eval("document.querySelector('#item-2 figure[data-kind=noisy] img').getBoundingClientRect().width")
    browser.click("#item-2 figure[data-kind=noisy] img")
    assert browser.eval(f"{box}.hidden") is False
    big = browser.eval(f"{box}.querySelector('img').getBoundingClientRect().width")
    assert big > 2 * small
    assert "Noisy input" in browser.eval(f"{box}.innerText")
    browser.key("Escape")
    assert browser.eval(f"{box}.hidden") is True
    browser.click("#item-0 .plane:not([hidden]) figure[data-kind=restored] img")   # the bar comes along
    assert browser.eval(f"{box}.querySelector('.scalebar').innerText") == "5 µm"
    browser.click(".lightbox")
    assert browser.eval(f"{box}.hidden") is True
    assert browser.problems() == []
