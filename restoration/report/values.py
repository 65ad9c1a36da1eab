"""Value formatting for the HTML report: numbers from CSV-ish values, escaped text, JSON.

Every function returns HTML-safe text; missing values (None, NaN, empty) show as a dash.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from html import escape
from typing import Any

import numpy as np

#: noise.csv columns that are not model parameters (shown separately, not as "params").
NOISE_META = ("name", "channel", "noise", "score", "clipped_fraction", "missing_fraction")


def num(v: Any) -> float | None:
    """A finite float from a CSV-ish value (number, numeric string, numpy scalar), else None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def nums(v: Any) -> list[float]:
    """Finite floats of a scalar or per-channel sequence (empty when there are none)."""
    if isinstance(v, (list, tuple, np.ndarray)):
        return [f for f in (num(x) for x in np.ravel(np.asarray(v, dtype=object))) if f is not None]
    f = num(v)
    return [] if f is None else [f]


def fmt(v: Any, spec: str = ".4g", unit: str = "") -> str:
    """Format a number (or each of a per-channel sequence); a dash when there is none."""
    vals = nums(v)
    if not vals:
        if isinstance(v, str) and v.strip():
            return escape(v)
        return "—"
    text = ", ".join(format(x, spec) for x in vals)
    return escape(text + (f" {unit}" if unit else ""))


def text(v: Any) -> str:
    """Escaped text of a value; None, NaN and empty strings become a dash."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)) or (isinstance(v, str) and not v):
        return "—"
    return escape(str(v))


def to_json(v: Any) -> str:
    """Pretty, escaped JSON of a value; numpy scalars and arrays, paths and dates become plain."""
    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist() if o.size <= 64 else f"<array {o.shape} {o.dtype}>"
        return str(o)
    return escape(json.dumps(v, indent=2, default=default, ensure_ascii=False))


def one_line(s: Any) -> str:
    """The first line of an error (the contract keeps errors to one line; be safe anyway)."""
    lines = str(s or "").strip().splitlines()
    return lines[0] if lines else "unknown error"


def noise_params(noise: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The model parameters of a noise row: every column that is not metadata and has a value."""
    return [(k, v) for k, v in noise.items() if k not in NOISE_META and nums(v)]


def noise_summary(noise: Mapping[str, Any]) -> str:
    """``gaussian (sigma=0.1)``-style one-liner, escaped."""
    model = text(noise.get("noise"))
    params = ", ".join(f"{escape(str(k))}={fmt(v)}" for k, v in noise_params(noise))
    return f"{model} ({params})" if params else model


def method_label(quality: Mapping[str, Any], provenance: Mapping[str, Any] | None = None) -> str:
    """The method the denoiser actually ran, in words, escaped; ``""`` for denoisers without one.

    Read from the provenance's ``options`` (``method``, ``samples``, ``steps``, ``ensemble``),
    else its top-level fields (outputs of older versions), else the quality row. With ``samples``
    over 1 the diffusion denoiser draws posterior samples whatever ``method`` says, and the output
    is their mean: ``posterior × 4 samples (mean), 20 steps``.
    """
    prov = provenance or {}
    opts = prov.get("options") if isinstance(prov.get("options"), Mapping) else {}
    given = quality.get("options")   # quality.csv's "k=v k=v" of the options the user set
    row = dict(kv.split("=", 1) for kv in given.split() if "=" in kv) if isinstance(given, str) else {}
    if isinstance(prov.get("options"), Mapping):
        if "method" not in opts:  # the denoiser declares no method option
            return ""
    elif (prov.get("denoiser") or quality.get("denoiser")) != "diffusion":
        return ""  # outputs of older versions recorded a method for every denoiser; only diffusion had one

    def pick(key: str) -> Any:
        for source in (opts, prov, row, quality):
            if source.get(key) not in (None, ""):
                return source.get(key)
        return None

    method = str(pick("method") or "mmse")
    samples = int(num(pick("samples")) or 1)
    steps = num(pick("steps"))
    if samples > 1:
        words = f"posterior × {samples} samples (mean)"
        method = "posterior"
    elif method == "mmse":
        words = "mmse (one-step estimate)"
    else:
        words = method
    if steps is not None and method != "mmse":
        words += f", {steps:g} steps"
    if pick("ensemble") in (True, "True", "true", 1):
        words += ", 8-fold self-ensemble"
    return escape(words)
