"""napari reader of ``restored.zarr``: every complete item as an image layer, with its provenance
and std map in the layer metadata, and the std map as a layer of its own (hidden)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..store.layout import STORE


def store_path(path) -> Path | None:
    """The ``restored.zarr`` that ``path`` names: the store itself or an OUTDIR holding one."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    p = Path(str(path))
    if p.name == STORE and p.is_dir():
        return p
    if (p / STORE).is_dir():
        return p / STORE
    return None


def get_reader(path) -> Callable | None:
    """npe2 reader hook: :func:`read_restored` for a ``restored.zarr`` (or its OUTDIR), else None."""
    return read_restored if store_path(path) is not None else None


def _level0(store, name: str):
    import zarr

    from ..store import item_array

    arr = item_array(store, name)
    return arr if isinstance(arr, zarr.Array) else arr[...]  # a view in the item's axis order: read it


def read_restored(path) -> list[tuple]:
    """Layer data tuples of every complete item of the store at ``path``, in name order: the
    restored image (``metadata["restoration"]``: its provenance; ``metadata["std"]``: its std map
    when there is one), then its std map (hidden, ``<name> std``)."""
    import zarr

    from ..store.ome_metadata import is_rgb
    from ..store.items import has_std, item_provenance, std_name
    from .layers import geometry

    store = zarr.open_group(str(store_path(path)), mode="r", zarr_format=3)
    layers = []
    for name in sorted(store.group_keys()):
        prov = item_provenance(store, name)
        if not prov or not prov.get("complete") or "of" in prov:  # unfinished, or a std map (read with its item)
            continue
        data = _level0(store, name)
        axes = prov.get("axes") or "yx"
        rgb = is_rgb(str(prov.get("format")), prov.get("input_attrs"), axes, data.shape) or bool(prov.get("rgb"))
        where = geometry(axes, prov.get("input_attrs"), rgb)
        meta = {"restoration": prov}
        std = None
        if has_std(store, name):
            std = _level0(store, std_name(name))
            meta["std"] = std
        layers.append((data, {"name": name, "rgb": rgb, "metadata": meta, **where}, "image"))
        if std is not None:  # an RGB item's std map as one grey layer: the mean over its colours
            layers.append((std[...].mean(axis=-1) if rgb else std,
                           {"name": f"{name} std", "visible": False, "colormap": "magma",
                            "metadata": {"restoration": {**prov, "of": name}}, **where}, "image"))
    return layers
