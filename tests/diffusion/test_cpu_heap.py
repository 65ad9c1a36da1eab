"""heap_kept: freed blocks stay resident for the next pass, and a large pass's go back to the OS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from restoration.diffusion.cpu_heap import heap_kept, worker_environment

# malloc's state is per process: measured in a fresh one, free of what other tests left in the heap.
SCRIPT = """
import os, numpy as np
from restoration.diffusion.cpu_heap import heap_kept
MB = 2**20
def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // MB
def churn(mb):
    block = np.ones(mb * MB, dtype=np.uint8)   # touched: every page resident
    del block
base = resident()
churn(300)
print(resident() - base)                      # outside a block: unmapped on free
with heap_kept() as kept:
    print(int(kept))
    churn(300)
    print(resident() - base)                  # freed, yet kept in the heap
print(resident() - base)                      # under KEEP_FREE: kept for the next pass
with heap_kept():
    with heap_kept():                         # nested: only the outer block restores
        pass
    churn(900)
    print(resident() - base)
print(resident() - base)                      # over KEEP_FREE: handed back
"""


def run(env: dict | None = None) -> list[int]:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, env=env)
    return [int(v) for v in out.stdout.split()]


def test_small_passes_keep_their_pages_and_large_ones_hand_them_back():
    outside, kept, inside, after, inside_large, after_large = run()
    if not kept:
        pytest.skip("needs glibc")
    assert outside < 50
    assert inside > 250 and after > 250
    assert inside_large > 850
    assert after_large < 50


def test_opting_out(monkeypatch):
    import os

    _, kept, inside, _, _, after_large = run({**os.environ, "RESTORATION_MALLOC": "system"})
    assert kept == 0 and inside < 50 and after_large < 50
    monkeypatch.setenv("RESTORATION_MALLOC", "system")
    assert worker_environment() == {}
    with heap_kept(enabled=True) as on, heap_kept(enabled=False) as off:
        assert on is False and off is False


def test_a_worker_thread_without_one_arena_is_warned_about(monkeypatch, caplog):
    import threading

    from restoration.diffusion import cpu_heap

    monkeypatch.delenv("RESTORATION_MALLOC", raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    monkeypatch.setenv("MALLOC_ARENA_MAX", "1")

    def block() -> None:
        with heap_kept():
            pass

    def pass_in_thread() -> None:
        cpu_heap._warn_thread_arena.cache_clear()
        thread = threading.Thread(target=block)
        thread.start()
        thread.join()

    with heap_kept() as kept:
        if not kept:
            pytest.skip("needs glibc")
    cpu_heap._warn_thread_arena.cache_clear()
    with heap_kept():                  # the main thread: never warned
        pass
    pass_in_thread()                   # a thread, the process started with one arena
    assert "MALLOC_ARENA_MAX" not in caplog.text
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    pass_in_thread()
    assert "start Dask workers with MALLOC_ARENA_MAX=1" in caplog.text
