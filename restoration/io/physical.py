"""Pixel sizes and channel names in one convention for every format: ``attrs["scale"]``,
``attrs["units"]`` and ``attrs["channel_names"]`` (documented on :class:`restoration.io.Item`).

Readers find sizes in OME-XML, ImageJ metadata, TIFF resolution tags, OME-Zarr transforms or
bioio; :func:`pixel_attrs` turns them into one float per dimension (1.0 where unknown) and one
OME-Zarr unit name per dimension (None where unknown), the form the output's OME metadata needs.
Names (``np.str_`` from bioio included) become plain ``str``: attrs travel as JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: The unit names OME-Zarr allows (UDUNITS-2), for space and time axes.
_SPACE = ("angstrom attometer centimeter decimeter exameter femtometer foot gigameter hectometer "
          "inch kilometer megameter meter micrometer mile millimeter nanometer parsec petameter "
          "picometer terameter yard yoctometer yottameter zeptometer zettameter").split()
_TIME = ("attosecond centisecond day decisecond exasecond femtosecond gigasecond hectosecond hour "
         "kilosecond megasecond microsecond millisecond minute nanosecond petasecond picosecond "
         "second terasecond yoctosecond yottasecond zeptosecond zettasecond").split()
UNIT_NAMES = frozenset(_SPACE + _TIME)

_PREFIXES = {"y": "yocto", "z": "zepto", "a": "atto", "f": "femto", "p": "pico", "n": "nano",
             "µ": "micro", "u": "micro", "m": "milli", "c": "centi", "d": "deci", "h": "hecto",
             "k": "kilo", "M": "mega", "G": "giga", "T": "tera", "P": "peta", "E": "exa",
             "Z": "zetta", "Y": "yotta"}
#: Symbols (OME-XML ``PhysicalSizeXUnit``, ImageJ ``unit``) and common spellings -> names.
_SYMBOLS = ({p + "m": n + "meter" for p, n in _PREFIXES.items()}
            | {p + "s": n + "second" for p, n in _PREFIXES.items()}
            | {"m": "meter", "s": "second", "Å": "angstrom", "in": "inch", "ft": "foot",
               "yd": "yard", "mi": "mile", "pc": "parsec", "min": "minute", "h": "hour",
               "d": "day", "sec": "second", "inches": "inch", "micron": "micrometer",
               "microns": "micrometer"})


#: Length units (OME-Zarr names) in metres, to compare sizes given in different units.
_METRES = {f"{name}meter": 10.0 ** e for name, e in (
    ("yocto", -24), ("zepto", -21), ("atto", -18), ("femto", -15), ("pico", -12), ("nano", -9), ("micro", -6),
    ("milli", -3), ("centi", -2), ("deci", -1), ("", 0), ("hecto", 2), ("kilo", 3), ("mega", 6), ("giga", 9),
    ("tera", 12), ("peta", 15), ("exa", 18), ("zetta", 21), ("yotta", 24))} | {
    "angstrom": 1e-10, "inch": 0.0254, "foot": 0.3048, "yard": 0.9144, "mile": 1609.344, "parsec": 3.0857e16}


def metres(unit: str | None) -> float | None:
    """One ``unit`` (an OME-Zarr length name, as :func:`unit_name` gives) in metres; None for
    any other unit.

    Examples
    --------
    >>> metres("micrometer"), metres("second")
    (1e-06, None)
    """
    return _METRES.get(unit) if isinstance(unit, str) else None


def unit_name(unit: Any) -> str | None:
    """The OME-Zarr name of a unit (``"µm"``, ``"um"``, ``"micron"`` -> ``"micrometer"``), or
    None when it is missing or not a length or time (``"pixel"``, ``"none"``, unknown text)."""
    if not isinstance(unit, str):
        return None
    text = unit.strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ").replace("\u03bc", "µ")
    if text in _SYMBOLS:  # case matters: "Mm" is a megameter, "mm" a millimeter
        return _SYMBOLS[text]
    word = text.lower().replace("metre", "meter")
    for name in (word, word[:-1] if word.endswith("s") else word):
        if name in UNIT_NAMES:
            return name
    return _SYMBOLS.get(word)


def _size(value: Any) -> float | None:
    """A pixel size as a float, or None when it is missing, not a number, zero or negative."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        return None
    return size if math.isfinite(size) and size > 0 else None


def pixel_attrs(scale: Sequence[Any], units: Sequence[Any]) -> dict[str, list]:
    """``{"scale": [...], "units": [...]}``, one entry per dimension, or ``{}`` when neither
    gives anything (sizes 1.0 where missing or invalid, units None where not recognized).

    Parameters
    ----------
    scale, units : sequence
        One raw pixel size and one raw unit per dimension (None where unknown).
    """
    sizes = [_size(s) for s in scale]
    names = [unit_name(u) for u in units]
    if all(s is None for s in sizes) and all(u is None for u in names):
        return {}
    return {"scale": [1.0 if s is None else s for s in sizes], "units": names}


def axis_pixel_attrs(axes: str, sizes: Mapping[str, tuple[Any, Any]]) -> dict[str, list]:
    """:func:`pixel_attrs` from ``{letter: (size, unit)}`` for the letters of ``axes``."""
    known = [sizes.get(a, (None, None)) for a in axes]
    return pixel_attrs([s for s, _ in known], [u for _, u in known])


def channel_attrs(names: Sequence[Any], axes: str, shape: Sequence[int]) -> dict[str, list[str]]:
    """``{"channel_names": [...]}`` when ``names`` names every channel of the ``c`` axis, else
    ``{}`` (no channel axis, a count that differs, or a channel without a name)."""
    if "c" not in axes or len(names) != shape[axes.index("c")]:
        return {}
    if not all(isinstance(n, str) and n for n in names):
        return {}
    return {"channel_names": [str(n) for n in names]}
