"""Microscope vendor files (``.czi``, ``.nd2``, ``.lif`` ...) through bioio, an optional extra.

``pip install 'restoration[bioio]'`` plus the bioio plugin of the format (``bioio-czi`` ...).
bioio's dimensions ``TCZYX`` (and ``S``, RGB samples, as ``c``) lose their singleton entries but y
and x; data is read lazily, a block at a time, through bioio's dask array. A file of several
scenes is one item per scene, ``<stem>.<scene index>``. TIFF, OME-TIFF and zarr stay with their
own readers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .checks import pixel_problem
from .item import Item
from .physical import axis_pixel_attrs, channel_attrs

#: Suffixes read through bioio and the plugin that reads each.
PLUGINS = {".czi": "bioio-czi", ".nd2": "bioio-nd2", ".lif": "bioio-lif", ".dv": "bioio-dv",
           ".vsi": "bioio-vsi", ".oib": "bioio-bioformats", ".oif": "bioio-bioformats",
           ".ims": "bioio-bioformats"}
_LETTERS = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}


def _plugin(path: str) -> tuple[str, str]:
    suffix = Path(path).suffix.lower()
    return suffix, PLUGINS.get(suffix, "the bioio plugin for the format")


def _image(path: str) -> Any:
    """``bioio.BioImage(path)``, every failure a one-line :class:`InputError`."""
    suffix, plugin = _plugin(path)
    try:
        import bioio
        from bioio_base.exceptions import UnsupportedFileFormatError
    except ImportError:
        raise InputError(f"reading {suffix} files needs the bioio extra: "
                         f"pip install 'restoration[bioio]' {plugin}", path=path) from None
    try:
        return bioio.BioImage(path)
    except UnsupportedFileFormatError:
        raise InputError(f"no installed bioio plugin reads this {suffix} file: pip install {plugin}",
                         path=path) from None
    except Exception as exc:  # plugins raise many types on garbage
        raise InputError(f"not a readable {suffix} file ({type(exc).__name__}: {exc})",
                         path=path) from None


def _selection(img: Any, where: str) -> tuple[tuple[int | slice, ...], str, tuple[int, ...]]:
    """The index into the current scene keeping every dimension but singletons (y and x always
    kept), and the axes letters and shape of what it keeps."""
    dims = [(d, int(n)) for d, n in zip(img.dims.order, img.shape)]
    keep = [n > 1 or d in "YX" for d, n in dims]
    letters = [d for (d, _), k in zip(dims, keep) if k]
    if any(d not in _LETTERS for d in letters) or {"C", "S"} <= set(letters):
        raise InputError(f"bioio dimensions {img.dims.order} {tuple(img.shape)} do not map to "
                         "t, c, z, y, x", path=where)
    index = tuple(slice(None) if k else 0 for k in keep)
    shape = tuple(n for (_, n), k in zip(dims, keep) if k)
    return index, "".join(_LETTERS[d] for d in letters), shape


def _scene_item(img: Any, path: str, name: str, scene: int | None) -> Item:
    """The item of scene number ``scene`` (None when the file has only one)."""
    where = path if scene is None else f"{path}/{scene}"
    try:
        if scene is not None:
            img.set_scene(scene)
        _, axes, shape = _selection(img, where)
        dtype = np.dtype(img.dtype)
        sizes = img.physical_pixel_sizes
        names = list(img.channel_names or [])
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read bioio metadata ({type(exc).__name__}: {exc})",
                         path=where) from None
    problem = pixel_problem(math.prod(n for n, a in zip(shape, axes) if a != "c"))
    if problem:
        raise InputError(problem, path=where)
    attrs = axis_pixel_attrs(axes, {a: (getattr(sizes, a.upper()), "micrometer") for a in "zyx"})
    attrs |= channel_attrs(names, axes, shape)
    return Item(name=name if scene is None else f"{name}.{scene}", source=path,
                array_path=None if scene is None else str(scene), format="bioio", shape=shape,
                dtype=dtype.newbyteorder("="), axes=axes, attrs=attrs)


def probe_bioio(path: str, name: str) -> list[Item]:
    """Describe the scenes of a file bioio reads: shape, dtype, axes, pixel sizes (bioio's
    ``physical_pixel_sizes``, micrometers) and channel names, from its metadata.

    Raises
    ------
    InputError
        bioio or the format's plugin not installed, an unreadable file, dimensions that do not
        map to ``tczyx``, or an image larger than the pixel budget.
    """
    img = _image(path)
    scenes = [None] if len(img.scenes) == 1 else range(len(img.scenes))
    return [_scene_item(img, path, name, scene) for scene in scenes]


class _Lazy:
    """A bioio dask array behind numpy basic slicing: each read computes only its block."""

    def __init__(self, data: Any):
        self._data = data
        self.shape = tuple(int(n) for n in data.shape)
        self.dtype = np.dtype(data.dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self._data[key])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._data, dtype=dtype)


def open_bioio(item: Item) -> _Lazy:
    """The item's scene as a lazily read array of ``item.shape``."""
    img = _image(item.source)
    try:
        img.set_scene(int(item.array_path or 0))
        index = _selection(img, item.where)[0]
        data = img.dask_data[index]
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"cannot read bioio image data ({type(exc).__name__}: {exc})",
                         path=item.where) from None
    if tuple(data.shape) != item.shape:
        raise InputError(f"image changed shape since it was found: {tuple(data.shape)}",
                         path=item.where)
    return _Lazy(data)
