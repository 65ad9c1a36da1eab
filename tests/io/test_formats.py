"""The one format table: discovery and Item.open both go through it, and item.py imports no
reader (the readers import Item)."""

import ast
from pathlib import Path

import numpy as np
import pytest

import restoration.io as io
from restoration.io import Item, discover
from restoration.io.formats import FORMATS, SUFFIXES, format_named, format_of

IO = Path(io.__file__).parent


def test_every_suffix_belongs_to_one_format_and_is_exported():
    suffixes = [s for f in FORMATS for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes)) and all(s == s.lower() for s in suffixes)
    assert io.SUFFIXES == SUFFIXES == {s: f.name for f in FORMATS for s in f.suffixes}
    assert {f.name for f in FORMATS} == {"npy", "tiff", "png", "jpeg", "zarr", "bioio"}
    assert format_of("A.TIFF").name == "tiff" and format_of("notes.txt") is None


def test_unknown_format_name():
    with pytest.raises(ValueError, match="unknown format 'gif'"):
        format_named("gif")
    item = Item(name="x", source="x.gif", array_path=None, format="gif", shape=(4, 4),
                dtype=np.dtype("uint8"), axes="yx")
    with pytest.raises(ValueError, match="unknown format"):
        item.open()


def test_item_opens_through_its_row(tmp_path, ramp):
    np.save(tmp_path / "a.npy", ramp((6, 7), "float32"))
    (item,) = discover([str(tmp_path / "a.npy")])
    assert format_named(item.format).open is format_named("npy").open
    np.testing.assert_array_equal(item.open(), np.load(tmp_path / "a.npy"))


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at module level or inside functions, relative ones dotted."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_item_module_imports_no_reader():
    readers = {"." + p.stem for p in IO.glob("*.py")} - {".item", ".formats", ".__init__"}
    assert not _imports(IO / "item.py") & readers
    assert _imports(IO / "item.py") & {".formats"}  # looked up when an item is opened
    assert not hasattr(io.item, "FORMATS")
