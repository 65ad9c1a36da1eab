"""The working store of each orientation's restoration (``--planes``) until they are averaged."""

from __future__ import annotations

import os
from typing import Sequence

from .files import exists, join
from .layout import PARTS, WORK, open_group


def _parts_group(outdir: str | os.PathLike, mode: str = "a"):
    return open_group(join(outdir, WORK, PARTS), mode)


def create_part(outdir: str | os.PathLike, name: str, part: str, shape, dtype, chunks):
    """A fresh (overwritten) array for one orientation's restoration of item ``name`` (``part``
    ``yx``, ``zx``, ``zy``, or one of those with ``_std``) in OUTDIR's working store."""
    group = _parts_group(outdir).require_group(name)
    return group.create_array(part, shape=tuple(shape), dtype=dtype, chunks=tuple(chunks), overwrite=True)


def part_array(outdir: str | os.PathLike, name: str, part: str):
    """The array :func:`create_part` made."""
    return _parts_group(outdir)[f"{name}/{part}"]


def has_parts(outdir: str | os.PathLike, name: str, parts: Sequence[str]) -> bool:
    """Whether every one of item ``name``'s ``parts`` exists in OUTDIR's working store."""
    if not exists(join(outdir, WORK, PARTS)):
        return False
    group = _parts_group(outdir)
    return name in group and all(p in group[name] for p in parts)


def remove_parts(outdir: str | os.PathLike, name: str) -> None:
    """Remove item ``name``'s orientations (averaged into its output)."""
    if exists(join(outdir, WORK, PARTS)):
        group = _parts_group(outdir)
        if name in group:
            del group[name]
