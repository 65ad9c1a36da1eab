"""`restoration run` keeps the pixel sizes of OME inputs: an OME-TIFF (0.65 µm pixels) and an
OME-Zarr 0.5 image reach the output's provenance (``input_attrs``, the item's attrs)."""

import numpy as np
import pytest
import tifffile
import zarr

from restoration.store import item_provenance
from restoration_flows.cli import main

UM = "micrometer"


def test_run_keeps_ome_pixel_sizes(tmp_path):
    import ome_zarr.format
    import ome_zarr.writer

    rng = np.random.default_rng(0)
    smooth = np.add.outer(np.linspace(0.2, 0.8, 64), np.linspace(0, 0.2, 64)).astype(np.float32)
    tifffile.imwrite(tmp_path / "cells.ome.tif", smooth + rng.normal(0, 0.05, (64, 64)).astype(np.float32),
                     ome=True, metadata={"axes": "YX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65})
    volume = np.stack([smooth] * 3) + rng.normal(0, 0.05, (3, 64, 64)).astype(np.float32)
    ome_zarr.writer.write_image(volume, str(tmp_path / "vol.ome.zarr"), axes="zyx",
                                fmt=ome_zarr.format.FormatV05(), scale={"z": 2.0, "y": 0.5, "x": 0.5},
                                axes_units={a: UM for a in "zyx"}, scale_factors=(2,))
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "cells.ome.tif"), str(tmp_path / "vol.ome.zarr"), "-o", str(out),
                 "--denoiser", "nlm", "--sigma", "0.05"]) == 0
    store = zarr.open_group(str(out / "restored.zarr"), mode="r")
    assert sorted(store.keys()) == ["cells", "vol"]  # one item per image, not one per level
    cells, vol = (item_provenance(store, name)["input_attrs"] for name in ("cells", "vol"))
    assert cells["scale"] == pytest.approx([0.65, 0.65]) and cells["units"] == [UM, UM]
    assert vol["scale"] == pytest.approx([2.0, 0.5, 0.5]) and vol["units"] == [UM] * 3
