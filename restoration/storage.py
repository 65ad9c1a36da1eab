"""The output directory: zarr store, provenance, completion markers, progress and the run lock."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import InputError

STORE = "restored.zarr"
WORK = ".work"
LOCK = ".restoration.lock"
RUN_FILE = "run.json"
MANAGED = (STORE, WORK, RUN_FILE, "noise.csv", "quality.csv", "report.html")


class RunLock:
    """An exclusive OS lock on OUTDIR: one run at a time, released by the kernel if we die."""

    def __init__(self, outdir: str | os.PathLike):
        self.outdir = Path(outdir)
        self._fd: int | None = None

    def __enter__(self) -> "RunLock":
        try:
            self.outdir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.outdir / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as exc:  # e.g. under /proc, or read-only: what a permission check cannot see
            raise InputError(f"cannot create or write the output directory ({exc.strerror})",
                             path=str(self.outdir)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError("output directory is locked by another restoration run", path=str(self.outdir)) from None
        self._fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: readers never see half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


#: Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write the pandas DataFrame ``frame`` as CSV (atomically), text cells made formula-safe.

    A text cell starting with ``= + - @``, a tab or a carriage return (an item named after a
    file such as ``=HYPERLINK(...).npy``) gets a leading ``'``, as OWASP advises, so that a
    spreadsheet shows it instead of running it. Numbers are written as they are.
    """
    def safe(value):
        return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value

    from pandas.api.types import is_numeric_dtype

    frame = frame.copy()
    for col in frame.columns:
        if not is_numeric_dtype(frame[col]):
            frame[col] = frame[col].map(safe)
    write_text_atomic(path, frame.to_csv(index=False))


def read_json(path: str | os.PathLike) -> Any:
    """The JSON ``path`` holds, or None when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def clear_outputs(outdir: Path) -> None:
    """Remove what a previous run wrote (``--overwrite``); nothing else in OUTDIR is touched."""
    for name in MANAGED:
        p = outdir / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def open_store(outdir: Path, mode: str = "a"):
    """OUTDIR's restored.zarr (zarr v3 group), opened with ``mode``."""
    import zarr

    return zarr.open_group(str(outdir / STORE), mode=mode, zarr_format=3)


def chunk_side() -> int:
    """Output chunk side in y and x (``RESTORATION_CHUNK``, default 512: 1 MiB of float32)."""
    return int(os.environ.get("RESTORATION_CHUNK", 512))


def output_chunks(shape: tuple[int, ...], axes: str, tile: int | None = None) -> tuple[int, ...]:
    """One chunk per denoiser tile: 1 along leading axes (Z chunk 1), tile-sized in y/x, all channels."""
    tile = tile or chunk_side()
    chunks = []
    for n, a in zip(shape, axes):
        chunks.append(min(n, tile) if a in "yx" else (n if a == "c" else 1))
    return tuple(chunks)


def part_chunks(shape: tuple[int, ...], axes: str, orientation: str, slab: int = 1, max_pixels: int = 1 << 22,
                tile: int | None = None) -> tuple[int, ...]:
    """Chunks of one orientation's restoration before averaging (:func:`create_part`).

    yx: the output's (:func:`output_chunks`), written by the same regions. zx and zy: the output's
    in y and x, but along the slabs' axis (y for zx, x for zy) the ``slab`` width of their regions
    (the chunk side when it is a multiple of it), so each slab writes chunks of its own; and
    along z as many planes as keep an averaging block of chunks within ``max_pixels``.
    """
    chunks = list(output_chunks(shape, axes, tile))
    if orientation == "yx":
        return tuple(chunks)
    plane = int(np.prod([c for c, a in zip(chunks, axes) if a in "yxc"]))
    iz = axes.index("z")
    chunks[iz] = max(1, min(int(shape[iz]), max_pixels // max(plane, 1)))
    i = axes.index("y" if orientation == "zx" else "x")
    chunks[i] = min(chunks[i], slab)
    return tuple(chunks)


def chunk_blocks(shape: Sequence[int], block: Sequence[int]) -> Iterator[tuple[slice, ...]]:
    """Selections tiling an array of ``shape`` with blocks of ``block`` (smaller at the ends)."""
    for start in itertools.product(*(range(0, int(n), int(b)) for n, b in zip(shape, block))):
        yield tuple(slice(s, min(s + int(b), int(n))) for s, b, n in zip(start, block, shape))


#: The working store of each orientation's restoration until they are averaged (``planes``
#: ``yx,zx,zy``): ``.work/planes.zarr/<name>/<orientation>`` (and ``<orientation>_std``).
PARTS = "planes.zarr"


def _parts_group(outdir: Path, mode: str = "a"):
    import zarr

    return zarr.open_group(str(Path(outdir) / WORK / PARTS), mode=mode, zarr_format=3)


def create_part(outdir: Path, name: str, part: str, shape, dtype, chunks):
    """A fresh (overwritten) array for one orientation's restoration of item ``name`` (``part``
    ``yx``, ``zx``, ``zy``, or one of those with ``_std``) in OUTDIR's working store."""
    group = _parts_group(outdir).require_group(name)
    return group.create_array(part, shape=tuple(shape), dtype=dtype, chunks=tuple(chunks), overwrite=True)


def part_array(outdir: Path, name: str, part: str):
    """The array :func:`create_part` made."""
    return _parts_group(outdir)[f"{name}/{part}"]


def has_parts(outdir: Path, name: str, parts: Sequence[str]) -> bool:
    """Whether every one of item ``name``'s ``parts`` exists in OUTDIR's working store."""
    if not (Path(outdir) / WORK / PARTS).exists():
        return False
    group = _parts_group(outdir)
    return name in group and all(p in group[name] for p in parts)


def remove_parts(outdir: Path, name: str) -> None:
    """Remove item ``name``'s orientations (averaged into its output)."""
    if (Path(outdir) / WORK / PARTS).exists():
        group = _parts_group(outdir)
        if name in group:
            del group[name]


def create_item_array(store, name: str, shape, dtype, axes: str, *, tile: int | None = None):
    """A fresh (overwritten) OME-Zarr image group ``name`` and its level 0, in the item's axis
    order (:func:`restoration.ome_zarr.create_image`); its provenance says ``complete: False``
    until :func:`finish_item`."""
    from .ome_zarr import create_image

    return create_image(store, name, shape, dtype, axes, tile=tile)


def item_array(store, name: str, level: int = 0):
    """Item ``name``'s restored array (level 0 unless ``level``), in the item's axis order.

    Use this, not ``store[name]``: the item is an OME-Zarr image group whose arrays are stored in
    OME order (:func:`restoration.ome_zarr.image_array`).
    """
    from .ome_zarr import image_array

    return image_array(store, name, level)


def std_name(name: str) -> str:
    """The image group of item ``name``'s per-pixel std (``--samples`` over 1)."""
    return name + "_std"


def std_array(store, name: str, level: int = 0):
    """Item ``name``'s per-pixel std map (level 0 unless ``level``), in the item's axis order."""
    return item_array(store, std_name(name), level)


def has_std(store, name: str) -> bool:
    """Whether item ``name`` has a std map (``--samples`` over 1)."""
    return std_name(name) in store


def item_provenance(store, name: str) -> dict | None:
    """The provenance of item ``name``: its image group's ``attributes["restoration"]`` (also
    read from the array of an output written before OME-Zarr). None when there is no such item."""
    try:
        node = store[name]
    except KeyError:
        return None
    prov = node.attrs.get("restoration")
    return prov if isinstance(prov, dict) else None


def mark_complete(node, provenance: dict) -> None:
    """Written last, after all the item's data: only now is the item complete."""
    old = node.attrs.get("restoration")
    axes = old.get("axes") if isinstance(old, dict) else None
    node.attrs["restoration"] = {**({"axes": axes} if axes else {}), **provenance, "complete": True}


def finish_item(store, name: str, provenance: dict, attrs: dict | None = None) -> None:
    """Complete item (or std map) ``name`` once all its level 0 is written: the pyramid and the
    OME-Zarr metadata from the item's ``attrs`` (:func:`restoration.ome_zarr.finish_image`), then
    the provenance, last (:func:`mark_complete`). An item begun by a version before OME-Zarr (one
    plain array, resumed) is completed as it was begun: its provenance on the array, no pyramid."""
    import zarr

    from .ome_zarr import finish_image, item_axes
    from .planning import is_rgb

    if not isinstance(store[name], zarr.Array):
        rgb = is_rgb(str(provenance.get("format")), attrs, item_axes(store[name]), item_array(store, name).shape)
        finish_image(store, name, attrs, rgb=rgb)
    mark_complete(store[name], provenance)


def _progress_dir(outdir: Path, name: str) -> Path:
    return Path(outdir) / WORK / "progress" / name


def start_progress(outdir: Path, name: str, key: str) -> set[int]:
    """Work regions of item ``name`` already written under plan ``key`` (a crash costs only the rest).

    Progress is one marker file per region (a plane, a band of one, or a slab of zx or zy
    planes), so workers in other processes record theirs without sharing a file; a different
    plan key starts over.
    """
    folder = _progress_dir(outdir, name)
    keyfile = folder / "plan.key"
    if keyfile.is_file() and keyfile.read_text() == key:
        return progress_done(outdir, name)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_text_atomic(keyfile, key)
    return set()


def progress_done(outdir: Path, name: str) -> set[int]:
    """The regions of item ``name`` marked done (:func:`mark_done`)."""
    return {int(p.stem) for p in _progress_dir(outdir, name).glob("*.done")}


def mark_done(outdir: Path, name: str, index: int) -> None:
    """Record work region ``index`` as written (called after its data is stored)."""
    (_progress_dir(outdir, name) / f"{index}.done").touch()


def clear_progress(outdir: Path, name: str) -> None:
    """Remove item ``name``'s progress markers (it is complete, or starts over)."""
    shutil.rmtree(_progress_dir(outdir, name), ignore_errors=True)


def saved_work(outdir: str | os.PathLike) -> tuple[list[str], dict[str, int]]:
    """What an interrupted run left in OUTDIR for the next one: the items marked complete, and
    the regions marked done (:func:`mark_done`) of each partial item."""
    outdir = Path(outdir)
    complete = []
    if (outdir / STORE).is_dir():
        try:
            store = open_store(outdir, mode="r")
            complete = [n for n in store.keys() if (item_provenance(store, n) or {}).get("complete") is True]
        except Exception:  # an unreadable store: nothing to count
            pass
    folder = outdir / WORK / "progress"
    partial = {p.name: len(progress_done(outdir, p.name)) for p in sorted(folder.iterdir())} if folder.is_dir() else {}
    return complete, {k: v for k, v in partial.items() if v}
