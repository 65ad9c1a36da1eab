"""The output store: what a run writes to OUTDIR and how it is read back.

Modules, lowest first (each imports only those above it):

- :mod:`.layout`: the names of OUTDIR's files and folders; opening restored.zarr; clearing outputs.
- :mod:`.files`: small files (run.json, the CSVs) written whole or not at all.
- :mod:`.locks`: one run at a time per OUTDIR.
- :mod:`.chunks`: chunk shapes of the output and of the orientation parts.
- :mod:`.ome_metadata`: OME-Zarr axes, scales and channel metadata (and whether channels are RGB).
- :mod:`.ome_zarr`: an item's OME-Zarr image group and its pyramid.
- :mod:`.items`: the restored items and their provenance (the completion marker).
- :mod:`.parts`, :mod:`.progress`: the working store of ``--planes`` and the progress markers.

The readers are importable from the package itself::

    from restoration.store import open_store, item_array, item_provenance
"""

from .items import has_std, item_array, item_provenance, std_array
from .layout import open_store

__all__ = ["has_std", "item_array", "item_provenance", "open_store", "std_array"]
