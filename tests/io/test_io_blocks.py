"""Bounded C-order blocks and content fingerprints."""

import numpy as np
import pytest
import tifffile
import zarr

from restoration.io import discover, fingerprint, iter_blocks


@pytest.mark.parametrize("shape, max_bytes, chunks", [
    ((5, 6, 7), 4 * 6 * 7 * 2, None),   # two planes per block
    ((5, 6, 7), 4 * 7 * 4, None),       # four rows per block
    ((5, 6, 7), 4 * 3, None),           # three elements per block
    ((5, 6, 7), 1, None),               # one element (more than the budget)
    ((5, 6, 7), 10**9, None),           # everything at once
    ((2, 40, 9), 4 * 9 * 25, (1, 8, 9)),  # 25 rows fit, aligned down to 24
    ((3,), 4, None),
])
def test_blocks_cover_the_array_in_c_order(shape, max_bytes, chunks):
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    blocks = list(iter_blocks(shape, 4, max_bytes, chunks))
    joined = np.concatenate([data[sel].ravel() for sel in blocks])
    np.testing.assert_array_equal(joined, data.ravel())
    assert all(data[sel].nbytes <= max(max_bytes, 4) for sel in blocks)
    if chunks:
        assert all(sel[1].start % chunks[1] == 0 for sel in blocks)


def test_no_blocks_for_empty():
    assert list(iter_blocks((0, 5), 4, 100)) == []


def test_fingerprint_stable_and_content_sensitive(tmp_path, ramp):
    data = ramp((30, 40), "float32")
    np.save(tmp_path / "a.npy", data)
    (item,) = discover([str(tmp_path / "a.npy")])
    fp = fingerprint(item)
    assert fp.startswith("sha256:") and len(fp) == 7 + 64
    assert fingerprint(item) == fp
    assert fingerprint(item, block_bytes=100) == fp  # block size does not matter

    changed = data.copy()
    changed[17, 3] += 1e-3
    np.save(tmp_path / "b.npy", changed)
    np.save(tmp_path / "c.npy", data.reshape(40, 30))
    np.save(tmp_path / "d.npy", data.astype(np.float64))
    paths = [str(tmp_path / n) for n in ("b.npy", "c.npy", "d.npy")]
    others = {fingerprint(i) for i in discover(paths)}
    assert fp not in others and len(others) == 3


def test_fingerprint_depends_on_values_not_format(tmp_path, ramp):
    data = ramp((3, 30, 40), "uint16")
    np.save(tmp_path / "n.npy", data)
    np.save(tmp_path / "be.npy", data.astype(">u2"))
    tifffile.imwrite(tmp_path / "t.tif", data, compression="zlib", photometric="minisblack")
    zarr.create_array(str(tmp_path / "z.zarr"), data=data, chunks=(1, 7, 9))
    fps = {fingerprint(i) for i in discover([str(tmp_path)])}
    assert len(fps) == 1


def test_known_value():
    """Pins the definition: a change here breaks resume of existing outputs."""
    import hashlib

    from restoration.io.blocks import Fingerprint

    fp = Fingerprint((2, 2), "uint8")
    fp.update(np.array([[1, 2], [3, 4]], np.uint8))
    expected = hashlib.sha256(b"shape=(2, 2);dtype=uint8;" + bytes([1, 2, 3, 4])).hexdigest()
    assert fp.hexdigest() == "sha256:" + expected


def test_fingerprint_streams_npy_in_bounded_memory(tmp_path):
    import tracemalloc

    data = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32,
                                     shape=(1024, 4096))  # 16 MiB
    data[::7] = 1.5
    data.flush()
    del data
    (item,) = discover([str(tmp_path / "big.npy")])
    tracemalloc.start()
    try:
        fingerprint(item, block_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20


def test_corrupt_zarr_chunk_is_an_input_error(tmp_path, ramp):
    from restoration.errors import InputError

    zarr.open_group(str(tmp_path / "g.zarr"), mode="w").create_array(
        "v", data=ramp((2, 20, 30), "float32"), chunks=(1, 20, 30))
    (tmp_path / "g.zarr" / "v" / "c" / "1" / "0" / "0").write_bytes(b"garbage")
    (item,) = discover([str(tmp_path / "g.zarr")])
    with pytest.raises(InputError, match="cannot read data") as err:
        fingerprint(item)
    assert "g.zarr/v" in str(err.value)
