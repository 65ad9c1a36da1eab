"""Helpers shared by the hostile-input tests: inputs, snapshots and what a run printed or marked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import zarr

NLM = ["--denoiser", "nlm"]  # a fast denoiser, for tests where which one does not matter

#: A plugin module (for the ``plugin_site`` fixture): the denoiser ``nan-when-wide`` fails every
#: plane wider than 40 px at the denoise stage, after the item's output arrays exist.
NAN_DENOISER = """
    import numpy as np
    from restoration import Denoiser, hookimpl

    class NanWhenWide(Denoiser):
        '''Passes planes through, but returns NaN for planes wider than 40 px.'''
        name = "nan-when-wide"

        def denoise(self, obs, *, rng, **options):
            out = np.array(obs.data, dtype=np.float32)
            if out.shape[1] > 40:
                out[:] = np.nan
            return out

        def context(self, **options):
            return 0

    @hookimpl
    def restoration_denoisers():
        return [NanWhenWide()]
"""


def garbage(n: int = 4096, seed: int = 0) -> bytes:
    """``n`` random bytes: no valid file of any supported format."""
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def noisy(size: int = 32, seed: int = 0) -> np.ndarray:
    """A small float32 ramp with Gaussian noise of std 0.05."""
    rng = np.random.default_rng(seed)
    clean = np.tile(np.linspace(0.2, 0.8, size, dtype=np.float32), (size, 1))
    return (clean + rng.normal(0, 0.05, clean.shape)).astype(np.float32)


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (the inputs), by relative path."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def complete(out: Path, name: str) -> bool:
    """Whether OUTDIR ``out`` holds item ``name`` marked complete."""
    store = out / "restored.zarr"
    if not store.exists():
        return False
    group = zarr.open_group(str(store), mode="r")
    if name not in group:
        return False
    return group[name].attrs.get("restoration", {}).get("complete") is True


def err_lines(capsys) -> list[str]:
    """The non-empty stderr lines captured since the last call."""
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def failure_lines(lines: list[str]) -> list[str]:
    """The console's failure lines (the progress bar of good items shares stderr)."""
    return [line for line in lines if "failed" in line.lower() or "error" in line.lower()]
