"""The per-item figures of the HTML report: thumbnails, difference, error and uncertainty maps, 1:1
crops where the plane has detail, scale bars, and the histogram of noisy − restored with the fitted
noise model's density overlaid. One set per plane shown (several for a stack), one grey panel per
channel for multi-channel data that is not colour."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from .images import (DETAIL_SIDE, DISPLAY_PERCENTILES, DIVERGING, MAX_SIDE, MIN_DISPLAY_SIDE, VIRIDIS, as_plane,
                     detail_window, display_range, is_colour, magnitude, map_thumbnail, png_data_uri, sample_values,
                     thumbnail, to_uint8)
from .items import ReportItem, ReportPlane
from .plots import colorbar_svg, fmt_num, histogram_svg
from .scalebars import scale_bar
from .values import fmt, nums

#: Channel panels shown at most per plane (the others are named in a note).
MAX_CHANNELS = 8
_KINDS = ("noisy", "restored", "reference", "std")
_LABELS = {"noisy": "Noisy input", "restored": "Restored", "reference": "Reference"}


def _img(uri: str, img, alt: str) -> str:
    """An ``<img>`` at natural size; small images are enlarged (pixelated) to stay legible. Click
    enlarges it (the report's script)."""
    w, h = img.size
    k = max(1, math.ceil(MIN_DISPLAY_SIDE / max(w, h)))
    cls = "zoom pixelated" if k > 1 else "zoom"
    return (f'<img src="{uri}" width="{w * k}" height="{h * k}" alt="{escape(alt)}" class="{cls}" '
            'title="click to enlarge">')


def _pic(img_html: str, bar: tuple[float, str] | None = None) -> str:
    """The image in a box that carries its scale bar (a fraction of the box, so it stays right
    when the image is shown larger)."""
    if bar is None:
        return f'<div class="pic">{img_html}</div>'
    fraction, label = bar
    return (f'<div class="pic">{img_html}<span class="scalebar" style="width:{100 * fraction:.4f}%">'
            f"<span>{escape(label)}</span></span></div>")


def _figure(content: str, caption: str, kind: str = "") -> str:
    data = f' data-kind="{kind}"' if kind else ""
    return f"<figure{data}>{content}<figcaption>{caption}</figcaption></figure>"


def _finite_mean(x: np.ndarray) -> float:
    """Mean of the finite values (0 when there are none, where nanmean would warn and give NaN)."""
    v = x[np.isfinite(x)]
    return float(v.mean()) if v.size else 0.0


def model_overlay(noise: Mapping[str, Any], restored: np.ndarray | None) -> tuple[list[float], str, str]:
    """Gaussian(s) approximating the fitted noise model's residual distribution.

    Returns
    -------
    sigmas : list of float
        Standard deviations of the zero-mean Gaussian(s) to overlay; empty for none.
    label : str
        Legend text.
    note : str
        Explanation shown under the plot when there is no overlay or it is an approximation.
    """
    model = str(noise.get("noise") or "").strip().lower()
    sig = nums(noise.get("sigma"))
    if model == "gaussian" and sig:
        # Per-channel values that agree are shown once.
        shown = sig if len(set(sig)) > 1 else sig[:1]
        label = "model N(0, σ²), σ = " + ", ".join(fmt_num(s, 4) for s in shown)
        return sig, label, ""
    if model in ("poisson", "poisson-gaussian"):
        gain = nums(noise.get("gain"))
        if gain and restored is not None:
            offset = float(np.mean(nums(noise.get("offset")) or [0.0]))
            mean_signal = _finite_mean(np.clip(restored - offset, 0.0, None))
            var = float(np.mean(gain)) * mean_signal + float(np.mean([s * s for s in sig] or [0.0]))
            if var > 0:
                return ([math.sqrt(var)], f"Gaussian approx., σ = {fmt_num(math.sqrt(var), 4)}",
                        "Overlay: Gaussian approximation of the signal-dependent noise with the "
                        "average variance gain · mean(restored) + σ²; the true residual is a "
                        "mixture, so heavier shoulders are expected.")
    if model == "speckle" and sig and restored is not None:
        # y = x (1 + sigma n): residual variance sigma^2 x^2, averaged over the plane.
        s = float(np.mean(sig)) * math.sqrt(_finite_mean(restored ** 2))
        if s > 0:
            return ([s], f"Gaussian approx., σ = {fmt_num(s, 4)}",
                    "Overlay: Gaussian with the average speckle variance σ² · mean(restored²).")
    if model == "salt-and-pepper":
        return [], "", ("Impulse noise: the residual is near zero except at the replaced pixels "
                        f"(amount = {fmt(noise.get('amount'))}); no density is overlaid.")
    if model:
        return [], "", f"No density overlay for noise model “{model}”."
    return [], "", "No noise model recorded; histogram only."


# --------------------------------------------------------------------------------------------------
# Ranges shared by every plane of the item
# --------------------------------------------------------------------------------------------------

def _pooled(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([sample_values(a, (1 << 20) // max(1, len(arrays))) for a in arrays]) \
        if arrays else np.zeros(0)


def _upper(arrays: list[np.ndarray]) -> float:
    """99.5th percentile of values >= 0 pooled over planes (the top of a map's colour scale)."""
    v = _pooled(arrays)
    hi = float(np.percentile(v, 99.5)) if v.size else 0.0
    if not hi > 0:
        hi = float(v.max()) if v.size else 0.0
    return hi if hi > 0 else 1.0


@dataclass
class _Channel:
    """One panel row: all channels (grey or colour) or one channel of multi-channel data."""

    index: int | None
    name: str
    lo: float = 0.0
    hi: float = 1.0
    dhi: float = 1.0     # |restored − noisy|
    ehi: float = 1.0     # |restored − reference|
    shi: float = 1.0     # std

    def take(self, a: np.ndarray | None) -> np.ndarray | None:
        """This row's values of a plane: its channel, or the whole plane."""
        if a is None or self.index is None:
            return a
        return a[..., self.index]

    def scalar(self, a: np.ndarray | None) -> np.ndarray | None:
        """One value per pixel for a map: the channel, or the mean over a colour plane's channels."""
        return None if a is None else magnitude(self.take(a))


def _channels(planes: list[dict], colour: bool, names) -> tuple[list[_Channel], str]:
    first = next(p[k] for p in planes for k in _KINDS if p[k] is not None)
    if first.ndim == 2 or colour:
        return [_Channel(None, "")], ""
    n = first.shape[-1]
    names = list(names) if names is not None and len(names) == n else [""] * n
    rows = [_Channel(c, f"channel {c}" + (f" · {names[c]}" if names[c] else "")) for c in range(min(n, MAX_CHANNELS))]
    note = (f"Channels {MAX_CHANNELS}–{n - 1} of {n} are not shown." if n > MAX_CHANNELS else "")
    return rows, note


def _fit_ranges(rows: list[_Channel], planes: list[dict]) -> None:
    """Display and map ranges per row, pooled over every plane: a grey level means one value in
    every plane of a stack."""
    for row in rows:
        basis = [row.take(p["noisy"] if p["noisy"] is not None else next(p[k] for k in _KINDS if p[k] is not None))
                 for p in planes if any(p[k] is not None for k in _KINDS)]
        row.lo, row.hi = display_range(_pooled(basis))
        same = [p for p in planes if _same(p["noisy"], p["restored"])]
        row.dhi = _upper([np.abs(row.scalar(p["restored"] - p["noisy"])) for p in same])
        refd = [p for p in planes if _same(p["reference"], p["restored"])]
        row.ehi = _upper([np.abs(row.scalar(p["restored"] - p["reference"])) for p in refd])
        row.shi = _upper([row.scalar(p["std"]) for p in planes if p["std"] is not None])


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return a is not None and b is not None and a.shape == b.shape


# --------------------------------------------------------------------------------------------------
# One plane
# --------------------------------------------------------------------------------------------------

def _map_figure(values: np.ndarray, lo: float, hi: float, lut: np.ndarray, title: str, scale: str,
                kind: str, uid: str) -> str:
    img = map_thumbnail(values, lo, hi, lut)
    return _figure(_pic(_img(png_data_uri(img), img, title)),
                   f"{escape(title)}<br>" + colorbar_svg(lo, hi, scale, 200, lut, uid=uid), kind)


def _plane_rows(p: dict, rows: list[_Channel], colour: bool, size: tuple[int, int], bar, ctx: str,
                uid: str) -> list[str]:
    h, w = size
    out = []
    for r, row in enumerate(rows):
        key = f"{uid}-{r}"
        figs = []
        suffix = f", {row.name}" if row.name else ""
        for kind in ("noisy", "restored", "reference"):
            a = row.take(p[kind])
            if a is None:
                continue
            img = thumbnail(to_uint8(a, row.lo, row.hi))
            label = _LABELS[kind] + suffix
            figs.append(_figure(_pic(_img(png_data_uri(img), img, label + ctx), bar),
                                f"{escape(label)} <span class='dim'>{w}×{h}</span>", kind))
        if _same(p["noisy"], p["restored"]):
            figs.append(_map_figure(np.abs(row.scalar(p["restored"] - p["noisy"])), 0.0, row.dhi, VIRIDIS,
                                    "|restored − noisy|" + suffix, "input units", "difference", key + "d"))
        if _same(p["reference"], p["restored"]):
            mean = " (mean of channels)" if colour else ""
            figs.append(_map_figure(row.scalar(p["restored"] - p["reference"]), -row.ehi, row.ehi, DIVERGING,
                                    "Error: restored − reference" + mean + suffix, "input units", "error",
                                    key + "e"))
        if p["std"] is not None:
            figs.append(_map_figure(row.scalar(p["std"]), 0.0, row.shi, VIRIDIS,
                                    "Uncertainty (per-pixel std)" + suffix, "input units", "std", key + "s"))
        head = f'<h4 class="channel">{escape(row.name)}</h4>' if row.name else ""
        out.append(f'{head}<div class="figures">{"".join(figs)}</div>')
    return out


def _crops(view: ReportPlane, p: dict, rgb: bool | None, full: tuple[int, int]) -> tuple[list, tuple[int, int] | None]:
    """The 1:1 crops of (noisy, restored, reference) and where they are in the full plane."""
    if view.crops is not None:
        return [as_plane(c, rgb) for c in view.crops], view.crop_origin
    # Not subsampled (only reduced for display): the crop is taken here, where the plane has detail.
    basis = p["restored"] if p["restored"] is not None else next(p[k] for k in _KINDS if p[k] is not None)
    if basis.shape[:2] != full:
        return [], None
    y, x = detail_window(basis, DETAIL_SIDE)
    window = (slice(y, y + DETAIL_SIDE), slice(x, x + DETAIL_SIDE))
    return [None if p[k] is None else p[k][window] for k in ("noisy", "restored", "reference")], (y, x)


def _crop_rows(crops: list, origin, rows: list[_Channel], pixel_size, unit) -> str:
    details = []
    for row in rows:
        suffix = f", {row.name}" if row.name else ""
        for kind, crop in zip(("noisy", "restored", "reference"), crops):
            a = row.take(crop)
            if a is None:
                continue
            ch, cw = a.shape[:2]
            where = ""
            if origin is not None:
                y, x = origin
                where = f" at x {x}–{x + cw - 1}, y {y}–{y + ch - 1}"
            img = thumbnail(to_uint8(a, row.lo, row.hi))
            label = f"{_LABELS[kind]}{suffix}, 1:1 crop"
            details.append(_figure(_pic(_img(png_data_uri(img), img, label),
                                        scale_bar(pixel_size, unit, cw)),
                                   f"{escape(label)}{escape(where)}", "crop"))
    return f'<div class="figures detail">{"".join(details)}</div>' if details else ""


def _histogram(p: dict, noise: Mapping[str, Any], label: str) -> str:
    if not _same(p["noisy"], p["restored"]):
        return ""
    sigmas, model, note = model_overlay(noise, p["restored"])
    where = f" <span class='dim'>({escape(label)})</span>" if label else ""
    return ('<div class="histwrap"><h3>Removed noise: noisy − restored' + where + "</h3>"
            + histogram_svg(p["noisy"] - p["restored"], sigmas, model)
            + '<p class="note">What the restoration took away: the noise, plus any signal it removed '
            "(structure in this histogram's tails or in the difference map). It is not the noise left "
            "in the output (see the glossary).</p>"
            + (f'<p class="note">{escape(note)}</p>' if note else "") + "</div>")


def item_figures(item: ReportItem, uid: str = "") -> tuple[list[str], list[str], str]:
    """Figures of one item, per plane shown.

    Parameters
    ----------
    item : ReportItem
        Its planes (:meth:`ReportItem.views`), full size, pixel size, colour flag and noise row.
    uid : str
        Unique in the document (the item's section id): makes the colour bars' SVG ids unique.

    Returns
    -------
    images : list of str
        Per plane: thumbnails (one row per channel for multi-channel data), the difference,
        error (with a reference) and uncertainty maps and, for planes reduced for display, 1:1
        crops where the plane has the most detail. Empty when there is no image data.
    histograms : list of str
        Per plane: the histogram of noisy − restored, or ``""``.
    note : str
        The display ranges used, for all planes, or why there is nothing to show.
    """
    views = item.views()
    planes = [{k: as_plane(getattr(v, k), item.rgb) for k in _KINDS} for v in views]
    if not any(p[k] is not None for p in planes for k in _KINDS):
        return [], [], '<p class="note">No image data available for this item.</p>'
    first = next(p[k] for p in planes for k in _KINDS if p[k] is not None)
    colour = is_colour(first, item.rgb)
    rows, channel_note = _channels(planes, colour, item.channel_names)
    _fit_ranges(rows, planes)

    images, hists = [], []
    for i, (view, p) in enumerate(zip(views, planes)):
        basis = next(p[k] for k in _KINDS if p[k] is not None)
        h, w = item.full_size or basis.shape[:2]
        bar = scale_bar(item.pixel_size, item.unit, w)
        ctx = f" ({view.label})" if view.label else ""
        parts = _plane_rows(p, rows, colour, (h, w), bar, ctx, f"{uid}p{i}")
        if max(h, w) > MAX_SIDE:
            # Box-reduced thumbnails average the noise away; a 1:1 crop shows what the eye would see.
            crops, origin = _crops(view, p, item.rgb, (h, w))
            parts.append(_crop_rows(crops, origin, rows, item.pixel_size, item.unit))
        noisy, restored = p["noisy"], p["restored"]
        if noisy is not None and restored is not None and noisy.shape != restored.shape:
            parts.append(f'<p class="note">Noisy {noisy.shape} and restored {restored.shape} planes differ '
                         "in shape: no difference map or histogram.</p>")
        images.append("".join(parts))
        hists.append(_histogram(p, item.noise, view.label if len(views) > 1 else ""))

    source = next(k for k in _KINDS if any(p[k] is not None for p in planes))
    planes_txt = " planes shown" if len(planes) > 1 else " plane"
    if rows[0].index is None:
        kind = "colour, channels share the range" if colour else "grey"
        ranges = (f"Display range [{escape(fmt_num(rows[0].lo, 4))}, {escape(fmt_num(rows[0].hi, 4))}] "
                  f"({DISPLAY_PERCENTILES[0]:g}–{DISPLAY_PERCENTILES[1]:g} percentiles of the "
                  f"{source}{planes_txt}, {kind}), applied identically to the images above")
    else:
        each = "; ".join(f"{escape(r.name)} [{escape(fmt_num(r.lo, 4))}, {escape(fmt_num(r.hi, 4))}]"
                         for r in rows)
        ranges = (f"Display range per channel ({DISPLAY_PERCENTILES[0]:g}–{DISPLAY_PERCENTILES[1]:g} "
                  f"percentiles of the {source}{planes_txt}): {each}; within a channel, applied identically "
                  "to noisy, restored and reference")
    if len(planes) > 1:
        ranges += ", in every plane; the maps' colour scales are shared by all planes too"
    note = f'<p class="note">{ranges}.{" " + escape(channel_note) if channel_note else ""}</p>'
    return images, hists, note
