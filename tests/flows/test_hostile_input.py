"""Hostile inputs through ``restoration run`` (in-process CLI, the real Prefect flow).

Every case must: exit 2; print exactly one stderr line naming the file and the problem (never a
traceback); leave the input byte-identical; mark nothing complete for the bad item. Per-item
problems are also run together next to a good ``.npy`` (one run): the good item is restored and complete, quality.csv
lists the bad one as ``failed`` with a one-line error, and report.html mentions it. Whole-run usage
errors (unknown names, a corrupt model file, OUTDIR inside an input directory) stop before anything
is written.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr

from hostile import NLM, complete, err_lines, failure_lines, garbage, noisy, snapshot
from restoration_flows.cli import main


# ---------------------------------------------------------------------------------------------
# Writers of hostile files (real bytes, no mocks).

def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking 8-bit grayscale PNG whose IHDR claims ``width x height`` (tiny on disk)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def tiff_claiming(width: int, height: int) -> bytes:
    """A little-endian deflate-compressed 8-bit TIFF whose tags claim ``width x height``, one strip of
    a few hundred bytes (a decompression bomb: ~10 GB if decoded)."""
    data = zlib.compress(b"\x00" * 100_000)
    entries = [  # (tag, type, value): type 3 SHORT, 4 LONG
        (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1),
        (273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, len(data)),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    data_offset = 8 + ifd_size
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        if tag == 273:
            value = data_offset
        ifd += struct.pack("<HHI", tag, kind, 1) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + data


def _tiff_bytes(arr: np.ndarray) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, arr)
    return buf.getvalue()


def _png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


class Marker:
    """Unpickling this object creates the file ``path`` (proof that a file was unpickled)."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (exec, (f"open({self.path!r}, 'w').close()",))


def _object_npy(path: Path, marker: Path) -> None:
    np.save(path, np.array([Marker(marker), 1], dtype=object), allow_pickle=True)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# Per-item cases: ``make(indir) -> (input path, substring of the problem)``. The file is named
# after the case so the item name and the file name are checked in the message.

def _missing(d):
    return d / "missing.npy", "no such file"


def _unsupported(d):
    return _write(d / "picture.bmp", b"BM" + garbage(64)), "unsupported file type"


def _truncated_tiff(d):
    raw = _tiff_bytes((noisy(48) * 1000).astype(np.uint16))
    return _write(d / "cut_tiff.tif", raw[: len(raw) // 2]), "truncated"


def _truncated_png(d):
    raw = _png_bytes((noisy(48) * 255).clip(0, 255).astype(np.uint8))
    return _write(d / "cut_png.png", raw[: len(raw) // 2]), "truncated"


def _truncated_npy(d):
    raw = _npy_bytes(noisy(48))
    return _write(d / "cut_npy.npy", raw[: len(raw) // 2]), "truncated"


def _garbage_tiff(d):
    return _write(d / "junk_tiff.tif", garbage(seed=1)), "not a readable TIFF"


def _garbage_png(d):
    return _write(d / "junk_png.png", garbage(seed=2)), "not a valid PNG"


def _garbage_npy(d):
    return _write(d / "junk_npy.npy", garbage(seed=3)), "not a valid .npy"


def _empty_zarr(d):
    zarr.open_group(str(d / "empty.zarr"), mode="w", zarr_format=3)
    return d / "empty.zarr", "no arrays"


def _corrupt_zarr(d):
    (d / "broken.zarr").mkdir()
    _write(d / "broken.zarr" / "zarr.json", b"{not json" + garbage(256, seed=4))
    return d / "broken.zarr", "corrupt zarr metadata"


def _zero_size(d):
    np.save(d / "zero.npy", np.zeros((0, 16), np.float32))
    return d / "zero.npy", "zero-size"


def _one_pixel(d):
    return _write(d / "dot.png", _png_bytes(np.array([[128]], np.uint8))), "too small"


def _all_nan(d):
    np.save(d / "allnan.npy", np.full((32, 32), np.nan, np.float32))
    return d / "allnan.npy", "NaN"


def _complex(d):
    np.save(d / "cplx.npy", (noisy() + 1j * noisy(seed=1)).astype(np.complex64))
    return d / "cplx.npy", "complex64"


def _bool(d):
    np.save(d / "mask.npy", noisy() > 0.5)
    return d / "mask.npy", "bool"


def _object(d):
    _object_npy(d / "objects.npy", d.parent / "UNPICKLED")
    return d / "objects.npy", "Python objects"


def _png_bomb(d):
    return _write(d / "bomb_png.png", png_claiming(100_000, 100_000)), "decompression bomb"


def _tiff_bomb(d):
    return _write(d / "bomb_tiff.tif", tiff_claiming(100_000, 100_000)), "decompression bomb"


ITEM_CASES = {f.__name__.lstrip("_"): f for f in (
    _missing, _unsupported, _truncated_tiff, _truncated_png, _truncated_npy, _garbage_tiff, _garbage_png,
    _garbage_npy, _empty_zarr, _corrupt_zarr, _zero_size, _one_pixel, _all_nan, _complex, _bool, _object,
    _png_bomb, _tiff_bomb)}


# ---------------------------------------------------------------------------------------------
# Helpers

def _setup(tmp_path: Path, case: str):
    indir = tmp_path / "in"
    indir.mkdir()
    path, needle = ITEM_CASES[case](indir)
    return indir, path, needle


# ---------------------------------------------------------------------------------------------
# Per-item problems

@pytest.mark.parametrize("case", list(ITEM_CASES))
def test_single_bad_item_exits_2_with_one_line(tmp_path, capsys, case):
    indir, path, needle = _setup(tmp_path, case)
    before = snapshot(indir)
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["run", str(path), "-o", str(out), *NLM])
    lines = err_lines(capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    line = lines[0]
    assert "Traceback" not in line
    assert path.name in line and needle.lower() in line.lower(), line
    assert snapshot(indir) == before
    assert not complete(out, path.stem)
    assert not (tmp_path / "UNPICKLED").exists()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One run over a good ``.npy`` and every per-item case at once (one Prefect flow run, not 18)."""
    import contextlib

    root = tmp_path_factory.mktemp("batch")
    indir = root / "in"
    indir.mkdir()
    np.save(indir / "good.npy", noisy(seed=9))
    cases = {case: make(indir) for case, make in ITEM_CASES.items()}
    before = snapshot(indir)
    out = root / "out"
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):  # the console writes to whatever sys.stderr is
        code = main(["run", str(indir / "good.npy"), *(str(p) for p, _ in cases.values()), "-o", str(out), *NLM])
    return {"root": root, "indir": indir, "out": out, "cases": cases, "before": before, "code": code,
            "lines": [line for line in stderr.getvalue().splitlines() if line.strip()]}


def test_batch_restores_the_good_item(batch):
    out = batch["out"]
    assert batch["code"] == 2
    assert complete(out, "good")
    quality = pd.read_csv(out / "quality.csv", keep_default_na=False).set_index("name")
    assert quality.loc["good", "status"] == "ok" and len(quality) == 1 + len(ITEM_CASES)
    assert list(quality.index) == sorted(quality.index)   # failed-at-discovery items do not come first
    assert snapshot(batch["indir"]) == batch["before"]
    assert not any("Traceback" in line for line in batch["lines"])
    assert len(failure_lines(batch["lines"])) == len(ITEM_CASES), batch["lines"]
    assert not (batch["root"] / "UNPICKLED").exists()


@pytest.mark.parametrize("case", list(ITEM_CASES))
def test_bad_item_next_to_a_good_one(batch, case):
    path, needle = batch["cases"][case]
    out = batch["out"]
    failures = [line for line in failure_lines(batch["lines"]) if f": {path.stem}: " in line]
    assert len(failures) == 1, batch["lines"]
    assert path.name in failures[0] and needle.lower() in failures[0].lower(), failures
    assert not complete(out, path.stem)
    quality = pd.read_csv(out / "quality.csv", keep_default_na=False).set_index("name")
    assert quality.loc[path.stem, "status"] == "failed"
    error = quality.loc[path.stem, "error"]
    assert "\n" not in error and path.name in error and needle.lower() in error.lower()
    assert path.stem in (out / "report.html").read_text()


def test_object_marker_is_live(tmp_path):
    """The pickled payload of the object case really runs when unpickled (so its absence proves
    the run never unpickled it)."""
    marker = tmp_path / "MARKER"
    _object_npy(tmp_path / "evil.npy", marker)
    assert not marker.exists()
    np.load(tmp_path / "evil.npy", allow_pickle=True)
    assert marker.exists()


def test_decompression_bombs_are_tiny_on_disk(tmp_path):
    """The bombs claim 10^10 pixels in a few hundred bytes, and tifffile reads the TIFF's claim."""
    import tifffile

    assert len(png_claiming(100_000, 100_000)) < 200
    raw = tiff_claiming(100_000, 100_000)
    assert len(raw) < 1000
    with tifffile.TiffFile(io.BytesIO(raw)) as tif:
        assert tif.series[0].shape == (100_000, 100_000)


def test_reference_of_another_shape(tmp_path, capsys):
    indir, refdir = tmp_path / "in", tmp_path / "ref"
    indir.mkdir()
    refdir.mkdir()
    np.save(indir / "good.npy", noisy(seed=1))
    np.save(indir / "bad.npy", noisy(seed=2))
    np.save(refdir / "good.npy", noisy(seed=3))
    np.save(refdir / "bad.npy", noisy(size=24, seed=4))
    before = snapshot(tmp_path)

    out = tmp_path / "out1"
    capsys.readouterr()
    code = main(["run", str(indir / "bad.npy"), "-o", str(out), "--reference", str(refdir / "bad.npy"), *NLM])
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "bad.npy" in lines[0] and "shape" in lines[0] and "Traceback" not in lines[0]
    assert not complete(out, "bad")

    out = tmp_path / "out2"
    code = main(["run", str(indir / "good.npy"), str(indir / "bad.npy"), "-o", str(out), "--reference", str(refdir), *NLM])
    lines = err_lines(capsys)
    failures = failure_lines(lines)
    assert code == 2 and len(failures) == 1 and "bad.npy" in failures[0] and "shape" in failures[0], lines
    assert complete(out, "good") and not complete(out, "bad")
    quality = pd.read_csv(out / "quality.csv", keep_default_na=False).set_index("name")
    assert quality.loc["good", "status"] == "ok" and quality.loc["good", "psnr"] != ""
    assert quality.loc["bad", "status"] == "failed" and "shape" in quality.loc["bad", "error"]
    assert "bad" in (out / "report.html").read_text()
    assert snapshot(tmp_path / "in") == {k[3:]: v for k, v in before.items() if k.startswith("in/")}
    assert snapshot(tmp_path / "ref") == {k[4:]: v for k, v in before.items() if k.startswith("ref/")}


def test_reference_holding_nan_is_measured_on_the_rest_with_a_warning(tmp_path, capsys):
    """A reference with non-finite values (a masked or saturated clean frame): the item is restored,
    psnr and ssim stand on the finite pixels (ssim on the windows without a NaN), one warning line
    names the reference and the count, and quality.csv keeps it."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from restoration.report.quality import SSIM_PAD, SSIM_SETTINGS
    from restoration.store import item_array

    (tmp_path / "ref").mkdir()
    np.save(tmp_path / "good.npy", noisy(64, seed=1))
    clean = noisy(64, seed=2)
    clean[40:44, 10:20] = np.nan
    clean[5, 60] = np.inf
    np.save(tmp_path / "ref" / "good.npy", clean)
    before = snapshot(tmp_path)
    capsys.readouterr()
    assert main(["run", str(tmp_path / "good.npy"), "-o", str(tmp_path / "out"), "--reference",
                 str(tmp_path / "ref"), *NLM]) == 0
    printed = capsys.readouterr()
    (line,) = [x for x in (printed.out + printed.err).splitlines() if x.startswith("warning: ")]
    assert "good.npy" in line and "41 non-finite values" in line and "psnr and ssim" in line, line
    quality = pd.read_csv(tmp_path / "out" / "quality.csv", keep_default_na=False).set_index("name")
    assert quality.loc["good", "status"] == "ok" and "41 non-finite" in quality.loc["good", "warning"]
    restored = item_array(zarr.open_group(str(tmp_path / "out" / "restored.zarr"), mode="r"), "good")[:].astype(float)
    finite = np.isfinite(clean)
    rng = float(clean[finite].max() - clean[finite].min())
    assert quality.loc["good", "psnr"] == pytest.approx(
        peak_signal_noise_ratio(clean[finite], restored[finite], data_range=rng), abs=1e-6)
    _, smap = structural_similarity(np.nan_to_num(clean), restored, data_range=rng, full=True, **SSIM_SETTINGS)
    inner = (slice(SSIM_PAD, -SSIM_PAD),) * 2
    clear = np.ones_like(finite)  # windows that do not touch a non-finite pixel
    for y, x in zip(*np.nonzero(~finite)):
        clear[max(0, y - SSIM_PAD):y + SSIM_PAD + 1, max(0, x - SSIM_PAD):x + SSIM_PAD + 1] = False
    assert quality.loc["good", "ssim"] == pytest.approx(smap[inner][clear[inner]].mean(), abs=1e-6)
    assert snapshot(tmp_path / "ref") == {k[4:]: v for k, v in before.items() if k.startswith("ref/")}


# ---------------------------------------------------------------------------------------------
# Whole-run usage errors: exit 2, one line, nothing written.

@pytest.mark.parametrize("option, value, valid", [
    ("--noise", "bogus-noise", ["gaussian", "poisson"]),
    ("--transform", "bogus-transform", ["percentile", "minmax"]),
    ("--denoiser", "bogus-denoiser", ["nlm", "diffusion"]),
])
def test_unknown_name_lists_the_valid_ones(tmp_path, capsys, option, value, valid):
    np.save(tmp_path / "ok.npy", noisy())
    before = snapshot(tmp_path)
    out = tmp_path / "out"
    args = ["run", str(tmp_path / "ok.npy"), "-o", str(out), option, value]
    if option != "--denoiser":
        args += NLM
    capsys.readouterr()
    code = main(args)
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert value in lines[0] and all(v in lines[0] for v in valid) and "Traceback" not in lines[0]
    assert snapshot(tmp_path) == before and not out.exists()


def test_corrupt_model_file(tmp_path, capsys):
    np.save(tmp_path / "ok.npy", noisy())
    model = _write(tmp_path / "garbage.pt", garbage(8192, seed=5))
    before = snapshot(tmp_path)
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["run", str(tmp_path / "ok.npy"), "-o", str(out), "--model", str(model)])
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert "garbage.pt" in lines[0] and "model" in lines[0] and "Traceback" not in lines[0]
    assert snapshot(tmp_path) == before and not out.exists()


def test_pickled_model_file_is_not_unpickled(tmp_path):
    """A model file that is a pickle with a payload: refused, and the payload never runs. Run as a
    real process, so stray warnings printed on stderr count as extra lines."""
    import pickle
    import subprocess
    import sys

    np.save(tmp_path / "ok.npy", noisy())
    marker = tmp_path / "UNPICKLED"
    _write(tmp_path / "evil.pt", pickle.dumps({"format": Marker(marker)}, protocol=4))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "restoration_flows.cli", "run", str(tmp_path / "ok.npy"), "-o", str(out),
                           "--model", str(tmp_path / "evil.pt")], capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "evil.pt" in lines[0], proc.stderr
    assert not marker.exists() and not out.exists()


def test_outdir_inside_the_input_directory(tmp_path, capsys):
    indir = tmp_path / "in"
    indir.mkdir()
    np.save(indir / "ok.npy", noisy())
    before = snapshot(indir)
    capsys.readouterr()
    code = main(["run", str(indir), "-o", str(indir / "out"), *NLM])
    lines = err_lines(capsys)
    assert code == 2 and len(lines) == 1, lines
    assert str(indir / "out") in lines[0] and "inside the input" in lines[0] and "Traceback" not in lines[0]
    assert snapshot(indir) == before and not (indir / "out").exists()
