"""The formats read: one table, used by discovery (suffix -> probe) and :meth:`Item.open`
(format name -> opener).

The readers import :class:`~restoration.io.item.Item` and this module imports the readers;
``item.py`` imports no reader (``Item.open`` looks its format up here when called). Adding a
format is a reader module and one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .item import Item
from .npy import open_npy, probe_npy
from .pillow import open_image, probe_image
from .tiff import open_tiff, probe_tiff
from .vendor import PLUGINS, open_bioio, probe_bioio
from .zarrstore import open_zarr, probe_zarr


@dataclass(frozen=True)
class Format:
    """One input format.

    Attributes
    ----------
    name : str
        :attr:`Item.format` of its items.
    suffixes : tuple of str
        Lower-case file suffixes read as this format (none for zarr, a directory or URL).
    probe : callable
        ``probe(path, name) -> list[Item]``: the items at ``path``, from metadata only, ``name``
        being the item name the input gives (a file's stem).
    open : callable
        ``open(item) -> array-like``, as :meth:`Item.open` documents.
    """

    name: str
    suffixes: tuple[str, ...]
    probe: Callable[[str, str], list[Item]]
    open: Callable[[Item], Any]


def _one(probe: Callable[..., Item], **kwargs: Any) -> Callable[[str, str], list[Item]]:
    """A probe of formats whose file is always one item."""
    return lambda path, name: [probe(path, name, **kwargs)]


FORMATS = (
    Format("npy", (".npy",), _one(probe_npy), open_npy),
    Format("tiff", (".tif", ".tiff"), _one(probe_tiff), open_tiff),
    Format("png", (".png",), _one(probe_image, format="png"), open_image),
    Format("jpeg", (".jpg", ".jpeg"), _one(probe_image, format="jpeg"), open_image),
    Format("zarr", (), probe_zarr, open_zarr),
    Format("bioio", tuple(PLUGINS), probe_bioio, open_bioio),  # needs the bioio extra
)

#: File suffix (lower case) -> format name.
SUFFIXES = {s: f.name for f in FORMATS for s in f.suffixes}
_BY_NAME = {f.name: f for f in FORMATS}

#: What inputs may be, for messages.
SUPPORTED = (" ".join(s for f in FORMATS if f.name != "bioio" for s in f.suffixes)
             + " or zarr (" + " ".join(PLUGINS) + " with the bioio extra)")


def format_named(name: str) -> Format:
    """The format of :attr:`Item.format` ``name``.

    Raises
    ------
    ValueError
        For a name not in the table.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown format {name!r}") from None


def format_of(path: str) -> Format | None:
    """The format a file's suffix routes it to, or None when no format reads it."""
    name = SUFFIXES.get(Path(path).suffix.lower())
    return None if name is None else _BY_NAME[name]
