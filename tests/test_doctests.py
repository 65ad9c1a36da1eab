"""The ``Examples`` in the docstrings run and print what they show.

Every module of the package and of the flows whose source contains ``>>>`` is collected, so a new
example is tested as soon as it is written.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"restoration": ROOT / "restoration", "restoration_flows": ROOT / "flows" / "restoration_flows"}


def _modules_with_examples() -> list[str]:
    names = []
    for package, base in PACKAGES.items():
        for path in sorted(base.rglob("*.py")):
            if ">>>" not in path.read_text(encoding="utf-8"):
                continue
            parts = path.relative_to(base).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join((package, *parts)))
    return names


MODULES = _modules_with_examples()


def test_examples_are_found():
    assert "restoration.api" in MODULES and "restoration.diffusion.schedule" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    source = Path(module.__file__).read_text(encoding="utf-8")
    written = sum(line.lstrip().startswith(">>>") for line in source.splitlines())
    collected = sum(len(t.examples) for t in doctest.DocTestFinder().find(module))
    # An example doctest never sees (a nested function's docstring, a comment) would never run.
    assert collected == written, f"{name}: {written} '>>>' lines in the source, {collected} examples collected"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.attempted > 0, f"{name}: '>>>' in the source but no example collected"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (output above)"
