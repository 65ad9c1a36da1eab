"""The self-contained HTML quality report (``OUTDIR/report.html``).

One file, no external resources: thumbnails are inline base64 PNGs, plots inline SVG, styles inline
CSS, one small inline script (stepping through the planes of a stack, click to enlarge), and a
Content-Security-Policy forbids the browser from fetching anything else or running any other
script. The report opens offline, survives being mailed or archived, and cannot leak data by
loading a URL.

The host (the ``quality-report`` stage) builds one :class:`ReportItem` per input item, from the
arrays it has at hand and the item's ``noise.csv``/``quality.csv`` rows, and calls
:func:`write_report`. Rendering never modifies the arrays it is given.
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .figures import item_figures
from .items import ReportItem, ReportPlane
from .plots import unit_symbol
from .values import fmt, method_label, noise_params, noise_summary, num, nums, one_line, text, to_json

__all__ = ["ReportItem", "ReportPlane", "render_report", "write_report"]

#: The report's label of quality.csv's ``residual_sigma``: what it is, a noise estimate of the output.
NOISE_LEFT = "Noise left in output (σ est.)"


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------
def _pixel_size(item: ReportItem) -> str:
    """``0.5 µm``, in the unit it was given in (as a symbol), or ``""`` when unknown."""
    size = num(item.pixel_size)
    if size is None or not item.unit:
        return ""
    return escape(f"{size:.4g} {unit_symbol(item.unit)}")


def _metrics_table(item: ReportItem, only_known: bool = False) -> str:
    """Quality and noise figures of one item as a two-column table.

    With `only_known` (failed items) rows without a value are left out rather than dashed.
    """
    q, n = item.quality, item.noise
    has_ref = (item.reference is not None or any(v.reference is not None for v in item.planes)
               or nums(q.get("psnr")) or nums(q.get("ssim")))
    rows: list[tuple[str, str]] = []
    if has_ref:
        rows += [("PSNR vs reference", fmt(q.get("psnr"), ".2f", "dB")),
                 ("SSIM vs reference", fmt(q.get("ssim"), ".4f"))]
    else:
        rows.append(("PSNR / SSIM", "no reference given"))
    rows += [(f'<abbr title="wavelet estimate of the noise σ of the restored data (quality.csv: '
              f'residual_sigma); see the glossary">{NOISE_LEFT}</abbr>', fmt(q.get("residual_sigma"), ".4g")),
             ("Seconds", fmt(q.get("seconds"), ".2f", "s")),
             ("Denoiser", text(q.get("denoiser")))]
    method = method_label(q, item.provenance)
    if method:
        rows.append(("Method", method))
    identity = item.provenance.get("identity") if isinstance(item.provenance.get("identity"), Mapping) else {}
    if identity.get("model_id"):
        rows.append(("Model", text(identity["model_id"])))
    rows.append(("Noise model", text(n.get("noise") or q.get("noise"))))
    rows += [(f"Noise {escape(str(k))}", fmt(v)) for k, v in noise_params(n)]
    rows += [("Model score", fmt(n.get("score"))),
             ("Clipped fraction", fmt(n.get("clipped_fraction"), ".3g")),
             ("Missing fraction", fmt(n.get("missing_fraction"), ".3g"))]
    if item.stack_size and item.stack_size > 1:
        rows.append(("Planes", f"{item.stack_size} ({len(item.views())} shown)"))
    if _pixel_size(item):
        rows.append(("Pixel size (x)", _pixel_size(item)))
    if only_known:
        rows = [(k, v) for k, v in rows if v not in ("—", "no reference given")]
    if not rows:
        return ""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="metrics">{body}</table>'


def _stack_nav(labels: list[str], current: int, total: int | None) -> str:
    """Previous/next buttons and a slider over the planes shown (hidden until the script runs)."""
    n = len(labels)
    of = f" · stack of {total} planes" if total and total > n else ""
    return (f'<div class="stacknav" hidden><button type="button" class="prev" aria-label="previous plane">◀ prev</button>'
            f'<input type="range" class="plane-slider" min="0" max="{n - 1}" value="{current}" step="1" '
            f'aria-label="plane">'
            f'<button type="button" class="next" aria-label="next plane">next ▶</button>'
            f'<span class="plane-label">{escape(labels[current])}</span>'
            f'<span class="plane-pos dim">{current + 1} / {n} shown{of}</span></div>')


def _item_section(idx: int, item: ReportItem) -> str:
    ok = item.status == "ok"
    status = "ok" if ok else "failed"
    head = (f'<h2><span class="badge {status}">{escape(item.status or "?")}</span> '
            f"{escape(item.name)}</h2>")
    q = item.quality
    facts = []   # only what is known: a failed item's line should not be a row of dashes
    if item.noise.get("noise"):
        facts.append(f"noise: {noise_summary(item.noise)}")
    if q.get("denoiser"):
        method = method_label(q, item.provenance)
        facts.append(f"denoiser: {text(q.get('denoiser'))}" + (f" ({method})" if method else ""))
    if nums(q.get("seconds")):
        facts.append(fmt(q.get("seconds"), ".2f", "s"))
    meta = f'<p class="meta">{" · ".join(facts)}</p>' if facts else ""
    parts = [f'<section class="item {status}" id="item-{idx}">', head, meta]
    if ok:
        images, hists, note = item_figures(item, f"i{idx}")
        views = item.views()
        n = len(images)
        current = item.current if item.current is not None and 0 <= item.current < n else (n - 1) // 2
        labels = [v.label or f"plane {i}" for i, v in enumerate(views)][:n]

        def shown(i: int) -> str:
            return "" if i == current else " hidden"

        body = []
        if n > 1:
            body.append(_stack_nav(labels, current, item.stack_size))
        elif n == 1 and views[0].label:
            body.append(f'<p class="meta">Plane: <span class="plane-label">{escape(views[0].label)}</span>'
                        + (f" of a stack of {item.stack_size}" if item.stack_size and item.stack_size > 1 else "")
                        + "</p>")
        for i, html in enumerate(images):
            body.append(f'<div class="plane" data-plane="{i}" data-label="{escape(labels[i], quote=True)}"'
                        f"{shown(i)}>{html}</div>")
        body.append(note)
        hist = "".join(f'<div class="planehist" data-plane="{i}"{shown(i)}>{h}</div>'
                       for i, h in enumerate(hists) if h)
        body.append(f'<div class="row">{hist}{_metrics_table(item)}</div>')
        cls = "stack" if n > 1 else "single"
        parts.append(f'<div class="{cls}" data-planes="{max(n, 1)}" data-current="{current}">{"".join(body)}</div>')
    else:
        # A failed item's arrays may be partial or absent: show the reason, never stale images.
        parts.append(f'<div class="error" role="alert"><strong>Failed:</strong> '
                     f"{escape(one_line(item.error))}</div>")
        parts.append(_metrics_table(item, only_known=True))
    if item.provenance:
        parts.append(f"<details><summary>Provenance</summary><pre>{to_json(item.provenance)}</pre></details>")
    parts.append("</section>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------------
# Document
# --------------------------------------------------------------------------------------------------

_CSS = """
:root { color-scheme: light; --fg:#1f2328; --dim:#57606a; --line:#d0d7de; --bg:#f6f8fa;
        --ok:#1a7f37; --bad:#cf222e; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; color: var(--fg); background: #fff;
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 4px; word-break: break-all; }
h3 { font-size: 14px; margin: 8px 0 4px; }
.sub, .meta, .note, .dim { color: var(--dim); }
.note { font-size: 12px; margin: 4px 0 8px; }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; min-width: 120px;
        background: var(--bg); }
.card b { display: block; font-size: 22px; }
.card.bad b { color: var(--bad); } .card.good b { color: var(--ok); }
table { border-collapse: collapse; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
table.summary td.num, table.summary th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary tr.failed td { background: #fff5f5; }
table.metrics th { font-weight: 500; color: var(--dim); white-space: nowrap; }
table.metrics td { font-variant-numeric: tabular-nums; }
.item { border: 1px solid var(--line); border-radius: 10px; padding: 16px 20px; margin: 20px 0; }
.item.failed { border-color: var(--bad); }
.badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 10px;
         color: #fff; vertical-align: 2px; }
.badge.ok { background: var(--ok); } .badge.failed { background: var(--bad); }
.error { border-left: 4px solid var(--bad); background: #fff5f5; color: var(--bad);
         padding: 10px 14px; margin: 10px 0; font-size: 15px; word-break: break-word; }
.figures { display: flex; flex-wrap: wrap; gap: 14px; align-items: flex-start; margin: 10px 0 0; }
figure { margin: 0; }
/* content-box: with border-box the 1 px border would shrink the picture by 2 px and the browser
   would resample it, blurring exactly the noise the report is about. */
figure img { display: block; box-sizing: content-box; max-width: 100%; height: auto;
             border: 1px solid var(--line); background: #000; }
img.pixelated { image-rendering: pixelated; }
figcaption { font-size: 12px; color: var(--dim); margin-top: 3px; }
svg text { fill: var(--fg); font-family: inherit; }
.row { display: flex; flex-wrap: wrap; gap: 12px 32px; align-items: flex-start; }
.histwrap { max-width: 460px; }
.row table.metrics { margin-top: 30px; }
details { margin: 10px 0 0; } summary { cursor: pointer; color: var(--dim); }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px;
      overflow: auto; max-height: 420px; font-size: 12px; }
a { color: #0969da; text-decoration: none; } a:hover { text-decoration: underline; }
[hidden] { display: none !important; }
h4.channel { font-size: 13px; margin: 12px 0 2px; color: var(--dim); font-weight: 600; }
.pic { position: relative; display: inline-block; line-height: 0; }
img.zoom { cursor: zoom-in; }
.scalebar { position: absolute; right: 4%; bottom: 5%; height: 4px; background: #fff;
            box-shadow: 0 0 0 1px #000; pointer-events: none; }
.scalebar span { position: absolute; bottom: 7px; left: 50%; transform: translateX(-50%); color: #fff;
                 font-size: 11px; line-height: 1; white-space: nowrap;
                 text-shadow: 0 0 2px #000, 0 0 2px #000, 0 0 1px #000; }
.stacknav { display: flex; gap: 10px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
.stacknav button { font: inherit; padding: 2px 10px; border: 1px solid var(--line); border-radius: 6px;
                   background: var(--bg); cursor: pointer; }
.stacknav button:disabled { opacity: .45; cursor: default; }
.stacknav input[type=range] { width: 220px; }
.plane-label { font-weight: 600; font-variant-numeric: tabular-nums; }
.lightbox { position: fixed; inset: 0; z-index: 10; background: rgba(0, 0, 0, .85); display: flex;
            flex-direction: column; align-items: center; justify-content: center; cursor: zoom-out; }
.lightbox img { border-color: #555; max-width: none; }
.lightbox p { color: #eee; font-size: 13px; margin: 8px 0 0; }
.glossary dt { font-weight: 600; margin-top: 8px; }
.glossary dd { margin: 2px 0 0 16px; max-width: 900px; }
abbr { text-decoration: underline dotted; cursor: help; }
"""

# Stepping through the planes of a stack, and click to enlarge. Inline (the page loads nothing) and
# allowed by its hash in the Content-Security-Policy, so no other script could run.
_SCRIPT = """
(function () {
  "use strict";
  function show(stack, i) {
    var n = parseInt(stack.getAttribute("data-planes"), 10);
    i = Math.max(0, Math.min(n - 1, i));
    stack.setAttribute("data-current", String(i));
    stack.querySelectorAll("[data-plane]").forEach(function (el) {
      el.hidden = parseInt(el.getAttribute("data-plane"), 10) !== i;
    });
    var plane = stack.querySelector('.plane[data-plane="' + i + '"]');
    var label = stack.querySelector(".plane-label");
    if (plane && label) { label.textContent = plane.getAttribute("data-label"); }
    var pos = stack.querySelector(".plane-pos");
    if (pos) { pos.textContent = pos.textContent.replace(/^\\d+ \\/ \\d+/, (i + 1) + " / " + n); }
    stack.querySelector("input.plane-slider").value = String(i);
    stack.querySelector("button.prev").disabled = i === 0;
    stack.querySelector("button.next").disabled = i === n - 1;
  }
  document.querySelectorAll("div.stack").forEach(function (stack) {
    var current = function () { return parseInt(stack.getAttribute("data-current"), 10); };
    stack.querySelector(".stacknav").hidden = false;
    stack.querySelector("button.prev").addEventListener("click", function () { show(stack, current() - 1); });
    stack.querySelector("button.next").addEventListener("click", function () { show(stack, current() + 1); });
    stack.querySelector("input.plane-slider").addEventListener("input", function (e) {
      show(stack, parseInt(e.target.value, 10));
    });
    show(stack, current());
  });
  var box = document.createElement("div");
  box.className = "lightbox";
  box.hidden = true;
  box.setAttribute("role", "dialog");
  box.setAttribute("aria-label", "enlarged image");
  document.body.appendChild(box);
  function close() { box.hidden = true; box.textContent = ""; }
  box.addEventListener("click", close);
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { close(); } });
  document.querySelectorAll("img.zoom").forEach(function (img) {
    img.addEventListener("click", function () {
      var pic = img.closest(".pic").cloneNode(true);
      var big = pic.querySelector("img");
      var w = img.naturalWidth, h = img.naturalHeight;
      var k = Math.min((window.innerWidth - 48) / w, (window.innerHeight - 96) / h);
      if (k > 1) { k = Math.floor(k); big.classList.add("pixelated"); }
      big.width = Math.max(1, Math.round(w * k));
      big.height = Math.max(1, Math.round(h * k));
      big.classList.remove("zoom");
      var caption = document.createElement("p");
      var fig = img.closest("figure");
      var text = fig ? fig.querySelector("figcaption").textContent : img.alt;
      caption.textContent = text + (k > 1 ? " (shown " + k + "x, pixels enlarged)" : "") + " · click or Esc to close";
      box.textContent = "";
      box.appendChild(pic);
      box.appendChild(caption);
      box.hidden = false;
    });
  });
})();
"""

# The browser may load nothing but what is inline: images from data: URIs, inline styles, and the one
# script above (by its hash).
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
_CSP = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'"


def _summary(items: list[ReportItem]) -> str:
    n_ok = sum(1 for it in items if it.status == "ok")
    n_failed = len(items) - n_ok
    total = sum(num(it.quality.get("seconds")) or 0.0 for it in items)
    cards = (f'<div class="cards"><div class="card"><b>{len(items)}</b>items</div>'
             f'<div class="card good"><b>{n_ok}</b>ok</div>'
             f'<div class="card{" bad" if n_failed else ""}"><b>{n_failed}</b>failed</div>'
             f'<div class="card"><b>{total:.2f} s</b>total (sum of items)</div></div>')
    head = ("<tr><th>Item</th><th>Status</th><th>Noise</th><th class=num>PSNR (dB)</th><th class=num>SSIM</th>"
            '<th class=num><abbr title="wavelet estimate of the noise σ left in the restored data '
            '(quality.csv: residual_sigma); see the glossary">Noise left (σ est.)</abbr></th>'
            "<th class=num>Seconds</th><th>Error</th></tr>")
    rows = []
    for idx, it in enumerate(items):
        q = it.quality
        status = "ok" if it.status == "ok" else "failed"
        rows.append(
            f'<tr class="{status}"><td><a href="#item-{idx}">{escape(it.name)}</a></td>'
            f'<td><span class="badge {status}">{escape(it.status or "?")}</span></td>'
            f"<td>{noise_summary(it.noise)}</td>"
            f'<td class="num">{fmt(q.get("psnr"), ".2f")}</td>'
            f'<td class="num">{fmt(q.get("ssim"), ".4f")}</td>'
            f'<td class="num">{fmt(q.get("residual_sigma"), ".4g")}</td>'
            f'<td class="num">{fmt(q.get("seconds"), ".2f")}</td>'
            f"<td>{escape(one_line(it.error)) if status == 'failed' else ''}</td></tr>")
    return cards + f'<table class="summary">{head}{"".join(rows)}</table>'


def _run_table(run: Mapping[str, Any]) -> str:
    rows = []
    for k, v in run.items():
        if isinstance(v, (dict, list, tuple)) and not (isinstance(v, (list, tuple)) and len(v) <= 4
                                                      and all(np.isscalar(x) for x in v)):
            cell = f"<pre>{to_json(v)}</pre>"
        elif isinstance(v, (list, tuple)):
            cell = escape(", ".join(str(x) for x in v))
        else:
            cell = text(v)
        rows.append(f"<tr><th>{escape(str(k))}</th><td>{cell}</td></tr>")
    return f'<table class="metrics">{"".join(rows)}</table>'


#: The glossary at the end of the report: (term, explanation), explanations as HTML.
GLOSSARY = (
    ("PSNR vs reference",
     "Peak signal-to-noise ratio of the restored data against the clean reference, 10·log<sub>10</sub>(R² / MSE) "
     "in dB over every pixel of every plane. R is the data range: the full range of an integer input type "
     "(255 for 8-bit data), else the reference's max − min. Higher is better; +3 dB halves the mean squared error."),
    ("SSIM vs reference",
     "Structural similarity (Wang et al. 2004): local means, contrasts and correlation compared in an 11×11 "
     "Gaussian window (σ = 1.5), averaged over each plane without a 5-pixel border, then over planes. "
     "1 is identical; it weighs structure more than absolute error."),
    (NOISE_LEFT,
     "quality.csv's <code>residual_sigma</code>: an estimate of the Gaussian noise σ still in the <em>restored</em> "
     "data (wavelet median absolute deviation, Donoho &amp; Johnstone; scikit-image <code>estimate_sigma</code>), "
     "in input units, on up to 4 planes' central 1024×1024 crops, channels averaged. Lower means less noise "
     "left. It needs no reference, but removing fine texture lowers it too; it is not a statistic of "
     "noisy − restored."),
    ("Noisy − restored",
     "What the restoration took away (the histogram and the |restored − noisy| map). A good restoration takes "
     "away the noise and nothing else: the histogram then follows the noise model's density (its std close "
     "to the model's σ) and the map shows no structure of the scene."),
    ("Error: restored − reference",
     "The signed error of the restored data where a clean reference is given: red where it is brighter than "
     "the reference, blue where darker, white where equal; the colour scale is symmetric, ±99.5th "
     "percentile of |error| over the planes shown."),
    ("Noise model, σ",
     "The noise found in the input by the characterize-noise stage (noise.csv), per channel, in input units. "
     "gaussian: noisy = clean + N(0, σ²); poisson-gaussian: variance = gain · (signal − offset) + σ²; "
     "speckle: noisy = clean · (1 + σ·N(0, 1)); salt-and-pepper: a fraction <code>amount</code> of pixels "
     "replaced by the extremes."),
    ("Model score",
     "The fitted noise model's mean log-likelihood per pixel minus a BIC penalty for its parameters: the "
     "model with the highest score was chosen. Comparable between models of one item, not between items."),
    ("Clipped / missing fraction",
     "The fraction of the sampled pixels at the data's extremes (saturated or cut at zero), and of pixels "
     "without a value (NaN or infinite)."),
    ("Uncertainty (per-pixel std)",
     "With several posterior samples (<code>--samples</code> over 1): the standard deviation of the samples at "
     "each pixel; the restored image is their mean."),
)


def _glossary() -> str:
    items = "".join(f"<dt>{term}</dt><dd>{text_}</dd>" for term, text_ in GLOSSARY)
    return f'<section class="glossary" id="glossary"><h2>Glossary</h2><dl>{items}</dl></section>'


def render_report(items: Iterable[ReportItem], run: Mapping[str, Any]) -> str:
    """Render the report as one self-contained HTML document.

    Parameters
    ----------
    items : iterable of ReportItem
        One per input item, in the order to show them.
    run : mapping
        Run parameters (inputs, outdir, noise option, denoiser, method, steps, samples, model id,
        seed, package version, started/finished times, summary counts, ...). Shown as given, in
        a collapsible table; ``outdir``, ``version`` and ``finished`` also appear in the header.

    Returns
    -------
    str
        The HTML text. It references no external resource.
    """
    items = list(items)
    run = dict(run or {})
    sub = " · ".join(f"{escape(label)} {text(run[key])}" for key, label in
                     (("outdir", "output"), ("version", "restoration"), ("finished", "finished"))
                     if run.get(key) not in (None, ""))
    body = [
        "<h1>Restoration report</h1>",
        f'<p class="sub">{sub}</p>' if sub else "",
        _summary(items),
        f"<details><summary>Run parameters</summary>{_run_table(run)}</details>",
        *(_item_section(i, it) for i, it in enumerate(items)),
        _glossary(),
    ]
    title = "Restoration report" + (f" — {run['outdir']}" if run.get("outdir") else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + f"\n<script>{_SCRIPT}</script>\n</body></html>\n")


def write_report(path: str | Path, items: list[ReportItem], run: dict) -> Path:
    """Write the HTML report atomically.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination, normally ``OUTDIR/report.html``; parent directories are created.
    items : list of ReportItem
        One per input item.
    run : dict
        Run parameters; see :func:`render_report`.

    Returns
    -------
    pathlib.Path
        `path`. The file is written to a temporary name in the same directory and renamed over
        the destination, so a reader (or a crash) never sees a half-written report.
    """
    path = Path(path)
    html = render_report(items, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(html)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)   # mkstemp makes it 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
