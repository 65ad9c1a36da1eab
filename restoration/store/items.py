"""The restored items in restoration.zarr: create, open, complete; the provenance marks them complete."""

from __future__ import annotations

from .ome_metadata import is_rgb
from .ome_zarr import create_image, finish_image, image_array, item_axes


def create_item_array(store, name: str, shape, dtype, axes: str, *, tile: int | None = None):
    """A fresh (overwritten) OME-Zarr image group ``name`` and its level 0, in the item's axis
    order (:func:`restoration.store.ome_zarr.create_image`); its provenance says ``complete: False``
    until :func:`finish_item`."""
    return create_image(store, name, shape, dtype, axes, tile=tile)


def item_array(store, name: str, level: int = 0):
    """Item ``name``'s restored array (level 0 unless ``level``), in the item's axis order.

    Use this, not ``store[name]``: the item is an OME-Zarr image group whose arrays are stored in
    OME order (:func:`restoration.store.ome_zarr.image_array`).
    """
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
    OME-Zarr metadata from the item's ``attrs`` (:func:`restoration.store.ome_zarr.finish_image`), then
    the provenance, last (:func:`mark_complete`). An item begun by a version before OME-Zarr (one
    plain array, resumed) is completed as it was begun: its provenance on the array, no pyramid."""
    import zarr

    if not isinstance(store[name], zarr.Array):
        rgb = is_rgb(str(provenance.get("format")), attrs, item_axes(store[name]), item_array(store, name).shape)
        finish_image(store, name, attrs, rgb=rgb)
    mark_complete(store[name], provenance)
