"""Scale bars for the HTML report's images: metric length units and round bar lengths.

A pixel size given in a known metric length (:data:`LENGTH_UNITS`) gets a bar of 1, 2 or 5 x 10^k
of a unit (:func:`scale_bar`); anything else gets none rather than a wrong one.
"""

from __future__ import annotations

import math

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
