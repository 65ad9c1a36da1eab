"""SVG plots for the HTML report, drawn without a plotting library: colour bars and histograms.

The SVG is written here as text and inlined in the page; nothing refers to an external URL, font
or script, so ``report.html`` renders offline and can be mailed or archived as one file.
matplotlib is deliberately not a dependency: the core library should stay light, and these few
figures do not need it.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from html import escape

import numpy as np

from .images import VIRIDIS, sample_values


def fmt_num(x: float, digits: int = 3) -> str:
    """Short number for axis labels: ``digits`` significant figures, ``0`` for tiny values."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    return f"{x:.{digits}g}"


def colorbar_svg(lo: float, hi: float, label: str, width: int = 240, lut: np.ndarray = VIRIDIS,
                 uid: str = "") -> str:
    """A horizontal colour bar as inline SVG, labelled with the range ends.

    `uid` tells apart bars of equal content: a gradient referenced from another bar that lies in a
    hidden element (a plane of a stack not shown) would not be drawn.
    """
    stops = "".join(
        f'<stop offset="{i / 8:.3f}" stop-color="rgb({r},{g},{b})"/>'
        for i, (r, g, b) in enumerate(lut[np.linspace(0, 255, 9).round().astype(int)])
    )
    # An id per bar (HTML ids are unique), derived from its content so that the same inputs
    # always give the same bytes; hash() of a str is salted per process.
    gid = f"cb{zlib.crc32(repr((lo, hi, label, width, lut.tobytes(), uid)).encode()):08x}"
    return (
        f'<svg class="colorbar" width="{width}" height="34" viewBox="0 0 {width} 34" '
        f'role="img" aria-label="{escape(label)}">'
        f'<defs><linearGradient id="{gid}">{stops}</linearGradient></defs>'
        f'<rect x="0" y="0" width="{width}" height="12" fill="url(#{gid})"/>'
        f'<text x="0" y="27" font-size="11">{escape(fmt_num(lo))}</text>'
        f'<text x="{width / 2:.0f}" y="27" font-size="11" text-anchor="middle">{escape(label)}</text>'
        f'<text x="{width}" y="27" font-size="11" text-anchor="end">{escape(fmt_num(hi))}</text>'
        "</svg>"
    )


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick positions (1, 2, 2.5, 5 x 10^k steps) covering ``[lo, hi]``."""
    span = hi - lo
    if not span > 0:
        return [lo]
    raw = span / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        t += step
    return ticks


def gaussian_mixture_pdf(x: np.ndarray, sigmas: Sequence[float]) -> np.ndarray:
    """Density of an equal-weight mixture of zero-mean Gaussians (one per channel)."""
    out = np.zeros_like(x, dtype=np.float64)
    for s in sigmas:
        out += np.exp(-0.5 * (x / s) ** 2) / (s * math.sqrt(2 * math.pi))
    return out / len(sigmas)


def histogram_svg(residual: np.ndarray, sigmas: Sequence[float] = (), model_label: str = "",
                  bins: int = 61, width: int = 460, height: int = 240) -> str:
    """Histogram of a residual as inline SVG, with a Gaussian model density overlaid.

    Parameters
    ----------
    residual : numpy.ndarray
        ``noisy - restored`` (the noise the restoration removed, plus any signal it removed) in
        input units, any shape; non-finite values are ignored.
    sigmas : sequence of float
        Standard deviations of the zero-mean Gaussian(s) to overlay (one per channel, averaged as
        a mixture since the channels are pooled in one histogram). Empty: histogram only.
    model_label : str
        Legend text of the overlay.
    bins : int
        Number of bins; odd, so that zero sits in the middle of a bin.
    width, height : int
        Size of the SVG in pixels.

    Returns
    -------
    str
        An ``<svg>`` element. The y axis is a probability density over *all* finite residuals,
        so the bars and the model curve are directly comparable; residuals outside the plotted
        range are counted in a note rather than piled into the edge bins.
    """
    r = residual.reshape(-1)
    r = r[np.isfinite(r)]
    sigmas = [float(s) for s in sigmas if s is not None and math.isfinite(s) and s > 0]
    if r.size == 0:
        return '<p class="note">No finite residual values to plot.</p>'
    sample = sample_values(r)
    mad = float(np.median(np.abs(sample - np.median(sample)))) * 1.4826
    if sigmas:
        # Centre on the model: +-4 sigma of the widest component shows the bulk and the shoulders.
        half = 4.0 * max(sigmas)
    else:
        p_lo, p_hi = np.percentile(sample, (0.5, 99.5))
        half = 1.15 * max(abs(float(p_lo)), abs(float(p_hi)), 4.0 * mad)
    if not half > 0:
        half = float(np.abs(r).max()) or 1.0
    edges = np.linspace(-half, half, bins + 1)
    counts, _ = np.histogram(r, bins=edges)
    bw = edges[1] - edges[0]
    density = counts / (r.size * bw)
    outside = r.size - int(counts.sum())

    xs = np.linspace(-half, half, 241)
    pdf = gaussian_mixture_pdf(xs, sigmas) if sigmas else None
    ymax = max(float(density.max()), float(pdf.max()) if pdf is not None else 0.0) * 1.08 or 1.0

    ml, mr, mt, mb = 54, 14, 30, 44   # margins: room for y labels, legend above, x labels below
    pw, ph = width - ml - mr, height - mt - mb

    def sx(v: float) -> float:
        return ml + (v + half) / (2 * half) * pw

    def sy(v: float) -> float:
        return mt + ph - v / ymax * ph

    parts = [
        f'<svg class="hist" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="Histogram of noisy − restored">',
        f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#d0d7de"/>',
    ]
    for x in _nice_ticks(-half, half):
        px = sx(x)
        parts.append(f'<line x1="{px:.1f}" y1="{mt}" x2="{px:.1f}" y2="{mt + ph}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{px:.1f}" y="{mt + ph + 15}" font-size="11" '
                     f'text-anchor="middle">{escape(fmt_num(x))}</text>')
    for y in _nice_ticks(0.0, ymax, 4):
        py = sy(y)
        parts.append(f'<text x="{ml - 5}" y="{py + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{escape(fmt_num(y))}</text>')
    bars = []
    for i, d in enumerate(density):
        if d <= 0:
            continue
        x0, y0 = sx(edges[i]), sy(d)
        bars.append(f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{max(pw / bins - 0.6, 0.5):.2f}" '
                    f'height="{mt + ph - y0:.2f}"/>')
    parts.append(f'<g fill="#6e8fb8">{"".join(bars)}</g>')
    if pdf is not None:
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(xs, pdf))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#d1495b" stroke-width="2"/>')
    parts.append(f'<text x="{ml + pw / 2:.0f}" y="{height - 8}" font-size="11" '
                 f'text-anchor="middle">noisy − restored (input units)</text>')
    parts.append(f'<text x="12" y="{mt + ph / 2:.0f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {mt + ph / 2:.0f})">density</text>')
    # Legend above the plot area.
    std = float(np.std(r))
    parts.append(f'<rect x="{ml}" y="9" width="12" height="10" fill="#6e8fb8"/>'
                 f'<text x="{ml + 16}" y="18" font-size="11">noisy − restored (std {escape(fmt_num(std, 4))})</text>')
    if pdf is not None:
        lx = ml + pw * 0.48
        parts.append(f'<line x1="{lx:.0f}" y1="14" x2="{lx + 14:.0f}" y2="14" stroke="#d1495b" '
                     f'stroke-width="2"/><text x="{lx + 18:.0f}" y="18" font-size="11">'
                     f'{escape(model_label)}</text>')
    if outside:
        parts.append(f'<text x="{ml + pw - 4}" y="{mt + 14}" font-size="10" text-anchor="end" '
                     f'fill="#57606a">{100.0 * outside / r.size:.2g}% outside ±{escape(fmt_num(half))}</text>')
    parts.append("</svg>")
    return "".join(parts)
