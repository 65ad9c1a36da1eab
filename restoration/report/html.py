"""The self-contained HTML quality report (``OUTDIR/report.html``).

One file, no external resources: thumbnails are inline base64 PNGs, plots inline SVG, styles inline
CSS, and a Content-Security-Policy forbids the browser from fetching anything else. The report opens
offline, survives being mailed or archived, and cannot leak data by loading a URL.

The host (the ``quality-report`` stage) builds one :class:`ReportItem` per input item, from the
arrays it has at hand and the item's ``noise.csv``/``quality.csv`` rows, and calls
:func:`write_report`. Rendering never modifies the arrays it is given.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .figures import item_figures
from .values import fmt, noise_params, noise_summary, num, nums, one_line, text, to_json

__all__ = ["ReportItem", "render_report", "write_report"]

@dataclass
class ReportItem:
    """What the report shows for one input item.

    Parameters
    ----------
    name : str
        Item name (as in ``restored.zarr`` and the CSV files).
    status : str
        ``"ok"`` or ``"failed"``.
    error : str
        One-line error when failed.
    noisy, restored, reference : numpy.ndarray or None
        One representative plane, ``(y, x)`` or ``(y, x, 3)``, in input units (the host picks the
        middle z/t plane). Any may be None; a failed item shows no images whatever is given.
    std : numpy.ndarray or None
        Per-pixel uncertainty plane, when several samples were drawn.
    full_size : (int, int) or None
        ``(height, width)`` of the item's plane when the planes above are a subsample of it (the
        host subsamples planes too large to hold; sizes shown are the full ones).
    crops : tuple of (numpy.ndarray or None), or None
        Full-resolution centre crops of (noisy, restored, reference) for subsampled planes.
    noise : dict
        The item's noise.csv row(s) merged, e.g. ``{"noise": "gaussian", "sigma": 0.1,
        "score": ..., "clipped_fraction": ...}``. A parameter may be a sequence (one value per
        channel).
    quality : dict
        Its quality.csv row: ``psnr``, ``ssim``, ``residual_sigma``, ``seconds``, ``denoiser``,
        ``method`` (missing or NaN values show as a dash).
    provenance : dict
        The item's provenance (``attributes["restoration"]``), shown collapsed.
    """

    name: str
    status: str
    error: str = ""
    noisy: np.ndarray | None = None
    restored: np.ndarray | None = None
    reference: np.ndarray | None = None
    std: np.ndarray | None = None
    full_size: tuple[int, int] | None = None
    crops: tuple[np.ndarray | None, ...] | None = None
    noise: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------
def _metrics_table(item: ReportItem, only_known: bool = False) -> str:
    """Quality and noise figures of one item as a two-column table.

    With `only_known` (failed items) rows without a value are left out rather than dashed.
    """
    q, n = item.quality, item.noise
    has_ref = item.reference is not None or nums(q.get("psnr")) or nums(q.get("ssim"))
    rows: list[tuple[str, str]] = []
    if has_ref:
        rows += [("PSNR vs reference", fmt(q.get("psnr"), ".2f", "dB")),
                 ("SSIM vs reference", fmt(q.get("ssim"), ".4f"))]
    else:
        rows.append(("PSNR / SSIM", "no reference given"))
    rows += [("Residual σ (noisy − restored)", fmt(q.get("residual_sigma"), ".4g")),
             ("Seconds", fmt(q.get("seconds"), ".2f", "s")),
             ("Denoiser", text(q.get("denoiser"))),
             ("Method", text(q.get("method"))),
             ("Noise model", text(n.get("noise") or q.get("noise")))]
    rows += [(f"Noise {escape(str(k))}", fmt(v)) for k, v in noise_params(n)]
    rows += [("Model score", fmt(n.get("score"))),
             ("Clipped fraction", fmt(n.get("clipped_fraction"), ".3g")),
             ("Missing fraction", fmt(n.get("missing_fraction"), ".3g"))]
    if only_known:
        rows = [(k, v) for k, v in rows if v not in ("—", "no reference given")]
    if not rows:
        return ""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="metrics">{body}</table>'


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
        facts.append(f"denoiser: {text(q.get('denoiser'))}"
                     + (f" ({text(q.get('method'))})" if q.get("method") else ""))
    if nums(q.get("seconds")):
        facts.append(fmt(q.get("seconds"), ".2f", "s"))
    meta = f'<p class="meta">{" · ".join(facts)}</p>' if facts else ""
    parts = [f'<section class="item {status}" id="item-{idx}">', head, meta]
    if ok:
        images, hist = item_figures(item.noisy, item.restored, item.reference, item.std, item.noise,
                                    full_size=item.full_size, crops=item.crops)
        parts.append(images)
        parts.append(f'<div class="row">{hist}{_metrics_table(item)}</div>')
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
"""

# The browser may load nothing but what is inline: images from data: URIs, inline styles.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _summary(items: list[ReportItem]) -> str:
    n_ok = sum(1 for it in items if it.status == "ok")
    n_failed = len(items) - n_ok
    total = sum(num(it.quality.get("seconds")) or 0.0 for it in items)
    cards = (f'<div class="cards"><div class="card"><b>{len(items)}</b>items</div>'
             f'<div class="card good"><b>{n_ok}</b>ok</div>'
             f'<div class="card{" bad" if n_failed else ""}"><b>{n_failed}</b>failed</div>'
             f'<div class="card"><b>{total:.2f} s</b>total (sum of items)</div></div>')
    head = ("<tr><th>Item</th><th>Status</th><th>Noise</th><th class=num>PSNR (dB)</th>"
            "<th class=num>SSIM</th><th class=num>Residual σ</th><th class=num>Seconds</th>"
            "<th>Error</th></tr>")
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
    ]
    title = "Restoration report" + (f" — {run['outdir']}" if run.get("outdir") else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + "\n</body></html>\n")


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
