"""Photographs from Debian packages for training and validating the shipped model.

The photographs come from three Debian 12 packages (all GPL-2+ per their ``debian/copyright``,
which allows redistributing and modifying them): ``mate-backgrounds`` (``nature/``),
``palapeli-data`` (the puzzle collection) and ``plasma-workspace-wallpapers`` (the photographs
among the wallpapers; the rendered ones are left out). Each is written as an 8-bit PNG with its
long side reduced to at most ``--max-side`` pixels (area averaging, which also averages out the
JPEG artefacts of the originals) into ``OUT/train`` or ``OUT/held_out``.

Usage (needs ``apt-get download`` and ``dpkg-deb``, i.e. a Debian machine; nothing is installed)::

    python data/debian_photos.py -o train/photos

``OUT/held_out`` is this project's own validation set from the new sources: never train on it.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

PACKAGES = {
    "mate-backgrounds": ("usr/share/backgrounds/mate/nature", "GPL-2+"),
    "palapeli-data": ("usr/share/palapeli/collection", "GPL-2+"),
    "plasma-workspace-wallpapers": ("usr/share/wallpapers", "GPL-2+"),
}
# The plasma wallpapers that are photographs (the others are renderings with smooth gradients).
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "EveningGlow", "FallenLeaf", "Grey", "Kite",
                 "OneStandsOut", "Path")
HELD_OUT = ("mate-backgrounds:LadyBird", "mate-backgrounds:Storm", "palapeli-data:citrus-fruits",
            "plasma-workspace-wallpapers:Path", "plasma-workspace-wallpapers:ColorfulCups")


def _photos(package: str, root: Path) -> dict[str, Path]:
    """Name -> largest file of each photograph in an extracted package."""
    folder = root / PACKAGES[package][0]
    if package != "plasma-workspace-wallpapers":
        return {p.stem: p for p in sorted(folder.glob("*.jpg"))}
    out = {}
    for name in PLASMA_PHOTOS:
        files = sorted((folder / name / "contents" / "images").iterdir())
        out[name] = max(files, key=lambda p: Image.open(p).size[0] * Image.open(p).size[1])
    return out


def write_photos(out: Path, max_side: int = 1024) -> list[dict]:
    """Download, extract and write every photograph; returns one row per image (for the model card)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(["apt-get", "download", *PACKAGES], cwd=tmp, check=True, capture_output=True)
        for package in PACKAGES:
            deb = next(tmp.glob(f"{package}_*.deb"))
            root = tmp / package
            subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
            version = deb.name.split("_")[1].replace("%3a", ":")
            for name, path in _photos(package, root).items():
                image = Image.open(path).convert("RGB")
                scale = min(1.0, max_side / max(image.size))
                if scale < 1:
                    image = image.resize((round(image.size[0] * scale), round(image.size[1] * scale)), Image.BOX)
                split = "held_out" if f"{package}:{name}" in HELD_OUT else "train"
                target = out / split / f"{package}-{name}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                image.save(target)
                rows.append({"file": str(target.relative_to(out)), "package": f"{package} {version}",
                             "source": str(path.relative_to(root)), "licence": PACKAGES[package][1],
                             "pixels": int(np.prod(image.size))})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--max-side", type=int, default=1024)
    args = p.parse_args()
    rows = write_photos(args.out, args.max_side)
    for r in rows:
        print(f"{r['file']}\t{r['package']}\t{r['source']}\t{r['licence']}\t{r['pixels']}")
    for split in ("train", "held_out"):
        picked = [r for r in rows if r["file"].startswith(split)]
        print(f"{split}: {len(picked)} photographs, {sum(r['pixels'] for r in picked) / 1e6:.1f} Mpx")


if __name__ == "__main__":
    main()
