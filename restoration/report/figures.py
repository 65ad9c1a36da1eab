"""The per-item figures of the HTML report: thumbnails, difference and uncertainty maps, 1:1
crops and the residual histogram with the fitted noise model's density overlaid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np

from . import plots as rp
from .values import fmt, nums


def _img(uri: str, img, alt: str) -> str:
    """An ``<img>`` at natural size; small images are enlarged (pixelated) to stay legible."""
    w, h = img.size
    k = max(1, math.ceil(rp.MIN_DISPLAY_SIDE / max(w, h)))
    cls = ' class="pixelated"' if k > 1 else ""
    return (f'<img src="{uri}" width="{w * k}" height="{h * k}" alt="{escape(alt)}"{cls}>')


def _figure(content: str, caption: str) -> str:
    return f"<figure>{content}<figcaption>{caption}</figcaption></figure>"


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
        label = "model N(0, σ²), σ = " + ", ".join(rp.fmt_num(s, 4) for s in shown)
        return sig, label, ""
    if model in ("poisson", "poisson-gaussian"):
        gain = nums(noise.get("gain"))
        if gain and restored is not None:
            offset = float(np.mean(nums(noise.get("offset")) or [0.0]))
            mean_signal = _finite_mean(np.clip(restored - offset, 0.0, None))
            var = float(np.mean(gain)) * mean_signal + float(np.mean([s * s for s in sig] or [0.0]))
            if var > 0:
                return ([math.sqrt(var)], f"Gaussian approx., σ = {rp.fmt_num(math.sqrt(var), 4)}",
                        "Overlay: Gaussian approximation of the signal-dependent noise with the "
                        "average variance gain · mean(restored) + σ²; the true residual is a "
                        "mixture, so heavier shoulders are expected.")
    if model == "speckle" and sig and restored is not None:
        # y = x (1 + sigma n): residual variance sigma^2 x^2, averaged over the plane.
        s = float(np.mean(sig)) * math.sqrt(_finite_mean(restored ** 2))
        if s > 0:
            return ([s], f"Gaussian approx., σ = {rp.fmt_num(s, 4)}",
                    "Overlay: Gaussian with the average speckle variance σ² · mean(restored²).")
    if model == "salt-and-pepper":
        return [], "", ("Impulse noise: the residual is near zero except at the replaced pixels "
                        f"(amount = {fmt(noise.get('amount'))}); no density is overlaid.")
    if model:
        return [], "", f"No density overlay for noise model “{model}”."
    return [], "", "No noise model recorded; histogram only."


def item_figures(noisy: np.ndarray | None, restored: np.ndarray | None, reference: np.ndarray | None,
                 std: np.ndarray | None, noise: Mapping[str, Any], *, full_size: tuple[int, int] | None = None,
                 crops: Sequence[np.ndarray | None] | None = None) -> tuple[str, str]:
    """Figures of one item.

    Parameters
    ----------
    noisy, restored, reference, std : numpy.ndarray or None
        Planes, ``(y, x)`` or ``(y, x, 3)``: the item's plane or a subsample of it.
    noise : mapping
        The item's merged noise.csv row.
    full_size : (int, int), optional
        ``(height, width)`` of the item's plane when the planes are a subsample of it.
    crops : sequence of numpy.ndarray or None, optional
        Full-resolution centre crops of (noisy, restored, reference); taken from the planes when
        not given (only right when they are not subsampled).

    Returns
    -------
    images : str
        Thumbnails, difference/uncertainty maps and, for reduced planes, 1:1 crops.
    histogram : str
        The residual histogram (or a note why there is none), shown beside the metrics table.
    """
    noisy, restored = rp.as_plane(noisy), rp.as_plane(restored)
    reference, std = rp.as_plane(reference), rp.as_plane(std)
    if crops is None:
        crops = [None if p is None else rp.center_crop(p) for p in (noisy, restored, reference)]
    shown = [(p, label, crop) for p, label, crop in zip((noisy, restored, reference),
                                                         ("Noisy input", "Restored", "Reference"), crops)
             if p is not None]
    planes = [(p, label) for p, label, _ in shown]
    if not planes:
        return '<p class="note">No image data available for this item.</p>', ""

    # One display range, from the noisy plane, for all three: equal grey levels mean equal values.
    basis = noisy if noisy is not None else planes[0][0]
    lo, hi = rp.display_range(basis)
    figs, reduced = [], False
    for plane, label in planes:
        img = rp.thumbnail(rp.to_uint8(plane, lo, hi))
        h, w = full_size or plane.shape[:2]
        reduced |= max(h, w) > rp.MAX_SIDE
        figs.append(_figure(_img(rp.png_data_uri(img), img, label),
                            f"{escape(label)} <span class='dim'>{w}×{h}</span>"))

    same = noisy is not None and restored is not None and noisy.shape == restored.shape
    if same:
        diff = rp.magnitude(np.abs(restored - noisy))
        dhi = rp.display_range(diff, (0.0, 99.5))[1]
        img = rp.thumbnail(rp.colorize(diff, 0.0, dhi))
        figs.append(_figure(_img(rp.png_data_uri(img), img, "|restored − noisy|"),
                            "|restored − noisy|<br>" + rp.colorbar_svg(0.0, dhi, "input units", 200)))
    if std is not None:
        s = rp.magnitude(std)
        shi = rp.display_range(s, (0.0, 99.5))[1]
        img = rp.thumbnail(rp.colorize(s, 0.0, shi))
        figs.append(_figure(_img(rp.png_data_uri(img), img, "Uncertainty (per-pixel std)"),
                            "Uncertainty (per-pixel std)<br>"
                            + rp.colorbar_svg(0.0, shi, "input units", 200)))

    kind = "colour, channels share the range" if basis.ndim == 3 else "grey"
    out = [f'<div class="figures">{"".join(figs)}</div>',
           f'<p class="note">Display range [{escape(rp.fmt_num(lo, 4))}, {escape(rp.fmt_num(hi, 4))}] '
           f'({rp.DISPLAY_PERCENTILES[0]:g}–{rp.DISPLAY_PERCENTILES[1]:g} percentiles of the '
           f'{"noisy" if noisy is not None else escape(planes[0][1].lower())} plane, {kind}), '
           "applied identically to the images above.</p>"]

    if reduced:
        # Box-reduced thumbnails average the noise away; a 1:1 crop shows what the eye would see.
        details = []
        for _, label, crop in shown:
            if crop is None:
                continue
            img = rp.thumbnail(rp.to_uint8(crop, lo, hi))
            details.append(_figure(_img(rp.png_data_uri(img), img, f"{label}, 1:1 centre crop"),
                                 f"{escape(label)}, 1:1 centre crop"))
        out.append(f'<div class="figures detail">{"".join(details)}</div>')

    hist = ""
    if same:
        sigmas, label, note = model_overlay(noise, restored)
        hist = ('<div class="histwrap"><h3>Residual noise</h3>'
                + rp.histogram_svg(noisy - restored, sigmas, label)
                + (f'<p class="note">{escape(note)}</p>' if note else "") + "</div>")
    elif noisy is not None and restored is not None:
        out.append(f'<p class="note">Noisy {noisy.shape} and restored {restored.shape} planes differ '
                   "in shape: no difference map or residual histogram.</p>")
    return "".join(out), hist
