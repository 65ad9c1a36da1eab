"""The per-item sections of the HTML report: heading, stack navigation, figures, metrics table.

A section shows what is known about one :class:`ReportItem`: for an item that succeeded its planes
(figures from :func:`.figures.item_figures`, steppable for a stack), the histogram and its quality
and noise figures; for a failed one the error and whatever figures are known, never stale images.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from .figures import item_figures
from .items import ReportItem
from .scalebars import unit_symbol
from .values import fmt, method_label, noise_params, noise_summary, num, nums, one_line, text, to_json

#: The report's label of quality.csv's ``residual_sigma``: what it is, a noise estimate of the output.
NOISE_LEFT = "Noise left in output (σ est.)"


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
    if identity.get("std_calibration"):  # what the uncertainty map is (restoration.diffusion.uncertainty)
        rows.append(("Uncertainty", text(identity["std_calibration"])))
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


def item_section(idx: int, item: ReportItem) -> str:
    """The ``<section>`` of item number `idx` (its anchor ``item-IDX``, linked from the summary table)."""
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
