"""Turn command-line inputs (files, zarr stores, directories, globs) into checked items."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from ..errors import InputError
from .axes import check_axes
from .checks import dtype_problem, shape_problem
from .item import Item
from .zarrstore import is_zarr_dir, probe_zarr

#: File suffixes read (lower case) and their format.
SUFFIXES = {".npy": "npy", ".tif": "tiff", ".tiff": "tiff", ".png": "png", ".jpg": "jpeg",
            ".jpeg": "jpeg"}
RESERVED_SUFFIX = "_std"
_SUPPORTED = ".npy .tif .tiff .png .jpg .jpeg or zarr"


def _store_stem(path: str) -> str:
    """The item name of a zarr array given directly: its last path component without ``.zarr``."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last[: -len(".zarr")] if last.lower().endswith(".zarr") and len(last) > 5 else last


def _probe_file(path: str) -> Item:
    fmt = SUFFIXES.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"unsupported file type {Path(path).suffix or '(no suffix)'!r}; "
                         f"use {_SUPPORTED}", path=path)
    name = Path(path).stem
    if fmt == "npy":
        from .npy import probe_npy
        return probe_npy(path, name)
    if fmt == "tiff":
        from .tiff import probe_tiff
        return probe_tiff(path, name)
    from .pillow import probe_image
    return probe_image(path, name, fmt)


def _entries(paths: Sequence[str]) -> Iterator[Item]:
    """Items of the supported files and zarr stores among ``paths``; others are skipped."""
    for path in paths:
        if os.path.isdir(path):
            if is_zarr_dir(path):
                yield from probe_zarr(path, _store_stem(path))
        elif os.path.isfile(path) and Path(path).suffix.lower() in SUFFIXES:
            yield _probe_file(path)


def _directory(path: str) -> list[Item]:
    names = sorted(n for n in os.listdir(path) if not n.startswith("."))
    items = list(_entries([os.path.join(path, n) for n in names]))
    if not items:
        raise InputError(f"directory has no supported entries ({_SUPPORTED})", path=path)
    return items


def _expand(spec: str) -> list[Item]:
    """The items one input names."""
    if spec.startswith("file://"):
        spec = unquote(urlparse(spec).path)
    elif "://" in spec:
        return probe_zarr(spec, _store_stem(urlparse(spec).path or spec))
    path = os.path.expanduser(spec)
    if os.path.isdir(path):
        return probe_zarr(path, _store_stem(path)) if is_zarr_dir(path) else _directory(path)
    if os.path.isfile(path):
        return [_probe_file(path)]
    if glob.has_magic(path):
        matches = sorted(glob.glob(path))
        if not matches:
            raise InputError("pattern matches nothing", path=spec)
        items = list(_entries(matches))
        if not items:
            raise InputError(f"pattern matches no supported file ({_SUPPORTED})", path=spec)
        return items
    if path.rstrip("/").lower().endswith(".zarr") or not os.path.exists(path):
        raise InputError("no such file or directory", path=spec)
    raise InputError(f"not a regular file, directory or zarr store ({_SUPPORTED})", path=spec)


def _check(item: Item, axes: str | None) -> Item:
    problem = dtype_problem(item.dtype)
    if problem:
        raise InputError(problem, path=item.where)
    if axes is not None:
        try:
            item.axes = check_axes(axes, item.ndim)
        except ValueError as exc:
            raise InputError(f"{exc} (shape {item.shape})", path=item.where) from None
    problem = shape_problem(item.shape, item.axes)
    if problem:
        raise InputError(problem, path=item.where)
    if not item.name:
        raise InputError("item has an empty name", path=item.where)
    if item.name.endswith(RESERVED_SUFFIX):
        raise InputError(f"item name {item.name!r} ends in {RESERVED_SUFFIX!r}, which is reserved "
                         "for uncertainty outputs; rename it", path=item.where)
    return item


def _key(item: Item) -> tuple[str, str | None]:
    source = item.source if "://" in item.source else os.path.realpath(item.source)
    return source, item.array_path


def discover(inputs: str | Sequence[str], *, axes: str | None = None) -> list[Item]:
    """Find and check the items of a run's inputs.

    Parameters
    ----------
    inputs : str or sequence of str
        Each a file (``.npy .tif .tiff .png .jpg .jpeg``), a zarr array or group (local path or
        fsspec URL such as ``memory://...``), a directory (its supported entries, sorted; zarr
        stores inside count, other subdirectories are not searched) or a glob pattern.
    axes : str, optional
        Axis letters from ``"tczyx"`` overriding inference for every item (``--axes``).

    Returns
    -------
    list of Item
        In input order, each input's items sorted; an item named twice by the inputs once.

    Raises
    ------
    InputError
        One line naming the file and the problem: missing file, unsupported type, empty glob or
        directory, unreadable/truncated/corrupt data, unsupported dtype, zero-size or too small
        image, too many pixels to decode, a bad ``axes``, a ``_std`` name, or two items with one
        name.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise InputError("no inputs given")
    items: list[Item] = []
    seen: set[tuple[str, str | None]] = set()
    by_name: dict[str, Item] = {}
    for spec in inputs:
        for item in _expand(os.fspath(spec)):
            key = _key(item)
            if key in seen:
                continue
            seen.add(key)
            _check(item, axes)
            if item.name in by_name:
                raise InputError(f"item name {item.name!r} is also used by "
                                 f"{by_name[item.name].where}; names must be unique",
                                 path=item.where)
            by_name[item.name] = item
            items.append(item)
    return items


def read_array(path: str) -> tuple[np.ndarray, str]:
    """Load the single item at ``path`` into memory.

    Returns
    -------
    data : numpy.ndarray
        The whole array, in native byte order.
    axes : str
        Its axis letters.

    Raises
    ------
    InputError
        As :func:`discover`, or when ``path`` holds more than one array.
    """
    items = discover([path])
    if len(items) != 1:
        names = ", ".join(i.name for i in items[:5]) + (", ..." if len(items) > 5 else "")
        raise InputError(f"holds {len(items)} arrays ({names}); give one of them", path=path)
    item = items[0]
    data = np.asarray(item.open()[...])
    return np.array(data, dtype=item.dtype, copy=True), item.axes
