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
#: Side of the 1:1 crop shown when a thumbnail had to be reduced, so noise stays visible; it is taken
#: where the plane has the most detail (:func:`detail_window`).
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

# ColorBrewer's RdBu, reversed: negative blue, zero near-white, positive red (colour-blind safe).
_RDBU_ANCHORS = np.array([
    (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
    (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
], dtype=np.float64)
#: ``(256, 3)`` uint8 diverging colour map of signed errors (restored − reference), used with
#: symmetric limits so that white is zero.
DIVERGING = _build_lut(_RDBU_ANCHORS)
#: Colour for pixels without a value (NaN): a neutral grey that is not in the colour map.
_NAN_RGB = np.array([128, 128, 128], dtype=np.uint8)


# --------------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------------

def as_plane(a: np.ndarray | None, rgb: bool | None = None) -> np.ndarray | None:
    """Reduce an array to one displayable float plane.

    Parameters
    ----------
    a : numpy.ndarray or None
        Normally already a plane, ``(y, x)`` or ``(y, x, c)``; the host picks the z/t planes.
    rgb : bool or None
        Whether a channel axis is colour. None: 3 or 4 channels are colour (alpha dropped), and
        another small trailing axis (fewer entries than either side of the plane) is channels.
        False: any trailing axis of a 3-d array is channels.

    Returns
    -------
    numpy.ndarray or None
        ``(y, x)``, ``(y, x, 3)`` (colour) or ``(y, x, c)`` (channels) float64, or None when `a` is
        None or has no pixels. A trailing axis of 1 entry is squeezed; any other extra leading
        axis is cut at its middle, so a stray stack still shows instead of failing the report.
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
        if a.ndim == 3:
            c = a.shape[-1]
            if c == 1:
                return a[..., 0]
            if rgb is not False and c in (3, 4):
                return a[..., :3]
            if rgb is False or c < min(a.shape[:2]):
                return a
        a = a[a.shape[0] // 2]
    return a


def is_colour(plane: np.ndarray, rgb: bool | None = None) -> bool:
    """Whether a plane from :func:`as_plane` is shown as one colour image (else grey or channels)."""
    return plane.ndim == 3 and plane.shape[-1] == 3 and rgb is not False


def sample_values(values: np.ndarray, limit: int = 1 << 20) -> np.ndarray:
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
    v = sample_values(plane)
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


def map_thumbnail(values: np.ndarray, lo: float, hi: float, lut: np.ndarray = VIRIDIS, max_side: int = MAX_SIDE):
    """A colour-mapped thumbnail of a 2-D array as a palette ("P") Pillow image.

    The values are box-averaged first and then mapped (averaging colours would show colours of no
    value), and a palette image takes a third of the bytes of RGB: the maps are most of a report's
    size. NaN is shown grey; the map has 255 levels, palette entry 255 being that grey.
    """
    from PIL import Image

    v = np.asarray(values, dtype=np.float32)
    h, w = v.shape
    if max(w, h) > max_side:
        scale = max_side / max(w, h)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        v = np.asarray(Image.fromarray(np.ascontiguousarray(v), mode="F").resize(size, resample=Image.Resampling.BOX))
    scaled = np.nan_to_num((v - lo) * (254.0 / (hi - lo)), nan=0.0, posinf=254.0, neginf=0.0)
    idx = np.clip(np.rint(scaled), 0, 254).astype(np.uint8)
    idx[~np.isfinite(v)] = 255
    img = Image.fromarray(idx, mode="P")
    palette = lut[np.linspace(0, len(lut) - 1, 255).round().astype(int)]
    img.putpalette(np.concatenate([palette, _NAN_RGB[np.newaxis]]).astype(np.uint8).tobytes())
    return img


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


def detail_window(plane: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left ``(row, column)`` of the ``side x side`` window of `plane` with the most detail.

    Detail is gradient energy, ``|grad|^2`` summed over the window (channels averaged first), with
    each pixel's share capped at the plane's 99th percentile so that one hot pixel or a cut edge
    does not decide. A flat plane gives the centre window, and of windows with equal detail the one
    nearest the centre wins. Summed-area tables make this a few passes over the plane, and it is
    deterministic.

    Parameters
    ----------
    plane : numpy.ndarray
        ``(y, x)`` or ``(y, x, c)``; NaN counts as the plane's mean.
    side : int
        Window side (clipped to the plane).
    """
    p = magnitude(np.asarray(plane, dtype=np.float64))
    h, w = p.shape
    sh, sw = min(side, h), min(side, w)
    centre = (max(0, (h - sh) // 2), max(0, (w - sw) // 2))
    if (sh, sw) == (h, w) or min(h, w) < 2:
        return centre
    finite = np.isfinite(p)
    if not finite.any():
        return centre
    p = np.where(finite, p, float(p[finite].mean()))
    gy, gx = np.gradient(p)
    energy = gx * gx + gy * gy
    cap = float(np.percentile(sample_values(energy), 99.0))
    if cap > 0:
        energy = np.minimum(energy, cap)
    if not energy.max() > 0:
        return centre
    sat = np.zeros((h + 1, w + 1))
    sat[1:, 1:] = energy.cumsum(axis=0).cumsum(axis=1)
    sums = sat[sh:, sw:] - sat[:-sh, sw:] - sat[sh:, :-sw] + sat[:-sh, :-sw]
    # Of the windows as detailed as the best (to rounding), the one nearest the centre: evenly
    # textured planes keep their centre crop.
    yy, xx = np.ogrid[:sums.shape[0], :sums.shape[1]]
    dist = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    tied = np.where(sums >= sums.max() * (1 - 1e-9), dist, np.iinfo(np.int64).max)
    y, x = np.unravel_index(int(np.argmin(tied)), tied.shape)
    return int(y), int(x)


def png_data_uri(img) -> str:
    """Encode a Pillow image as a ``data:image/png;base64,...`` URI."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------------------------------
# Scale bars
# --------------------------------------------------------------------------------------------------

_SI = {"yocto": 1e-24, "zepto": 1e-21, "atto": 1e-18, "femto": 1e-15, "pico": 1e-12, "nano": 1e-9,
       "micro": 1e-6, "milli": 1e-3, "centi": 1e-2, "deci": 1e-1, "": 1.0, "deca": 1e1, "hecto": 1e2,
       "kilo": 1e3, "mega": 1e6, "giga": 1e9}
#: Metres per unit of the metric lengths a pixel size may be given in: OME-Zarr names
#: (``micrometer``), symbols (``µm``, ``um``, ``nm``, ``Å``) and ``micron``. Inches and other
#: non-metric units get no scale bar: a TIFF's resolution in dots per inch is mostly a print
#: setting (72 dpi by default), not the size of what a pixel saw.
LENGTH_UNITS = ({p + "meter": f for p, f in _SI.items()}
                | {"pm": 1e-12, "nm": 1e-9, "µm": 1e-6, "um": 1e-6, "mm": 1e-3, "cm": 1e-2, "m": 1.0,
                   "km": 1e3, "micron": 1e-6, "angstrom": 1e-10, "å": 1e-10})
_BAR_UNITS = ((1e3, "km"), (1.0, "m"), (1e-3, "mm"), (1e-6, "µm"), (1e-9, "nm"), (1e-12, "pm"))


def metres_per_unit(unit: str | None) -> float | None:
    """Metres in one `unit` (see :data:`LENGTH_UNITS`), or None when it is not a known length."""
    if not isinstance(unit, str):
        return None
    text = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").replace("\u03bc", "µ")
    word = text.lower().replace("metre", "meter")
    for name in (text, word, word[:-1] if word.endswith("s") else word):
        if name in LENGTH_UNITS:
            return LENGTH_UNITS[name]
    return None


def unit_symbol(unit: str | None) -> str:
    """``µm`` for ``micrometer`` (or ``um``, ``micron``...): the symbol of a metric length, else the
    unit as given."""
    per = metres_per_unit(unit)
    for factor, symbol in _BAR_UNITS + ((1e-10, "Å"),):
        if per is not None and math.isclose(per, factor):
            return symbol
    return str(unit or "")


def format_length(metres: float) -> str:
    """``10 µm``, ``500 nm``, ``2 mm``: a length in the largest unit that keeps it at least 1."""
    for factor, symbol in _BAR_UNITS:
        if metres >= factor * (1 - 1e-9):
            return f"{metres / factor:.3g} {symbol}"
    return f"{metres / 1e-12:.3g} pm"


def scale_bar(pixel_size: float | None, unit: str | None, width_px: int,
              fraction: float = 0.2) -> tuple[float, str] | None:
    """A round scale bar for an image `width_px` full-resolution pixels wide.

    Parameters
    ----------
    pixel_size : float or None
        Width of one pixel, in `unit`.
    unit : str or None
        A length unit (:func:`metres_per_unit`).
    width_px : int
        Width of the image, in pixels of that size.
    fraction : float
        The bar is the largest 1, 2 or 5 x 10^k length not over this fraction of the width.

    Returns
    -------
    (float, str) or None
        The bar's length as a fraction of the image width, and its label (``"10 µm"``); None when
        the size or unit is unknown.
    """
    per = metres_per_unit(unit)
    try:
        size = float(pixel_size)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if per is None or not (math.isfinite(size) and size > 0) or width_px <= 0:
        return None
    total = width_px * size * per
    target = total * fraction
    mag = 10.0 ** math.floor(math.log10(target))
    bar = max(m * mag for m in (1, 2, 5) if m * mag <= target * (1 + 1e-9))
    return bar / total, format_length(bar)


# --------------------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------------------

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
