"""Training data: clean images from files, zarr arrays or scikit-image's bundled images.

The held-out scikit-image images are never trained on; benchmarks evaluate on them.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

# Classic test images kept out of training; benchmarks/denoise_quality.py evaluates on these.
HELD_OUT = ("camera", "astronaut", "coffee", "coins")
# scikit-image images bundled with the package (no download), used for training.
TRAIN = ("brick", "chelsea", "clock", "grass", "gravel", "hubble_deep_field", "immunohistochemistry",
         "moon", "page", "retina", "rocket", "text", "cell", "microaneurysms", "colorwheel", "logo",
         "shepp_logan_phantom", "checkerboard")


def skimage_image(name: str) -> np.ndarray:
    """One bundled scikit-image image as float32 in [0, 1], (y, x) or (y, x, 3)."""
    from skimage import data
    from skimage.util import img_as_float32

    image = img_as_float32(getattr(data, name)())
    if image.ndim == 3 and image.shape[-1] == 4:  # RGBA logo: drop alpha
        image = image[..., :3]
    return image


def to_gray(image: np.ndarray) -> np.ndarray:
    """Luminance (Rec. 709 weights) of a (y, x, 3+) image as float32; a (y, x) image is returned as is."""
    if image.ndim == 2:
        return image
    return (image[..., :3] @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)).astype(np.float32)


def dead_leaves(size: int, rng: np.random.Generator, n_shapes: int = 600) -> np.ndarray:
    """A dead-leaves image: occluding discs and rectangles with power-law sizes and smooth shading.

    Synthetic images with natural-image statistics (scale invariance, occlusion edges) extend the
    small bundled training set.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    image = np.full((size, size), rng.uniform(0, 1), dtype=np.float32)
    rmin, rmax = 2.0, size / 3
    for _ in range(n_shapes):
        u = rng.uniform()
        r = (rmin ** -2 + u * (rmax ** -2 - rmin ** -2)) ** -0.5  # density ~ r^-3
        cy, cx = rng.uniform(-r, size + r, 2)
        if rng.uniform() < 0.6:
            inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        else:
            a = rng.uniform(0, np.pi)
            dy, dx = yy - cy, xx - cx
            inside = (np.abs(dy * np.cos(a) + dx * np.sin(a)) < r) & (np.abs(-dy * np.sin(a) + dx * np.cos(a)) < r * rng.uniform(0.2, 1))
        base = rng.uniform(0, 1)
        gy, gx = rng.normal(0, 0.3 / max(r, 1), 2)
        value = base + gy * (yy - cy) + gx * (xx - cx)
        image[inside] = value[inside]
    return np.clip(image, 0, 1)


def text_and_lines(size: int, rng: np.random.Generator) -> np.ndarray:
    """Rendered text and line art at several scales: what photographs under-represent.

    Lines of random characters (Pillow's bundled scalable font, 6 to 60 px high, any grey on any
    grey, some rotated), strokes, outlines of polygons and ellipses, hatching; the whole image
    blurred a little (as print and screens are when photographed) with a random anti-aliasing.

    Examples
    --------
    >>> img = text_and_lines(128, np.random.default_rng(0))
    >>> img.shape, img.dtype, bool(0 <= img.min() and img.max() <= 1)
    ((128, 128), dtype('float32'), True)
    """
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    canvas = Image.new("L", (size, size), int(rng.integers(256)))
    draw = ImageDraw.Draw(canvas)
    chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,;:-+=()/%"
    for _ in range(int(rng.integers(6, 20))):
        kind = rng.uniform()
        ink = int(rng.integers(256))
        if kind < 0.6:   # a paragraph of text
            height = float(np.exp(rng.uniform(np.log(6), np.log(60))))
            font = ImageFont.load_default(size=height)
            lines = ["".join(rng.choice(list(chars + " " * 12), int(rng.integers(4, 60))))
                     for _ in range(int(rng.integers(1, max(2, size // height))))]
            layer = Image.new("L", (size * 2, size * 2), 0)
            ImageDraw.Draw(layer).multiline_text((0, 0), "\n".join(lines), fill=255, font=font)
            layer = layer.rotate(float(rng.choice([0, 0, 0, 90, rng.uniform(-30, 30)])), expand=True)
            canvas.paste(ink, (int(rng.integers(-size // 2, size)), int(rng.integers(-size // 4, size))), layer)
        elif kind < 0.8:   # strokes and hatching
            width = int(rng.integers(1, 6))
            x0, y0 = rng.uniform(0, size, 2)
            dx, dy = rng.normal(0, size / 3, 2)
            for k in range(int(rng.choice([1, 1, rng.integers(3, 15)]))):
                off = k * rng.uniform(2, 8)
                draw.line([(x0 + off, y0), (x0 + dx + off, y0 + dy)], fill=ink, width=width)
        else:   # outlines of polygons and ellipses
            box = sorted(rng.uniform(-size / 4, size * 1.25, 2)), sorted(rng.uniform(-size / 4, size * 1.25, 2))
            xy = [box[0][0], box[1][0], box[0][1], box[1][1]]
            if rng.uniform() < 0.5:
                draw.ellipse(xy, outline=ink, width=int(rng.integers(1, 5)))
            else:
                draw.polygon([tuple(v) for v in rng.uniform(0, size, (int(rng.integers(3, 7)), 2))], outline=ink,
                             width=int(rng.integers(1, 5)))
    canvas = canvas.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 0.8))))
    return np.asarray(canvas, dtype=np.float32) / 255


def _planes(image: np.ndarray, channels: int) -> list[np.ndarray]:
    """(C, y, x) training planes from a (y, x) or (y, x, 3) image."""
    if channels == 1:
        if image.ndim == 2:
            return [image[None]]
        # Each colour channel is a grayscale image of its own, as well as the luminance.
        return [np.ascontiguousarray(image[None, ..., c]) for c in range(3)] + [to_gray(image)[None]]
    if image.ndim == 2:
        return [np.repeat(image[None], channels, axis=0)]
    return [np.ascontiguousarray(np.moveaxis(image[..., :channels], -1, 0))]


def load_training_images(sources: list[str], rng: np.random.Generator, *, channels: int = 1,
                         synthetic: int = 0, text: int = 0) -> tuple[list[np.ndarray], list[str]]:
    """Training images as (C, y, x) float32 in [0, 1] and a description of where each came from.

    ``sources`` entries: ``skimage`` (the training subset), ``skimage:NAME[,NAME]``, or anything
    :func:`restoration.io.discover` reads (files, directories, globs, zarr; every plane is used).
    ``synthetic`` adds that many 256x256 dead-leaves images, ``text`` that many 256x256 images of
    rendered text and line art (:func:`text_and_lines`).
    """
    if channels not in (1, 3):
        raise InputError("--channels must be 1 (grayscale) or 3 (RGB)")
    images, described = [], []
    for src in sources:
        if src == "skimage" or src.startswith("skimage:"):
            names = TRAIN if src == "skimage" else tuple(src.split(":", 1)[1].split(","))
            for name in names:
                if name in HELD_OUT:
                    raise InputError(f"{name} is a held-out evaluation image and cannot be trained on")
                images.extend(_planes(skimage_image(name), channels))
                described.append(f"skimage:{name}")
        else:
            from ..io import discover

            for item in discover([src]):  # files, directories, globs, zarr arrays and groups
                arr = np.asarray(item.open()[...], dtype=np.float32)
                if not np.isfinite(arr).all():  # NaN spreads through the loss into every weight
                    raise InputError("training data contains NaN or infinite values", path=item.where)
                lo, hi = np.nanpercentile(arr, [0.1, 99.9])
                arr = np.clip((arr - lo) / max(hi - lo, 1e-12), 0, 1)
                if "c" in item.axes:
                    arr = np.moveaxis(arr, item.axes.index("c"), -1)
                    arr = arr.reshape(-1, *arr.shape[-3:])
                    arr = arr[..., :3] if arr.shape[-1] >= 3 else arr[..., 0]
                else:
                    arr = arr.reshape(-1, *arr.shape[-2:])
                for plane in arr:
                    images.extend(_planes(plane, channels))
                described.append(item.where)
    images.extend(np.repeat(dead_leaves(256, rng)[None], channels, axis=0) for _ in range(synthetic))
    if synthetic:
        described.append(f"dead-leaves x{synthetic}")
    images.extend(np.repeat(text_and_lines(256, rng)[None], channels, axis=0) for _ in range(text))
    if text:
        described.append(f"text-and-lines x{text}")
    return images, described


class PatchSampler:
    """Random patches with flips, 90-degree rotations, half-size copies and contrast changes."""

    def __init__(self, images: list[np.ndarray], patch: int, rng: np.random.Generator):
        from skimage.transform import rescale

        self.rng = rng
        self.patch = patch
        pool = []
        for img in images:
            pool.append(img)
            # Half-size copies: new scales of structure, and cleaner (their noise averages out).
            if min(img.shape[1:]) >= 2 * patch:
                pool.append(rescale(img, 0.5, anti_aliasing=True, channel_axis=0).astype(np.float32))
        self.images = [i for i in pool if min(i.shape[1:]) >= patch]
        if not self.images:
            raise InputError(f"no training image is at least {patch}x{patch} (lower --patch)")
        weights = np.array([np.sqrt(i[0].size) for i in self.images])
        self.p = weights / weights.sum()
        self.channels = self.images[0].shape[0]

    def batch(self, n: int) -> np.ndarray:
        """``n`` random training patches, ``(n, C, patch, patch)`` float32 in [0, 1].

        Images are drawn with probability proportional to the square root of their pixel count; each
        patch is then randomly rotated, flipped and, sometimes, rescaled in contrast and level or inverted.
        """
        out = np.empty((n, self.channels, self.patch, self.patch), dtype=np.float32)
        for k in range(n):
            img = self.images[self.rng.choice(len(self.images), p=self.p)]
            y = self.rng.integers(0, img.shape[1] - self.patch + 1)
            x = self.rng.integers(0, img.shape[2] - self.patch + 1)
            p = img[:, y:y + self.patch, x:x + self.patch]
            p = np.rot90(p, self.rng.integers(4), axes=(1, 2))
            if self.rng.uniform() < 0.5:
                p = p[:, :, ::-1]
            if self.rng.uniform() < 0.3:  # contrast and level changes, staying in [0, 1]
                a = self.rng.uniform(0.3, 1.0)
                p = p * a + self.rng.uniform(0, 1 - a)
            if self.rng.uniform() < 0.2:
                p = 1 - p
            out[k] = p
        return out
