"""PNG and JPEG inputs: modes, 16-bit, corruption, decompression bombs."""

import numpy as np
import pytest
from PIL import Image

from restoration.errors import InputError
from restoration.io import discover, read_array


def smooth(shape, dtype="uint8"):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = (yy * 7 + xx * 3) % 200 + 20
    if len(shape) == 3:
        base = np.stack([base + 10 * k for k in range(shape[2])], -1)
    return base.astype(dtype)


@pytest.mark.parametrize("shape, mode, axes", [((20, 30), "L", "yx"), ((20, 30, 3), "RGB", "yxc"),
                                               ((20, 30, 4), "RGBA", "yxc")])
def test_png_uint8_round_trip(tmp_path, ramp, shape, mode, axes):
    data = ramp(shape, "uint8")
    path = tmp_path / "pic.png"
    Image.fromarray(data).save(path)
    (item,) = discover([str(path)])
    assert (item.name, item.format, item.shape, item.dtype, item.axes) == (
        "pic", "png", shape, np.dtype("uint8"), axes)
    assert item.attrs["mode"] == mode
    np.testing.assert_array_equal(item.open(), data)
    np.testing.assert_array_equal(read_array(str(path))[0], data)


def test_png_uint16_keeps_16_bits(tmp_path, ramp):
    data = ramp((20, 30), "uint16")
    path = tmp_path / "deep.png"
    Image.fromarray(data).save(path)
    (item,) = discover([str(path)])
    assert item.dtype == np.uint16 and item.axes == "yx"
    out = item.open()
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, data)


def test_png_16bit_colour_is_refused(tmp_path, write_png_raw):
    rows = b"".join(b"\x00" + bytes(6 * 4) for _ in range(4))
    path = write_png_raw(tmp_path / "rgb16.png", 4, 4, 16, 2, rows)
    with pytest.raises(InputError, match="16-bit colour PNG") as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_palette_bilevel_and_gray_alpha(tmp_path):
    data = smooth((20, 30, 3))
    Image.fromarray(data).convert("P", palette=Image.Palette.ADAPTIVE).save(tmp_path / "pal.png")
    Image.fromarray(smooth((20, 30)) > 100).save(tmp_path / "bw.png")
    Image.fromarray(smooth((20, 30))).convert("LA").save(tmp_path / "la.png")
    bw, la, pal = discover([str(tmp_path)])
    assert (pal.shape, pal.axes) == ((20, 30, 3), "yxc")
    assert pal.open().shape == (20, 30, 3)
    assert bw.dtype == np.uint8 and set(np.unique(bw.open())) <= {0, 255}
    assert la.shape == (20, 30)
    np.testing.assert_array_equal(la.open(), smooth((20, 30)))


@pytest.mark.parametrize("shape, axes", [((24, 32), "yx"), ((24, 32, 3), "yxc")])
def test_jpeg_round_trip(tmp_path, shape, axes):
    data = smooth(shape)
    path = tmp_path / "photo.jpg"
    Image.fromarray(data).save(path, quality=95)
    (item,) = discover([str(path)])
    assert (item.name, item.format, item.shape, item.dtype, item.axes) == (
        "photo", "jpeg", shape, np.dtype("uint8"), axes)
    out = item.open()
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - data).mean() < 3


@pytest.mark.parametrize("suffix", [".png", ".jpeg"])
def test_truncated(tmp_path, ramp, suffix):
    path = tmp_path / f"cut{suffix}"
    Image.fromarray(ramp((64, 64, 3), "uint8")).save(path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError) as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_png_corrupt_crc(tmp_path, ramp):
    path = tmp_path / "flip.png"
    Image.fromarray(ramp((64, 64), "uint8")).save(path)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="corrupt") as err:
        discover([str(path)])
    assert str(path) in str(err.value)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_not_an_image(tmp_path, suffix):
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(b"this is not an image" * 3)
    with pytest.raises(InputError) as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_pil_decompression_bomb_becomes_input_error(tmp_path, write_png_raw):
    # Header claims 20000 x 20000 (below our 2**30 budget, above Pillow's own limit).
    path = write_png_raw(tmp_path / "bomb.png", 20000, 20000, 8, 0)
    with pytest.raises(InputError, match="decompression bomb") as err:
        discover([str(path)])
    assert str(path) in str(err.value)


def test_pixel_budget_is_checked_before_decoding(tmp_path, write_png_raw, monkeypatch, ramp):
    bomb = write_png_raw(tmp_path / "huge.png", 70000, 70000, 8, 0)  # 4.9e9 > 2**30
    with pytest.raises(InputError, match="exceeds the limit") as err:
        discover([str(bomb)])
    assert str(bomb) in str(err.value)
    jpg = tmp_path / "small.jpg"
    Image.fromarray(ramp((20, 20), "uint8")).save(jpg)
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "100")
    with pytest.raises(InputError, match="RESTORATION_MAX_PIXELS"):
        discover([str(jpg)])


def test_too_small(tmp_path, ramp):
    path = tmp_path / "tiny.png"
    Image.fromarray(ramp((2, 30), "uint8")).save(path)
    with pytest.raises(InputError, match="too small") as err:
        discover([str(path)])
    assert str(path) in str(err.value)
