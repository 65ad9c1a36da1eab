"""Pictures from Debian packages: the training set, the validation set and the frozen test set.

One command rebuilds all three from Debian 12 packages (``apt-get download``; nothing is
installed), every picture with its package, path and licence in ``OUT/manifest.csv``::

    python data/debian_pictures.py -o train/pictures

- ``OUT/test/``: the **frozen test set**, 256x256 crops (one grayscale and one colour crop per
  picture) of 38 pictures in 8 content classes, from packages (or, for stellarium-data, picture
  groups) that nothing is trained or decided on. The crops' SHA-256 are committed in
  ``benchmarks/test_set.csv``; a rebuild that differs fails rather than silently changing the set.
  Run it once per model you intend to ship (``benchmarks/denoise_quality.py --set test``).
- ``OUT/validation/``: 256x256 crops of other pictures (the five Debian photographs that guided
  earlier model choices among them), what training decisions are made on.
- ``OUT/train/``: every other picture that passes the filters, long side reduced to at most
  ``--train-side`` pixels by area averaging (which also averages out JPEG artefacts), at most
  ``PER_PACKAGE_CAP`` pictures per package (a seeded draw) so no game's textures dominate.

Filters (training and validation): decodable 8-bit pictures with both sides >= 256 px, not a
normal, gloss, specular, height or mask map (by name, and normal maps by colour), not flat
(luminance std >= 0.05), at most 10 % transparent; transparent parts are composited on a grey.
Every choice is seeded (``SEED``, CRC-32 of the picture's name): rebuilding gives the same files.

Every package is in Debian's main archive (DFSG-free: redistribution and derived works allowed);
the licences each ``debian/copyright`` lists are in ``LICENCES`` and in the model card.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import io
import json
import re
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

Image.MAX_IMAGE_PIXELS = None
SEED = 2026
CROP = 256
PER_PACKAGE_CAP = 220
EXTENSIONS = (".jpg", ".jpeg", ".png", ".tga", ".webp")
ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "benchmarks" / "test_set.csv"

# Licences listed by each package's debian/copyright (Debian 12).
LICENCES = {
    "mate-backgrounds": "GPL-2+, CC-BY-SA-4.0",
    "palapeli-data": "GPL-2+, LGPL-2+, CC0, GFDL-1.2+",
    "plasma-workspace-wallpapers": "GPL-2+",
    "gnome-backgrounds": "CC-BY-SA-3.0, GPL-2",
    "ukui-wallpapers": "CC-BY-SA-3.0",
    "desktop-base": "GPL-2+, GPL-3+, CC-BY-SA-3.0",
    "stellarium-data": "GPL-2+",
    "supertuxkart-data": "CC-BY-SA-3.0, CC-BY-SA-4.0, CC-BY-3.0, CC-BY-4.0, CC0, Apache-2.0, BSD-3-Clause",
    "nexuiz-textures": "GPL-2+",
    "ufoai-textures": "GPL-2+, GPL-3+, CC-BY-3.0, CC-BY-SA-3.0, public domain",
    "gimp-data": "GPL-3+, CC-BY-SA-3.0, CC-BY-SA-4.0, CC0-1.0",
    # test-only packages
    "lomiri-wallpapers-16.04": "CC-BY-SA-3.0, CC-BY-SA-4.0, CC-BY-4.0, CC0-1.0",
    "lomiri-wallpapers-20.04": "CC-BY-SA-3.0, CC-BY-SA-4.0, CC-BY-4.0, CC0-1.0",
    "wesnoth-1.16-data": "GPL-2+",
    "openarena-081-textures": "GPL-2+",
    "colobot-common-textures": "GPL-3+",
    "trigger-rally-data": "GPL-2+, CC-BY-3.0, CC-BY-SA-3.0, CC0",
}
# Packages used for the test set only (never trained or decided on).
TEST_PACKAGES = ("lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04", "wesnoth-1.16-data",
                 "openarena-081-textures", "colobot-common-textures", "trigger-rally-data")

# The test set: (class, package, glob on the path inside the package, how many pictures to draw).
TEST = [
    ("nature & landscape", "lomiri-wallpapers-16.04", "*/seeding_by_*", 1),
    ("nature & landscape", "lomiri-wallpapers-16.04", "*/Dragonfly_by_*", 1),
    ("nature & landscape", "lomiri-wallpapers-*", "*/aitzgorri_by_*", 1),
    ("nature & landscape", "lomiri-wallpapers-*", "*/picosdeeuropa_by_*", 1),
    ("nature & landscape", "lomiri-wallpapers-*", "*/sunset_by_*", 1),
    ("nature & landscape", "lomiri-wallpapers-*", "*/life_by_*", 1),
    ("animals", "lomiri-wallpapers-*", "*/friends_by_*", 1),
    ("animals", "lomiri-wallpapers-*", "*/free_by_*", 1),
    ("animals", "lomiri-wallpapers-*", "*/Kleiber_by_*", 1),
    ("objects & interiors", "lomiri-wallpapers-*", "*/Picture_1A_by_*", 1),
    ("objects & interiors", "lomiri-wallpapers-*", "*/Wine_by_*", 1),
    ("objects & interiors", "lomiri-wallpapers-*", "*/Picture_0B_by_*", 1),
    ("architecture & repetition", "lomiri-wallpapers-*", "*/Bridge_by_*", 1),
    ("architecture & repetition", "openarena-081-textures", "textures/base_wall/*", 2),
    ("architecture & repetition", "openarena-081-textures", "textures/gothic_block/*", 2),
    ("faces & hair (painted)", "wesnoth-1.16-data", "*/portraits/humans/*", 5),
    ("material textures", "colobot-common-textures", "*/textures/*", 4),
    ("material textures", "trigger-rally-data", "textures/*", 3),
    ("planetary & sky", "stellarium-data", "*/textures/moon_4k.jpg", 1),
    ("planetary & sky", "stellarium-data", "*/textures/earth_cmap.png", 1),
    ("planetary & sky", "stellarium-data", "*/textures/milkyway.png", 1),
    ("scanned art & print", "stellarium-data", "*/skycultures/greek_leidenAratea/*", 3),
    ("scanned art & print", "stellarium-data", "*/Tafel_*", 2),
]
# Validation: the five photographs held out since the first Debian fine-tune, and more pictures of
# the training packages (never trained on).
VALIDATION = [
    ("photographs", "mate-backgrounds", "*/nature/LadyBird.jpg", 1),
    ("photographs", "mate-backgrounds", "*/nature/Storm.jpg", 1),
    ("photographs", "palapeli-data", "*/citrus-fruits.jpg", 1),
    ("photographs", "plasma-workspace-wallpapers", "*/Path/contents/images/*", 1),
    ("photographs", "plasma-workspace-wallpapers", "*/ColorfulCups/contents/images/*", 1),
    ("material textures", "supertuxkart-data", "*/textures/*", 4),
    ("material textures", "nexuiz-textures", "textures/*", 4),
    ("material textures", "ufoai-textures", "*", 2),
    ("planetary & sky", "stellarium-data", "*/nebulae/default/*", 3),
    ("scanned art & print", "stellarium-data", "*/skycultures/arabic_al-sufi/*", 2),
]
# Stellarium picture groups kept out of training (the test's and validation's, by folder).
STELLARIUM_HELD = ("*/skycultures/greek_leidenAratea/*", "*/skycultures/arabic_al-sufi/*", "*/Tafel_*",
                   "*/textures/moon_4k.jpg", "*/textures/earth_cmap.png", "*/textures/milkyway.png")
# Maps that are not pictures (game engines' normal, gloss, height ... maps) and tool screenshots.
NOT_PICTURES = re.compile(r"(_norm|normal|_gloss|_spec|_bump|_glow|_height|_local|_nm\b|_n\.|_s\.|_h\.|_g\.|"
                          r"_shirt|_pants|_reflect|mask|_alpha|_lum|_disp|_ao\b|_dontuse|/doc/|/icons?/|"
                          r"/ui/|/gui/|/fonts?/|splash|logo|screenshot|/lightmaps?/|minimap|/effect\d|comp3text)", re.I)


@dataclass
class Picture:
    """One source picture that passed the filters: where it is and how to read it again."""

    package: str
    version: str
    path: str          # inside the package, or inside one of its .pk3/.zip archives
    read: Callable[[], bytes]
    pixels: int

    @property
    def image(self) -> Image.Image:
        """The decoded picture (read again each time: thousands do not fit in memory at once)."""
        return _open(self.read())


def _open(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:   # not a picture Pillow decodes (some .tga variants): left out
        return None
    return image


def _size(read: Callable[[], bytes]) -> tuple[int, int]:
    """A picture's size from its header, without decoding it ((0, 0) when unreadable)."""
    try:
        return Image.open(io.BytesIO(read())).size
    except Exception:
        return (0, 0)


def extract(package: str, debs: Path) -> tuple[str, Path]:
    """Download (once) and unpack ``package`` into ``debs``; returns its version and root folder."""
    root = debs / package
    if not any(debs.glob(f"{package}_*.deb")):
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True, capture_output=True)
    deb = next(debs.glob(f"{package}_*.deb"))
    if not root.is_dir():
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return deb.name.split("_")[1].replace("%3a", ":"), root


def _member(archive: Path, name: str) -> bytes:
    with zipfile.ZipFile(archive) as z:
        return z.read(name)


def candidates(package: str, root: Path) -> list[tuple[str, Callable[[], bytes]]]:
    """(path, reader) of every file that may be a picture, in a stable order; .pk3/.zip archives
    (game data) are read member by member."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.suffix.lower() in EXTENSIONS:
            out.append((rel, p.read_bytes))
        elif p.suffix.lower() in (".pk3", ".zip"):
            with zipfile.ZipFile(p) as z:
                for m in sorted(z.namelist()):
                    if m.lower().endswith(EXTENSIONS):
                        out.append((m, lambda p=p, m=m: _member(p, m)))
    return out


def usable(path: str, image: Image.Image, min_side: int = CROP) -> bool:
    """Whether a decoded file is a picture to use (see the module's filters; portraits may be
    transparent around the figure: they are composited on a grey)."""
    if NOT_PICTURES.search(path) or min(image.size) < min_side:
        return False
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
    if (rgba[..., 3] < 0.5).mean() > 0.10 and "/portraits/" not in path:
        return False
    rgb = rgba[..., :3]
    mean = rgb.reshape(-1, 3).mean(0)
    if mean[2] > 0.65 and abs(mean[0] - 0.5) < 0.12 and abs(mean[1] - 0.5) < 0.12:   # a normal map
        return False
    return float((rgb @ np.array([0.2125, 0.7154, 0.0721])).std()) >= 0.05


def flatten(image: Image.Image, name: str) -> np.ndarray:
    """RGB uint8 pixels, transparent parts composited on a grey chosen by the name's CRC-32."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
    grey = 40 + zlib.crc32(name.encode()) % 176
    a = rgba[..., 3:] / 255
    return np.round(rgba[..., :3] * a + grey * (1 - a)).astype(np.uint8)


def reduce(image: Image.Image, side: int) -> Image.Image:
    """``image`` with its long side at most ``side`` (area averaging)."""
    scale = min(1.0, side / max(image.size))
    if scale < 1:
        image = image.resize((max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale))), Image.BOX)
    return image


def crops(image: Image.Image, name: str, n: int = 2) -> list[tuple[int, int]]:
    """``n`` non-overlapping, fully opaque 256x256 crop corners of ``image``, drawn (seeded by the
    name) among the positions of at least median detail."""
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255
    lum = rgba[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    h, w = lum.shape
    stride = 32
    opaque = "/portraits/" in name or rgba[..., 3].min() > 0.98   # a portrait's figure is composited
    pos = [(y, x) for y in range(0, h - CROP + 1, stride) for x in range(0, w - CROP + 1, stride)
           if opaque or rgba[y:y + CROP, x:x + CROP, 3].min() > 0.98]
    if not pos:
        return []
    detail = np.array([lum[y:y + CROP, x:x + CROP].std() for y, x in pos])
    pool = [p for p, d in zip(pos, detail) if d >= np.median(detail)]
    rng = np.random.default_rng([SEED, zlib.crc32(name.encode())])
    picked: list[tuple[int, int]] = []
    for i in rng.permutation(len(pool)):
        y, x = pool[i]
        if all(abs(y - py) >= CROP or abs(x - px) >= CROP for py, px in picked):
            picked.append((y, x))
        if len(picked) == n:
            break
    return picked


def _draw(rule: tuple, pictures: dict, used: set) -> list[tuple[str, str]]:
    """The pictures one selection rule draws: (package, path) pairs, seeded by the rule."""
    cls, pkg_glob, path_glob, count = rule
    pool = [(pkg, path) for (pkg, path) in pictures if fnmatch.fnmatch(pkg, pkg_glob)
            and fnmatch.fnmatch(path, path_glob) and (pkg, path) not in used]
    # Several sizes of one wallpaper: the largest stands for it.
    rng = np.random.default_rng([SEED, zlib.crc32(f"{pkg_glob}|{path_glob}".encode())])
    if pool and "/contents/images/" in path_glob:
        pool = [max(pool, key=lambda k: pictures[k].pixels)]
    return [pool[i] for i in sorted(rng.permutation(len(pool))[:count])]


def build(out: Path, train_side: int = 512) -> list[dict]:
    """Download the packages and write ``out/{train,validation,test}`` and ``out/manifest.csv``;
    returns the manifest rows."""
    debs = out / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    pictures: dict[tuple[str, str], Picture] = {}
    for package in LICENCES:
        version, root = extract(package, debs)
        cache = debs / f"{package}.usable.json"   # the scan decodes thousands of files: once
        found = json.loads(cache.read_text()) if cache.is_file() else None
        kept = {}
        for path, read in candidates(package, root):
            if found is not None:
                if path in found and not NOT_PICTURES.search(path):
                    kept[path] = Picture(package, version, path, read, found[path])
                continue
            if NOT_PICTURES.search(path) or min(_size(read)) < CROP:   # cheap checks before decoding
                continue
            image = _open(read())
            if image is not None and usable(path, image):
                kept[path] = Picture(package, version, path, read, image.size[0] * image.size[1])
        cache.write_text(json.dumps({path: pic.pixels for path, pic in kept.items()}))
        pictures.update({(package, path): pic for path, pic in kept.items()})
    rows: list[dict] = []
    used: set[tuple[str, str]] = set()
    for split, rules in (("test", TEST), ("validation", VALIDATION)):
        for rule in rules:
            for key in _draw(rule, pictures, used):
                used.add(key)
                pic = pictures[key]
                image = reduce(pic.image, 1024)
                name = f"{pic.package}:{pic.path}"
                rgb = flatten(image, name)
                gray = np.asarray(image.convert("RGB")).std(axis=2).max() == 0
                for k, (y, x) in enumerate(crops(image, name)):
                    mode = "gray" if (k == 0 or gray) else "colour"
                    crop = rgb[y:y + CROP, x:x + CROP]
                    if mode == "gray":
                        crop = np.round(crop.astype(np.float32) @ np.array([0.2125, 0.7154, 0.0721])).astype(np.uint8)
                    file = f"{split}/{len([r for r in rows if r['split'] == split]):03d}_{mode}.png"
                    (out / split).mkdir(parents=True, exist_ok=True)
                    Image.fromarray(crop).save(out / file)
                    rows.append({"split": split, "file": file, "class": rule[0], "package": pic.package,
                                 "version": pic.version, "path": pic.path, "licence": LICENCES[pic.package],
                                 "y": y, "x": x, "mode": mode,
                                 "sha256": hashlib.sha256(crop.tobytes()).hexdigest()})
    held = set(used)
    by_package: dict[str, list[tuple[str, str]]] = {}
    for key in pictures:
        pkg, path = key
        if key in held or pkg in TEST_PACKAGES:
            continue
        if pkg == "stellarium-data" and any(fnmatch.fnmatch(path, g) for g in STELLARIUM_HELD):
            continue
        by_package.setdefault(pkg, []).append(key)
    (out / "train").mkdir(parents=True, exist_ok=True)
    for pkg, keys in by_package.items():
        rng = np.random.default_rng([SEED, zlib.crc32(pkg.encode())])
        for i in sorted(rng.permutation(len(keys))[:PER_PACKAGE_CAP]):
            pic = pictures[keys[i]]
            name = f"{pic.package}:{pic.path}"
            image = Image.fromarray(flatten(reduce(pic.image, train_side), name))
            file = f"train/{pkg}-{zlib.crc32(pic.path.encode()):08x}.png"
            image.save(out / file)
            rows.append({"split": "train", "file": file, "class": "", "package": pkg, "version": pic.version,
                         "path": pic.path, "licence": LICENCES[pkg], "y": "", "x": "", "mode": "rgb",
                         "sha256": ""})
    with (out / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return rows


def check_frozen(rows: list[dict], frozen: Path = FROZEN) -> list[str]:
    """Differences between the test crops just built and the committed frozen list (empty: same)."""
    built = {r["file"]: r for r in rows if r["split"] == "test"}
    with frozen.open() as f:
        want = {r["file"]: r for r in csv.DictReader(f)}
    diff = [f"{k}: missing" for k in want if k not in built]
    diff += [f"{k}: not in the frozen set" for k in built if k not in want]
    diff += [f"{k}: {built[k]['path']} differs" for k in want if k in built and built[k]["sha256"] != want[k]["sha256"]]
    return diff


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--train-side", type=int, default=512)
    p.add_argument("--freeze", action="store_true", help="write benchmarks/test_set.csv (once, before any decision)")
    args = p.parse_args()
    rows = build(args.out, args.train_side)
    tests = [r for r in rows if r["split"] == "test"]
    if args.freeze:
        with FROZEN.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(tests[0]))
            w.writeheader()
            w.writerows(tests)
    elif diff := check_frozen(rows):
        raise SystemExit(f"the test set differs from {FROZEN.relative_to(ROOT)}: " + "; ".join(diff[:5]))
    for split in ("train", "validation", "test"):
        picked = [r for r in rows if r["split"] == split]
        print(f"{split}: {len(picked)} files from {len({(r['package'], r['path']) for r in picked})} pictures, "
              f"{len({r['package'] for r in picked})} packages")


if __name__ == "__main__":
    main()
