"""heap_kept: freed blocks stay resident inside the block and go back to the OS after it."""

from __future__ import annotations

import os

import numpy as np
import pytest

from restoration.diffusion.cpu_heap import heap_kept, worker_environment

MB = 2**20


def resident() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def churn(nbytes: int) -> None:
    block = np.ones(nbytes, dtype=np.uint8)   # touched: every page resident
    del block


def test_freed_memory_is_kept_inside_the_block_and_returned_after(monkeypatch):
    monkeypatch.delenv("RESTORATION_MALLOC", raising=False)
    with heap_kept() as kept:
        if not kept:
            pytest.skip("needs glibc")
        before = resident()
        churn(200 * MB)
        assert resident() - before > 150 * MB        # freed, yet still in the heap for reuse
        with heap_kept():                             # nested blocks: only the outer one restores
            pass
        churn(200 * MB)
        assert resident() - before > 150 * MB
    assert resident() - before < 50 * MB              # handed back on leaving
    churn(200 * MB)                                   # outside: mapped and unmapped as usual
    assert resident() - before < 50 * MB


def test_opting_out(monkeypatch):
    monkeypatch.setenv("RESTORATION_MALLOC", "system")
    with heap_kept() as kept:
        assert kept is False
    assert worker_environment() == {}
    with heap_kept(enabled=False) as kept:
        assert kept is False
