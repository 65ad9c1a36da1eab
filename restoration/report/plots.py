"""Images and plots for the HTML report, drawn without a plotting library.

Thumbnails are PNGs encoded by Pillow and embedded as base64 ``data:`` URIs; histograms and colour
bars are SVG written here. Nothing refers to an external URL, font or script, so ``report.html``
renders offline and can be mailed or archived as one file. matplotlib is deliberately not a
dependency: the core library should stay light, and these few figures do not need it.
"""

from __future__ import annotations

import base64
import io
import math
import zlib
from collections.abc import Sequence
from html import escape

import numpy as np

from ..planning import centre_window

#: Longest side, in pixels, of a thumbnail (the contract of the report's figures).
MAX_SIDE = 384
#: Side of the 1:1 centre crop shown when a thumbnail had to be reduced, so noise stays visible.
DETAIL_SIDE = 192
#: Thumbnails smaller than this are enlarged on screen (pixelated) so small arrays stay legible.
MIN_DISPLAY_SIDE = 192
#: Robust display range: these percentiles of the noisy plane map to black and white.
DISPLAY_PERCENTILES = (0.5, 99.5)

# Nine samples of matplotlib's viridis (perceptually uniform, colour-blind safe, prints in grey);
# linear interpolation between them is within a couple of levels of the real 256-entry map.
_VIRIDIS_ANCHORS = np.array([
    (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 145, 140),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37),
], dtype=np.float64)


def _build_lut(anchors: np.ndarray, n: int = 256) -> np.ndarray:
    """Interpolate colour anchors into an ``(n, 3)`` uint8 lookup table."""
    t = np.linspace(0.0, 1.0, len(anchors))
    s = np.linspace(0.0, 1.0, n)
    lut = np.stack([np.interp(s, t, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


#: ``(256, 3)`` uint8 viridis-like colour map used for difference and uncertainty maps.
VIRIDIS = _build_lut(_VIRIDIS_ANCHORS)
#: Colour for pixels without a value (NaN): a neutral grey that is not in the colour map.
_NAN_RGB = np.array([128, 128, 128], dtype=np.uint8)


# --------------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------------

def as_plane(a: np.ndarray | None) -> np.ndarray | None:
    """Reduce an array to one displayable float plane.

    Parameters
    ----------
    a : numpy.ndarray or None
        Normally already a plane, ``(y, x)`` or ``(y, x, 3)``; the host picks the middle z/t plane.

    Returns
    -------
    numpy.ndarray or None
        ``(y, x)`` or ``(y, x, 3)`` float64, or None when `a` is None or has no pixels. A trailing
        axis of 3 or 4 entries is colour (alpha dropped), of 1 entry is squeezed; any other extra
        leading axis is cut at its middle, so a stray stack still shows instead of failing the report.
    """
    if a is None:
        return None
    a = np.asarray(a)
    if a.size == 0 or a.ndim == 0:
        return None
    if np.iscomplexobj(a):
        a = np.abs(a)
    a = a.astype(np.float64, copy=False)
    if a.ndim == 1:
        a = a[np.newaxis, :]
    while a.ndim > 2:
        if a.ndim == 3 and a.shape[-1] in (3, 4):
            return a[..., :3]
        if a.ndim == 3 and a.shape[-1] == 1:
            return a[..., 0]
        a = a[a.shape[0] // 2]
    return a


def _sample(values: np.ndarray, limit: int = 1 << 20) -> np.ndarray:
    """Finite values of `values`, strided down to about `limit` of them.

    Percentiles of a regular subsample are accurate to far better than a display level, and keep
    the report fast on planes of tens of megapixels.
    """
    flat = values.reshape(-1)
    if flat.size > limit:
        flat = flat[:: flat.size // limit + 1]
    return flat[np.isfinite(flat)]


def display_range(plane: np.ndarray,
                  percentiles: tuple[float, float] = DISPLAY_PERCENTILES) -> tuple[float, float]:
    """Robust ``(lo, hi)`` display range of a plane, all channels pooled.

    Pooling the channels keeps an RGB image's colour balance; a flat or empty plane still gets a
    non-empty range so the mapping never divides by zero.
    """
    v = _sample(plane)
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = (float(x) for x in np.percentile(v, percentiles))
    if not hi > lo:
        lo, hi = float(v.min()), float(v.max())
    if not hi > lo:
        hi = lo + 1.0
    return lo, hi


def to_uint8(plane: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` linearly to ``0..255`` (clipped); NaN becomes 0."""
    scaled = (plane - lo) * (255.0 / (hi - lo))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def colorize(values: np.ndarray, lo: float, hi: float, lut: np.ndarray = VIRIDIS) -> np.ndarray:
    """Apply a colour map to a 2-D array; returns ``(y, x, 3)`` uint8, NaN shown grey."""
    idx = to_uint8(values, lo, hi)
    rgb = lut[idx]
    rgb[~np.isfinite(values)] = _NAN_RGB
    return rgb


def magnitude(plane: np.ndarray) -> np.ndarray:
    """Per-pixel scalar of a plane: itself, or the mean over colour channels."""
    return plane.mean(axis=-1) if plane.ndim == 3 else plane


def thumbnail(u8: np.ndarray, max_side: int = MAX_SIDE):
    """A Pillow image of `u8`, reduced so its longest side is at most `max_side`.

    The reduction averages over boxes: unlike Lanczos it cannot ring or overshoot, so it never
    invents structure in a denoising report.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(u8), mode="RGB" if u8.ndim == 3 else "L")
    w, h = img.size
    if max(w, h) > max_side:
        scale = max_side / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = img.resize(size, resample=Image.Resampling.BOX)
    return img


def center_crop(plane: np.ndarray, side: int = DETAIL_SIDE) -> np.ndarray:
    """The central ``side x side`` window of a plane (or all of it along a shorter axis)."""
    rows, cols = centre_window(plane.shape[0], plane.shape[1], side)
    return plane[rows, cols]


def png_data_uri(img) -> str:
    """Encode a Pillow image as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------------------

def fmt_num(x: float, digits: int = 3) -> str:
    """Short number for axis labels: ``digits`` significant figures, ``0`` for tiny values."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    return f"{x:.{digits}g}"


def colorbar_svg(lo: float, hi: float, label: str, width: int = 240, lut: np.ndarray = VIRIDIS) -> str:
    """A horizontal colour bar as inline SVG, labelled with the range ends."""
    stops = "".join(
        f'<stop offset="{i / 8:.3f}" stop-color="rgb({r},{g},{b})"/>'
        for i, (r, g, b) in enumerate(lut[np.linspace(0, 255, 9).round().astype(int)])
    )
    # An id per bar (HTML ids are unique), derived from its content so that the same inputs
    # always give the same bytes; hash() of a str is salted per process.
    gid = f"cb{zlib.crc32(repr((lo, hi, label, width)).encode()):08x}"
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
        ``noisy - restored`` in input units, any shape; non-finite values are ignored.
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
    sample = _sample(r)
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
        f'role="img" aria-label="Residual histogram">',
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
                 f'text-anchor="middle">residual, noisy − restored (input units)</text>')
    parts.append(f'<text x="12" y="{mt + ph / 2:.0f}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {mt + ph / 2:.0f})">density</text>')
    # Legend above the plot area.
    std = float(np.std(r))
    parts.append(f'<rect x="{ml}" y="9" width="12" height="10" fill="#6e8fb8"/>'
                 f'<text x="{ml + 16}" y="18" font-size="11">residual (std {escape(fmt_num(std, 4))})</text>')
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
