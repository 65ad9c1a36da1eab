"""Planes as PNG thumbnails for the HTML report: display ranges, colour maps, the 1:1 detail window.

Thumbnails are PNGs encoded by Pillow and embedded as base64 ``data:`` URIs, so ``report.html``
refers to no external image. Grey and colour planes are mapped linearly from a robust display
range; difference, error and uncertainty maps through a colour map (:data:`VIRIDIS`,
:data:`DIVERGING`) into palette images.
"""

from __future__ import annotations

import base64
import io

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
