"""The self-contained HTML quality report (``OUTDIR/report.html``).

One file, no external resources: thumbnails are inline base64 PNGs, plots inline SVG, styles inline
CSS, one small inline script (stepping through the planes of a stack, click to enlarge), and a
Content-Security-Policy forbids the browser from fetching anything else or running any other
script. The report opens offline, survives being mailed or archived, and cannot leak data by
loading a URL.

The host (the ``quality-report`` stage) builds one :class:`ReportItem` per input item, from the
arrays it has at hand and the item's ``noise.csv``/``quality.csv`` rows, and calls
:func:`write_report`. Rendering never modifies the arrays it is given.

This module is the document (summary table, run parameters, glossary, the atomic write); each
item's section is :mod:`.sections`, the inline style sheet and script :mod:`.assets`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from ..store.files import is_url, make_dirs, write_text_atomic
from .assets import CSP, CSS, SCRIPT
from .items import ReportItem, ReportPlane
from .sections import NOISE_LEFT, item_section
from .values import fmt, noise_summary, num, one_line, text, to_json

__all__ = ["ReportItem", "ReportPlane", "render_report", "write_report"]


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
     "With several posterior samples (<code>--samples</code> over 1): an error bar for the restored image (the "
     "samples' mean) at each pixel, from the samples' variance averaged over 5 x 5 pixels. Their own spread "
     "understates the error (a few samples, a model surer than it should be), so it is calibrated: the row <em>Uncertainty</em> names the table used, fitted per "
     "noise model (Gaussian; Poisson and camera counts), noise level and sample count on held-out validation "
     "photographs. On the frozen test set (pictures never trained, fitted or decided on; "
     "<code>benchmarks/results/uncertainty.md</code>) with 8 samples the truth lay within ±1 std for 69 to 78 % "
     "of the pixels and within ±2 std for 92 to 95 % (a Gaussian error bar: 68 % and 95 %; the raw spread: 46 "
     "to 53 % and 74 to 82 %), depending on the noise and the picture. <code>--uncertainty spread</code> writes the samples' spread instead."),
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
        *(item_section(i, it) for i, it in enumerate(items)),
        _glossary(),
    ]
    title = "Restoration report" + (f" — {run['outdir']}" if run.get("outdir") else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + f"\n<script>{SCRIPT}</script>\n</body></html>\n")


def write_report(path: str | Path, items: list[ReportItem], run: dict) -> Path | str:
    """Write the HTML report atomically.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination, normally ``OUTDIR/report.html`` (a local path, or an fsspec URL when OUTDIR
        is on object storage); local parent directories are created.
    items : list of ReportItem
        One per input item.
    run : dict
        Run parameters; see :func:`render_report`.

    Returns
    -------
    pathlib.Path or str
        `path` (the URL as given on object storage). A reader (or a crash) never sees a half-written report
        (:func:`restoration.store.files.write_text_atomic`).
    """
    html = render_report(items, run)
    make_dirs(os.path.dirname(str(path)) or ".")
    write_text_atomic(path, html)
    return str(path) if is_url(path) else Path(path)
