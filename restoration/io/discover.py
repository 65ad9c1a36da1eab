"""Turn command-line inputs (files, zarr stores, directories, globs) into checked items."""

from __future__ import annotations

import errno
import glob
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np

from ..errors import InputError, printable, storage_problem
from ..store.access import check_url
from ..store.files import basename, filesystem, is_url, join
from .axes import check_axes
from .checks import dtype_problem, shape_problem
from .formats import SUPPORTED, format_named, format_of
from .item import Item
from .zarrstore import AXES_CONTRADICTION, ZARR_MARKERS, is_zarr_dir

RESERVED_SUFFIX = "_std"


def _strip(name: str, suffix: str) -> str:
    """``name`` without ``suffix`` (any case), unless nothing would be left."""
    return name[: -len(suffix)] if name.lower().endswith(suffix) and len(name) > len(suffix) else name


def _store_stem(path: str) -> str:
    """The item name of a zarr array or OME-Zarr image given directly: its last path component
    without ``.zarr`` (and ``.ome``)."""
    return _strip(_strip(path.rstrip("/").rsplit("/", 1)[-1], ".zarr"), ".ome")


def _file_stem(path: str) -> str:
    """The item name of a file: its stem, without ``.ome`` (``cells.ome.tif`` -> ``cells``)."""
    return _strip(Path(path).stem, ".ome")


def _probe_zarr(source: str, name: str) -> list[Item]:
    return format_named("zarr").probe(source, name)


def _probe_file(path: str) -> list[Item]:
    fmt = format_of(path)
    if fmt is None:
        raise InputError(f"unsupported file type {Path(path).suffix or '(no suffix)'!r}; "
                         f"use {SUPPORTED}", path=path)
    if fmt.name == "bioio" and is_url(path):
        raise InputError(f"{Path(path).suffix} files are read from a local disk only (bioio opens them by path); "
                         "copy it to one", path=path)
    return fmt.probe(path, _file_stem(path))


#: Called with an item name and the problem when one entry of a directory, glob or zarr group
#: cannot be restored (see :func:`discover`).
OnError = Callable[[str, InputError], None]


def local_path(spec: str) -> str | None:
    """The local path an input (or OUTDIR) names: ``spec`` with ``~`` expanded, or the path of a
    ``file://`` URL; None for other URLs (``s3://``, ``memory://`` ...)."""
    if spec.startswith("file://"):
        return unquote(urlparse(spec).path)
    if "://" in spec:
        return None
    return os.path.expanduser(spec)


def _guarded(name: str, on_error: OnError | None, make: Callable[[], list[Item]]) -> list[Item]:
    """``make()``, or ``[]`` after passing its :class:`InputError` to ``on_error`` (if given)."""
    try:
        return make()
    except InputError as exc:
        if on_error is None:
            raise
        on_error(printable(name), exc)
        return []


def _checked(items: list[Item], axes: str | None, on_error: OnError | None) -> list[Item]:
    return [it for item in items for it in _guarded(item.name, on_error, lambda: [_check(item, axes)])]


def _candidate(path: str) -> bool:
    """A supported file or a zarr store (other entries of a directory or glob are skipped)."""
    if os.path.isdir(path):
        return is_zarr_dir(path)
    return os.path.isfile(path) and format_of(path) is not None


def _entries(paths: Sequence[str], axes: str | None, on_error: OnError | None,
             is_store: Callable[[str], bool] = os.path.isdir) -> list[Item]:
    """Checked items of the candidates ``paths`` (zarr stores where ``is_store``, else files): each
    entry fails on its own through ``on_error``."""
    items: list[Item] = []
    for path in paths:
        if is_store(path):
            found = _guarded(_store_stem(path), on_error, lambda: _probe_zarr(path, _store_stem(path)))
        else:
            found = _guarded(_file_stem(path), on_error, lambda: _probe_file(path))
        items += _checked(found, axes, on_error)
    return items


def _directory(path: str, axes: str | None, on_error: OnError | None) -> list[Item]:
    names = sorted(n for n in os.listdir(path) if not n.startswith("."))
    paths = [p for p in (os.path.join(path, n) for n in names) if _candidate(p)]
    if not paths:
        raise InputError(f"directory has no supported entries ({SUPPORTED})", path=path)
    return _entries(paths, axes, on_error)


def _not_found(path: str, spec: str) -> InputError:
    """Why ``path`` (which is neither a file, a directory nor a glob) cannot be read."""
    if os.path.islink(path):
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return InputError("symbolic link loop", path=spec)
            return InputError("broken symbolic link (its target does not exist)", path=spec)
    if path.rstrip("/").lower().endswith(".zarr") or not os.path.exists(path):
        return InputError("no such file or directory", path=spec)
    return InputError(f"not a regular file, directory or zarr store ({SUPPORTED})", path=spec)


def _file(path: str, axes: str | None, on_error: OnError | None) -> list[Item]:
    """The checked items of a file given as an input: its one item, or each of its scenes
    failing on its own."""
    found = _probe_file(path)
    return [_check(found[0], axes)] if len(found) == 1 else _checked(found, axes, on_error)


def _url_candidates(fs, infos: list[dict], url_of: Callable[[str], str]) -> dict[str, bool]:
    """The supported files and zarr stores among the listed ``infos`` of a prefix or glob, by
    URL (``url_of`` of the listed name), each mapped to whether it is a zarr store."""
    found: dict[str, bool] = {}
    for info in sorted(infos, key=lambda i: i["name"]):
        name = info["name"].rstrip("/")
        if basename(name).startswith("."):
            continue
        if info["type"] == "directory":
            if {basename(n) for n in fs.ls(name, detail=False)} & set(ZARR_MARKERS):
                found[url_of(name)] = True
        elif format_of(name) is not None:
            found[url_of(name)] = False
    return found


def _expand_url(spec: str, axes: str | None, on_error: OnError | None) -> list[Item]:
    """The checked items a URL names: a file, a zarr store, a prefix holding such (like a local
    directory) or a glob pattern. The storage is checked first (:func:`check_url`), so no
    credentials, an unreachable endpoint, a missing bucket or no permission is one line."""
    check_url(spec, write=False)
    fs, p = filesystem(spec)
    try:
        fs.invalidate_cache()
        if glob.has_magic(p):
            matches = fs.glob(p, detail=True)
            if not matches:
                raise InputError("pattern matches nothing", path=spec)
            found = _url_candidates(fs, list(matches.values()), fs.unstrip_protocol)
            if not found:
                raise InputError(f"pattern matches no supported file ({SUPPORTED})", path=spec)
            return _entries(list(found), axes, on_error, found.__getitem__)
        try:
            info = fs.info(p)
        except FileNotFoundError:
            info = None
        if info is not None and info["type"] == "file":
            return _file(spec, axes, on_error)
        if info is None and format_of(spec) is not None:
            raise InputError("no such object", path=spec)
        listed = fs.ls(p, detail=True) if info is not None else []
    except InputError:
        raise
    except Exception as exc:  # the storage's own errors, after its checks passed (permissions on one key ...)
        raise InputError(storage_problem(exc, "read"), path=spec) from None
    if info is None or {basename(i["name"]) for i in listed} & set(ZARR_MARKERS):
        return _checked(_probe_zarr(spec, _store_stem(urlparse(spec).path or spec)), axes, on_error)
    found = _url_candidates(fs, listed, lambda name: join(spec, basename(name)))
    if not found:
        raise InputError(f"prefix has no supported entries ({SUPPORTED})", path=spec)
    return _entries(list(found), axes, on_error, found.__getitem__)


def _expand(spec: str, axes: str | None, on_error: OnError | None) -> list[Item]:
    """The checked items one input names."""
    path = local_path(spec)
    if path is None:
        return _expand_url(spec, axes, on_error)
    if os.path.isdir(path):
        if is_zarr_dir(path):
            return _checked(_probe_zarr(path, _store_stem(path)), axes, on_error)
        return _directory(path, axes, on_error)
    if os.path.isfile(path):
        return _file(path, axes, on_error)
    if glob.has_magic(path):
        matches = sorted(glob.glob(path))
        if not matches:
            raise InputError("pattern matches nothing", path=spec)
        paths = [p for p in matches if _candidate(p)]
        if not paths:
            raise InputError(f"pattern matches no supported file ({SUPPORTED})", path=spec)
        return _entries(paths, axes, on_error)
    raise _not_found(path, spec)


def _check(item: Item, axes: str | None) -> Item:
    try:
        item.source.encode("utf-8")
    except UnicodeEncodeError:  # names go into JSON, CSV and HTML, which must be UTF-8
        raise InputError("file name is not valid UTF-8; rename it", path=item.source) from None
    item.name = printable(item.name)  # a newline in a file name must not split a message or a row
    problem = dtype_problem(item.dtype)
    if problem:
        raise InputError(problem, path=item.where)
    contradiction = item.attrs.pop(AXES_CONTRADICTION, None)
    if contradiction and axes is None:
        raise InputError(contradiction, path=item.where)
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


def discover(inputs: str | Sequence[str], *, axes: str | None = None,
             on_error: OnError | None = None) -> list[Item]:
    """Find and check the items of a run's inputs.

    Parameters
    ----------
    inputs : str or sequence of str
        Each a file (``.npy .tif .tiff .png .jpg .jpeg``, OME-TIFF included; vendor files such as
        ``.czi .nd2 .lif`` with the bioio extra, local only), a zarr array or group (an OME-Zarr
        image is one item), a directory (its supported entries, sorted; zarr stores inside
        count, other subdirectories are not searched) or a glob pattern; each a local path or
        an fsspec URL (``s3://bucket/cells.tif``, ``s3://bucket/in`` for a prefix read like a
        directory, ``memory://...``). A URL's storage is checked first
        (:func:`restoration.store.access.check_url`).
    axes : str, optional
        Axis letters from ``"tczyx"`` overriding inference for every item (``--axes``).
    on_error : callable, optional
        ``on_error(name, error)`` for each entry of a directory, glob or zarr group that cannot be
        restored (a corrupt file, an unsupported dtype ...): it is left out and the other entries
        are kept. Without it the first such problem raises. An input that names one item (or
        none) raises either way.

    Returns
    -------
    list of Item
        In input order, each input's items sorted; an item named twice by the inputs once. Item
        names are escaped with :func:`restoration.errors.printable` (a newline in a file name
        becomes ``\\n``).

    Raises
    ------
    InputError
        One line naming the file and the problem: missing file or object, unsupported type,
        empty glob, directory or prefix, a vendor file by URL, no credentials, an unreachable
        endpoint, a missing bucket or no permission to read it, unreadable/truncated/corrupt data, unsupported dtype, zero-size or too small
        image, too many pixels to decode, a bad ``axes``, a ``_std`` name, a file name that is not
        UTF-8, a symbolic link loop, or two items with one name.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if not inputs:
        raise InputError("no inputs given")
    items: list[Item] = []
    seen: set[tuple[str, str | None]] = set()
    by_name: dict[str, Item] = {}
    for spec in inputs:
        for item in _expand(os.fspath(spec), axes, on_error):
            key = _key(item)
            if key in seen:
                continue
            seen.add(key)
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
